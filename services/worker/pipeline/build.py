"""One run of a container's build: what the phases share, and how they report progress.

A `Build` holds the container's row, its node, the resolved request and template, and the
node's API client and SSH session. Phases call `emit` for progress, `checkpoint` when they are
done, and `check_cancel` between steps. Output lines go through a `LineSink`, which batches
them into events and masks the values scripts handed to `save_credential`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.node_time import Measurement
from shared.adapters.pct import Pct
from shared.adapters.proxmox import ProxmoxClient
from shared.adapters.proxmox.client import segment
from shared.adapters.ssh import NodeSsh
from shared.core.errors import DomainError
from shared.core.lifecycle import EventType, Lifecycle, Phase
from shared.core.logging import get_logger
from shared.db.engine import rows_matched
from shared.db.models import Container, Node
from shared.domain import events
from shared.domain.containers import ContainerService
from shared.domain.containers.base import build_marker
from shared.domain.containers.creation import BuildRequest, cancel_key
from shared.domain.containers.preflight import planned
from shared.domain.templates.service import TemplateService, bucket_packages
from shared.domain.templates.specs import PackageSpec, TemplateSpec, merge_packages

log = get_logger(__name__)

# The helper library's `save_credential` prints this, then the value in base64, so the
# pipeline learns which values to mask; the line itself never becomes an event.
MASK_MARKER = "__INFRAHAUS_MASK__:"
REDACTED = "[redacted]"
_LINE_MAX = 4000


class BuildFailed(DomainError):
    """A permanent failure: retrying the same thing would fail the same way."""


class BuildCancelled(DomainError):
    """The user asked to stop the build."""


class BuildBusy(DomainError):
    """Another run of this build holds its lock (a worker whose lease lapsed still works)."""


class BuildSuperseded(DomainError):
    """The row left `creating` under this run (another run ended the build): stop quietly."""


@dataclass
class BuildPlan:
    """The resolved build parameters: the request's values, else the template's, else ours."""

    os_template: str
    hostname: str
    cores: int
    memory: int
    swap: int
    disk_size: int
    storage: str
    bridge: str
    unprivileged: bool
    nesting: bool
    keyctl: bool
    fuse: bool
    tags: list[str]
    template: TemplateSpec | None
    packages: list[PackageSpec]


@dataclass
class Build:
    service: ContainerService
    container: Container
    node: Node
    request: BuildRequest
    client: ProxmoxClient
    ssh: NodeSsh | None = None
    plan: BuildPlan | None = None
    masks: set[str] = field(default_factory=set)
    phase: Phase = Phase.CREATING
    template_revision: int | None = None
    timing: Measurement | None = None  # this run's wall time and time waiting on the node
    writer: events.BatchWriter | None = None

    @property
    def session(self) -> AsyncSession:
        return self.service.session

    @property
    def lxc_path(self) -> str:
        return f"/nodes/{segment(self.node.name)}/lxc/{self.container.vmid}"

    @property
    def marker(self) -> str:
        return build_marker(self.container.id)

    def pct(self) -> Pct:
        assert self.ssh is not None, "phases run inside the build's SSH session"
        return Pct(self.ssh, self.container.vmid)

    # -- progress --------------------------------------------------------------------------

    async def emit(self, *drafts: events.EventDraft) -> None:
        """Hand events to the background writer: the build goes on while they are written."""
        assert self.writer is not None
        await self.writer.add([self._masked(draft) for draft in drafts])

    async def flush_events(self) -> None:
        """Wait until every event emitted so far is committed (before what must follow it)."""
        if self.writer is not None:
            await self.writer.flush()

    async def step(self, message: str, progress: float = 0.0, **metadata: Any) -> None:
        await self.emit(events.step(self.phase, message, progress, **metadata))

    async def log(self, message: str, **metadata: Any) -> None:
        await self.emit(events.log_line(message, phase=self.phase, **metadata))

    def _masked(self, draft: events.EventDraft) -> events.EventDraft:
        message = draft.message
        for secret in self.masks:
            message = message.replace(secret, REDACTED)
        if message is draft.message:
            return draft
        return events.EventDraft(
            type=draft.type,
            message=message,
            step=draft.step,
            percent=draft.percent,
            script_name=draft.script_name,
            script_index=draft.script_index,
            script_total=draft.script_total,
            metadata=draft.metadata,
        )

    def lines(self, **script: Any) -> LineSink:
        return LineSink(self, script)

    # -- state -----------------------------------------------------------------------------

    async def vmids_changed(self) -> None:
        await self.service.vmids.invalidate(self.node.id)

    async def wait_unlocked(self, limit_seconds: float = 900.0) -> None:
        """Until the container's config carries no `lock` (a task of an earlier run ends)."""
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            config = await self.client.get(f"{self.lxc_path}/config")
            if not config.get("lock"):
                return
            await asyncio.sleep(1.0)
        raise BuildFailed(f"the container stayed locked for {limit_seconds:g} s")

    async def checkpoint(self, phase: Phase, message: str, **changes: Any) -> None:
        """Record `phase` as done (and any other column changes) together with its closing
        `step` event: one transaction, then the publish."""
        await self.flush_events()  # the phase's own events come first
        done = await self.session.execute(
            update(Container)
            .where(Container.id == self.container.id, Container.lifecycle == Lifecycle.CREATING)
            .values(last_completed_phase=phase.value, **changes)
        )
        if rows_matched(done) == 0:  # cancelled and ended, deleted, or another run finished it
            await self.session.rollback()
            raise BuildSuperseded("the container is no longer being built")
        staged = await events.stage(
            self.session, self.container.id, [self._masked(events.step(phase, message, 1.0))]
        )
        await self.session.commit()
        await events.publish(self.service.redis, self.container.id, staged)
        self.container.last_completed_phase = phase.value
        for name, value in changes.items():
            setattr(self.container, name, value)

    async def check_cancel(self, *, durable: bool = False) -> None:
        """Between steps: has the user cancelled? Redis answers (one cheap round trip); the
        database, which is the record, is asked at phase boundaries (`durable`), and whenever
        Redis cannot answer, so a cancel is never missed for longer than a phase."""
        if not durable:
            try:
                if await self.service.redis.exists(cancel_key(self.container.id)):
                    raise BuildCancelled("the build was cancelled on request")
                return
            except BuildCancelled:
                raise
            except Exception:  # Redis away: ask the record
                log.warning("cancel flag unreadable in Redis; asking the database")
        wanted = await self.session.scalar(
            select(Container.cancel_requested).where(Container.id == self.container.id)
        )
        await self.session.commit()
        if wanted:
            raise BuildCancelled("the build was cancelled on request")

    async def resolve(self) -> BuildPlan:
        """The template as it is now, merged with the request."""
        request = self.request
        template: TemplateSpec | None = None
        if request.template_id is not None:
            detail = await TemplateService(self.session).get(request.template_id)
            template = detail.spec()
            self.template_revision = detail.template.revision
        extra = await bucket_packages(self.session, request.bucket_ids)
        await self.session.commit()
        packages = merge_packages(
            [p.spec() for p in request.packages], template.packages if template else (), extra
        )

        # the request's value, else the template's setting, else the default (defined once,
        # with the preflight that checks the same values)
        values = planned(template.settings if template is not None else None, request)
        self.plan = BuildPlan(
            os_template=request.os_template,
            hostname=self.container.hostname,
            cores=values.cores,
            memory=values.memory,
            swap=values.swap,
            disk_size=values.disk_size,
            storage=values.storage,
            bridge=values.bridge,
            unprivileged=values.unprivileged,
            nesting="nesting" in values.features,
            keyctl="keyctl" in values.features,
            fuse="fuse" in values.features,
            tags=values.tags,
            template=template,
            packages=packages,
        )
        return self.plan


class LineSink:
    """Output lines of a command → `log` events, in order. The background writer batches
    them (group commit), so a burst of lines costs a few transactions, not one each."""

    def __init__(self, build: Build, script: dict[str, Any]) -> None:
        self.build = build
        self.script = script
        self.tail: list[str] = []  # the last lines, for an error message

    async def __call__(self, line: str) -> None:
        if line.startswith(MASK_MARKER):
            self._learn_mask(line[len(MASK_MARKER) :])
            return
        line = events.printable(line)[:_LINE_MAX]
        if not line.strip():
            return
        self.tail = [*self.tail[-4:], line]
        await self.build.emit(
            events.EventDraft(
                type=EventType.LOG,
                step=self.build.phase,
                message=line,
                script_name=self.script.get("name"),
                script_index=self.script.get("index"),
                script_total=self.script.get("total"),
            )
        )

    def _learn_mask(self, encoded: str) -> None:
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return
        if len(value) >= 4:  # shorter values would mask ordinary words and digits
            self.build.masks.add(value)
            self.tail = [t.replace(value, REDACTED) for t in self.tail]

    def last_lines(self) -> str:
        text = " | ".join(line.strip() for line in self.tail if line.strip())
        for secret in self.build.masks:
            text = text.replace(secret, REDACTED)
        return text[-500:]
