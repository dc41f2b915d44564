"""How long a unit of work (a build) spent waiting on its Proxmox node.

The Proxmox client and the SSH helpers add the time of every call to the current measurement
(a context variable, so concurrent builds in one worker each get their own). A build reports
its wall time and this node time; the difference is what Infrahaus itself costs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_spent: ContextVar[list[float] | None] = ContextVar("node_time", default=None)


class Measurement:
    def __init__(self) -> None:
        self._cell = [0.0]
        self.started = time.perf_counter()

    @property
    def node_seconds(self) -> float:
        return self._cell[0]

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.started


@contextmanager
def measure() -> Iterator[Measurement]:
    measurement = Measurement()
    token = _spent.set(measurement._cell)
    try:
        yield measurement
    finally:
        _spent.reset(token)


_inside: ContextVar[bool] = ContextVar("on_node", default=False)


@contextmanager
def on_node() -> Iterator[None]:
    """Count the block as time spent waiting on the node (when something is measuring).

    Re-entrant: waiting for a task counts as a whole (the polls inside it and the pauses
    between them), and the polls do not count a second time."""
    cell = _spent.get()
    if cell is None or _inside.get():
        yield
        return
    token = _inside.set(True)
    started = time.perf_counter()
    try:
        yield
    finally:
        cell[0] += time.perf_counter() - started
        _inside.reset(token)


def discount(seconds: float) -> None:
    """Take back time counted by an enclosing `on_node` that was spent on our side (handling
    a streamed command's output while the command ran)."""
    cell = _spent.get()
    if cell is not None:
        cell[0] -= seconds
