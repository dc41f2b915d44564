"""Following a build: the SSE stream read to its end, resumed after a drop, shown three ways.

`Stream.events()` yields every event once, in `seq` order: after a dropped connection (or a
stream that ends without a terminal event) it reconnects with `Last-Event-ID: <last seq>` and
skips anything it has already seen. It stops after `complete` or `error`, or on a 204 (the last
event was already the terminal one).
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.text import Text

from services.cli.api import Api, ApiError, CliError

# the pipeline's phases and their share of the 0-100 scale (docs/pipeline.md)
PHASES: list[tuple[str, int, int]] = [
    ("creating", 0, 20),
    ("starting", 20, 35),
    ("deploying", 35, 60),
    ("syncing", 60, 90),
    ("finalizing", 90, 100),
]
TERMINAL = ("complete", "error")
MAX_RECONNECTS = 20  # in a row, without an event in between


class Stream:
    def __init__(
        self,
        api: Api,
        container_id: str,
        *,
        after: int = 0,
        on_reconnect: Callable[[str, int], None] | None = None,
    ) -> None:
        self.api = api
        self.url = f"/api/containers/{container_id}/events/stream"
        self.last = after
        self.terminal: dict[str, Any] | None = None
        self.reconnects = 0
        self._on_reconnect = on_reconnect or (lambda reason, last: None)

    def events(self) -> Iterator[dict[str, Any]]:
        failures = 0
        while self.terminal is None:
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if self.last:
                headers["Last-Event-ID"] = str(self.last)
            reason = "the stream ended early"
            try:
                # no read timeout shorter than the server's 15 s pings allow
                with connect_sse(
                    self.api.http,
                    "GET",
                    self.url,
                    headers=headers,
                    timeout=httpx.Timeout(30, read=60),
                ) as source:
                    response = source.response
                    if response.status_code == 204:
                        return
                    if response.status_code >= 400:
                        response.read()
                        if response.status_code < 500:
                            raise ApiError(response)
                        raise _Retry(f"HTTP {response.status_code}")
                    for sse in source.iter_sse():
                        if not sse.data:  # the `retry:` hint
                            continue
                        event = json.loads(sse.data)
                        if event["seq"] <= self.last:
                            continue
                        self.last = event["seq"]
                        failures = 0
                        if event["type"] in TERMINAL:
                            self.terminal = event
                        yield event
                        if self.terminal is not None:
                            return
            except (httpx.TransportError, SSEError, _Retry) as exc:
                reason = str(exc) or type(exc).__name__
            failures += 1
            self.reconnects += 1
            if failures > MAX_RECONNECTS:
                raise CliError(
                    "Lost the event stream", f"{reason}; gave up after {failures} tries."
                )
            self._on_reconnect(reason, self.last)
            time.sleep(min(0.25 * 2 ** (failures - 1), 5.0))


class _Retry(Exception):
    pass


# --- renderers: one per output mode ---


class JsonLines:
    """--json: each event as one JSON object per line."""

    def __init__(self) -> None:
        pass

    def show(self, event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    def pause(self) -> None:
        pass

    def close(self) -> None:
        pass


class PlainLines:
    """Not a terminal: one line per event, no colours, no bars."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def show(self, event: dict[str, Any]) -> None:
        text = _plain(event)
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def pause(self) -> None:
        pass

    def close(self) -> None:
        pass


def _plain(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind == "log":
        script = event.get("scriptName")
        return f"  {script}: {event['message']}" if script else f"  {event['message']}"
    percent = event.get("percent")
    where = f"[{percent:>3}%] " if percent is not None else ""
    step = f"{event['step']}: " if event.get("step") else ""
    if kind == "complete":
        return f"{where}complete: {event['message']}"
    if kind == "error":
        return f"{where}error: {step}{event['message']}"
    return f"{where}{step}{event['message']}"


class ProgressBars:
    """A terminal: a bar per phase, and the current script's last output lines under them."""

    TAIL = 8

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[note]}", markup=False),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task(name, total=100, note="") for name, _, _ in PHASES
        }
        self.lines: deque[str] = deque(maxlen=self.TAIL)
        self.script: str | None = None
        self.live: Live | None = None

    def __rich__(self) -> RenderableType:
        parts: list[RenderableType] = [self.progress]
        if self.script or self.lines:
            if self.script:
                parts.append(Text(f"  {self.script}", style="bold"))
            parts.extend(
                Text(f"    {line}", style="dim", overflow="ellipsis", no_wrap=True)
                for line in self.lines
            )
        return Group(*parts)

    def _start(self) -> None:
        if self.live is None:
            self.live = Live(self, console=self.console, refresh_per_second=8, transient=False)
            self.live.start()

    def show(self, event: dict[str, Any]) -> None:
        self._start()
        kind, step, percent = event["type"], event.get("step"), event.get("percent")
        script = event.get("scriptName")
        if script:  # a script starts (its step event) or prints (its log lines)
            label = f"{script} ({event.get('scriptIndex')}/{event.get('scriptTotal')})"
            if label != self.script:
                self.script = label
                self.lines.clear()
                # a line that stays above the bars: which scripts ran, in order
                self.console.print(f"  running {label}", markup=False, highlight=False)
        if kind == "log":
            self.lines.append(event["message"])
            return
        if step in self.tasks:
            names = [name for name, _, _ in PHASES]
            for name in names[: names.index(step)]:
                self.progress.update(self.tasks[name], completed=100)
            if percent is not None:
                low, high = next((lo, hi) for n, lo, hi in PHASES if n == step)
                share = 100 * (percent - low) / (high - low)
                self.progress.update(self.tasks[step], completed=max(0.0, min(100.0, share)))
            note = event["message"] if kind != "error" else f"failed: {event['message']}"
            self.progress.update(self.tasks[step], note=note)
        if kind == "complete":
            for task in self.tasks.values():
                self.progress.update(task, completed=100)
            self.script, self.lines = None, deque(maxlen=self.TAIL)

    def pause(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def close(self) -> None:
        self.pause()
