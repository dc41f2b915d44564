"""Per-node fault injection, driven by the admin API and the CLI.

All random decisions come from one ``random.Random`` per node seeded from the simulator seed,
so a run with the same seed and the same request sequence fails the same requests.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class NodeFaults:
    """Faults active on one node; the defaults mean "healthy"."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    error_message: str = "simulated internal error"
    down: bool = False
    task_failure_rate: float = 0.0
    task_failure_types: list[str] = field(default_factory=list)
    task_error: str = "simulated task failure"
    task_slowdown: float = 1.0
    lock_contention: bool = False
    shutdown_hangs: bool = False
    # DHCP guests get their IPv4 this many seconds after start (0 = at once) ...
    dhcp_delay: float = 0.0
    # ... or never (no lease: /interfaces and `ip -4 a` show no IPv4 on eth0).
    dhcp_no_lease: bool = False


_FIELD_TYPES = {f.name: f.type for f in fields(NodeFaults)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES[name]
    if kind == "bool":
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "list[str]":
        if isinstance(value, str):
            return [item for item in value.replace(";", ",").split(",") if item]
        return [str(item) for item in value]
    return str(value)


class FaultRegistry:
    """Holds :class:`NodeFaults` per node plus the seeded random streams that drive them."""

    def __init__(self, nodes: list[str], seed: int | None):
        self._seed = seed
        self._nodes = nodes
        self.faults: dict[str, NodeFaults] = {}
        self._random: dict[str, random.Random] = {}
        self.reset()

    def reset(self, node: str | None = None) -> None:
        for name in [node] if node else self._nodes:
            self.faults[name] = NodeFaults()
            self._random[name] = random.Random(f"{self._seed}:{name}:faults")

    def get(self, node: str) -> NodeFaults:
        return self.faults[node]

    def update(self, node: str, changes: dict[str, Any]) -> NodeFaults:
        """Apply a partial update; unknown keys raise ``KeyError``."""
        current = asdict(self.faults[node])
        for key, value in changes.items():
            name = key.replace("-", "_")
            if name not in _FIELD_TYPES:
                raise KeyError(f"unknown fault setting {key!r}")
            current[name] = _coerce(name, value)
        self.faults[node] = NodeFaults(**current)
        return self.faults[node]

    def roll(self, node: str, probability: float) -> bool:
        """One seeded Bernoulli draw; no draw happens when the probability is zero."""
        if probability <= 0:
            return False
        return self._random[node].random() < probability

    def should_fail_request(self, node: str) -> bool:
        return self.roll(node, self.faults[node].error_rate)

    def task_failure(self, node: str, task_type: str) -> str | None:
        """The error text a task of ``task_type`` must end with, or None to succeed."""
        faults = self.faults[node]
        if faults.task_failure_types and task_type not in faults.task_failure_types:
            return None
        return faults.task_error if self.roll(node, faults.task_failure_rate) else None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(faults) for name, faults in self.faults.items()}


def parse_fault_option(option: str) -> tuple[str, dict[str, str]]:
    """Parse the CLI form ``NODE:key=value[,key=value...]``."""
    node, sep, rest = option.partition(":")
    if not sep or not node:
        raise ValueError(f"fault must look like NODE:key=value, got {option!r}")
    changes: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"fault setting must be key=value, got {part!r}")
        changes[key.strip()] = value.strip()
    return node, changes
