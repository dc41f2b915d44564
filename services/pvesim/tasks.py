"""UPID worker tasks and the per-VMID config flock, as ``RESTEnvironment::fork_worker`` and
``PVE::Tools::lock_file_full`` behave from a client's point of view."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from services.pvesim.errors import PveError

log = structlog.get_logger()

UPID_PATTERN = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
    r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$"
)


class Clock:
    """Wall clock with an adjustable offset so tests can let tickets expire without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


class TaskError(Exception):
    """Ends a task with ``TASK ERROR: <message>``."""


@dataclass
class Task:
    """One worker task; ``lines`` is the task log without the final status line until done."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    lines: list[str] = field(default_factory=list)
    exitstatus: str | None = None
    endtime: int | None = None
    runner: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self.exitstatus is None

    def log(self, line: str) -> None:
        self.lines.append(line)

    def status(self) -> dict:
        user, _, tokenid = self.user.partition("!")
        result = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": user,
            "status": "running" if self.running else "stopped",
        }
        if tokenid:
            result["tokenid"] = tokenid
        if not self.running:
            result["exitstatus"] = self.exitstatus
        return result

    def full_log(self) -> list[str]:
        if self.running:
            return list(self.lines)
        final = "TASK OK" if self.exitstatus == "OK" else f"TASK ERROR: {self.exitstatus}"
        return [*self.lines, final]


TaskBody = Callable[[Task], Awaitable[None]]


class TaskManager:
    """Starts tasks, keeps their logs, and lists them like ``/nodes/{node}/tasks``."""

    def __init__(self, clock: Clock, first_pid: int):
        self._clock = clock
        self._next_pid = first_pid
        self.tasks: dict[str, Task] = {}

    def start(self, node: str, task_type: str, task_id: str, user: str, body: TaskBody) -> Task:
        self._next_pid += 1
        now = int(self._clock.now())
        pstart = int(time.monotonic() * 100) & 0xFFFFFFFF
        upid = (
            f"UPID:{node}:{self._next_pid:08X}:{pstart:08X}:{now:08X}:{task_type}:{task_id}:{user}:"
        )
        task = Task(upid, node, self._next_pid, pstart, now, task_type, task_id, user)
        self.tasks[upid] = task
        task.runner = asyncio.create_task(self._run(task, body), name=upid)
        return task

    async def _run(self, task: Task, body: TaskBody) -> None:
        try:
            await body(task)
        except (TaskError, PveError) as exc:
            task.exitstatus = str(exc.args[0]).strip().replace("\n", " ")
        except asyncio.CancelledError:
            task.exitstatus = "received interrupt"
        except Exception as exc:
            log.exception("pvesim.task.crashed", upid=task.upid)
            task.exitstatus = f"internal simulator error: {exc}"
        else:
            task.exitstatus = "OK"
        task.endtime = int(self._clock.now())
        log.info("pvesim.task.finished", upid=task.upid, exitstatus=task.exitstatus)

    def get(self, node: str, upid: str) -> Task:
        if not UPID_PATTERN.match(upid):
            raise PveError(
                "Parameter verification failed.", 400, {"upid": "unable to parse worker upid"}
            )
        task = self.tasks.get(upid)
        if task is None or task.node != node:
            raise PveError("Parameter verification failed.", 400, {"upid": "no such task"})
        return task

    def running_for(self, node: str, vmid: int, task_type: str) -> list[Task]:
        return [
            t
            for t in self.tasks.values()
            if t.running and t.node == node and t.id == str(vmid) and t.type == task_type
        ]

    async def wait_all(self) -> None:
        runners = [t.runner for t in self.tasks.values() if t.runner and not t.runner.done()]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)


class FlockTable:
    """Per-node, per-VMID exclusive locks standing in for ``/run/lock/lxc/pve-config-N.lock``."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def acquire(self, node: str, vmid: int, wait_seconds: float, contended: bool) -> None:
        """Wait up to ``wait_seconds``; ``contended`` simulates a lock held by someone else."""
        lock = self._locks.setdefault((node, vmid), asyncio.Lock())
        try:
            if contended:
                await asyncio.sleep(wait_seconds)
                raise TimeoutError
            await asyncio.wait_for(lock.acquire(), wait_seconds)
        except TimeoutError:
            raise PveError(
                f"can't lock file '/run/lock/lxc/pve-config-{vmid}.lock' - got timeout"
            ) from None

    def release(self, node: str, vmid: int) -> None:
        lock = self._locks.get((node, vmid))
        if lock is not None and lock.locked():
            lock.release()
