"""Reconciliation with Proxmox reality: containers whose VMID no longer holds them.

A container deleted outside Infrahaus (or whose VMID now holds another guest: ours carry a
build marker in their description) is marked `missing`, with an event and an audit row, not
silently kept as `ready`; one that comes back (the same guest, marker and all) gets back the
lifecycle it had (`ready`, or `error` for a failed build whose guest was kept). Containers
being built or deleted are left alone (they are in flux), and so is a failed build that never
made a Proxmox container (nothing to miss; it can still be retried).

A guest migrated to another node of the cluster (the listing shows it there, and its config
there carries this record's marker) is not missing: the record follows it when the user has
registered a node of that name, and an event says where it is either way. A guest whose
marker line was removed from its description (the Notes, edited in the web UI) cannot be told
from a reused VMID (the record keeps no other identity: the MAC and the volume are PVE's), so
it is `missing` with a reason that says the marker is gone; `missing` never destroys anything
(a delete leaves a guest without our marker alone), and putting the line back restores it.

The configs are read 8 at a time, each within a per-call limit, and each verdict is saved as
it is reached: a sweep cut off by its budget has still saved what it found.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared.adapters.proxmox import (
    ProxmoxClient,
    ProxmoxError,
    ProxmoxNotFound,
    ProxmoxPermissionError,
    ProxmoxTimeout,
)
from shared.adapters.proxmox.client import segment
from shared.adapters.proxmox.resources import ClusterGuest, cluster_guests
from shared.core.lifecycle import EventType, Lifecycle, transition
from shared.core.logging import get_logger
from shared.db.engine import rows_matched
from shared.db.models import Container, ContainerEvent, Node
from shared.domain import audit, events
from shared.domain.containers.base import (
    ContainerServiceBase,
    build_marker,
    built_by_us,
    markers_in,
)

log = get_logger(__name__)

_WATCHED = (Lifecycle.READY, Lifecycle.ERROR, Lifecycle.MISSING)
# config reads in flight at once (as the unmanaged listing), and the limit of each
_PARALLEL_READS = 8
_CALL_SECONDS = 5.0

_Guests = dict[int, ClusterGuest]


@dataclass
class Drift:
    container_id: uuid.UUID
    vmid: int
    hostname: str
    reason: str


@dataclass
class ReconcileReport:
    node_id: uuid.UUID
    checked: int = 0
    missing: list[Drift] = field(default_factory=list)
    restored: list[Drift] = field(default_factory=list)
    migrated: list[Drift] = field(default_factory=list)


@dataclass(frozen=True)
class _Verdict:
    """Why the container is not on the node (None: it is, and it is ours), or the node of the
    cluster its guest was migrated to."""

    reason: str | None = None
    migrated_to: str | None = None


class RealityMixin(ContainerServiceBase):
    async def reconcile_node(
        self, node: Node, *, actor: uuid.UUID | None = None, budget_seconds: float | None = None
    ) -> ReconcileReport:
        """Compare the node's guests with our records and mark the drift (see the module).

        `actor`: who asked (the audit rows' user); None for the cron (the containers'
        creators). Proxmox errors propagate: nothing is marked from a node that did not
        answer. Out of budget: `ProxmoxTimeout`, with the verdicts reached so far saved."""
        rows = list(
            await self.session.scalars(
                select(Container)
                .where(Container.node_id == node.id, Container.lifecycle.in_(_WATCHED))
                .order_by(Container.vmid)
            )
        )
        await self.session.commit()  # no transaction held while the node is asked
        report = ReconcileReport(node_id=node.id, checked=len(rows))
        if not rows:
            return report
        budget = budget_seconds or self.settings.pve_interactive_timeout_seconds
        deadline = asyncio.get_running_loop().time() + budget
        saving = asyncio.Lock()  # one session: the verdicts are saved one at a time
        bound = asyncio.Semaphore(_PARALLEL_READS)
        failures: list[ProxmoxError] = []

        async def check(client: ProxmoxClient, guests: _Guests, container: Container) -> bool:
            if failures:
                return False
            try:
                async with bound:
                    if failures:
                        return False
                    verdict = await self._verdict(client, node, guests, container, deadline)
            except TimeoutError:
                return False
            except ProxmoxError as exc:
                failures.append(exc)
                return False
            if verdict is not None:
                async with saving:
                    await self._apply(container, verdict, node, actor, report)
            return True

        try:
            async with self.nodes.client(node) as client:
                async with asyncio.timeout_at(deadline):
                    guests = await cluster_guests(client)
                done = await asyncio.gather(*(check(client, guests, row) for row in rows))
        except TimeoutError:
            raise ProxmoxTimeout(f"node {node.name!r} did not answer within {budget:g} s") from None
        if failures:
            raise failures[0]
        if not all(done):
            unchecked = len(done) - sum(done)
            raise ProxmoxTimeout(
                f"node {node.name!r} did not answer within {budget:g} s: {unchecked} of"
                f" {len(done)} containers were not checked (what was found is saved)"
            )
        return report

    async def _apply(
        self, container: Container, verdict: _Verdict, node: Node, actor: uuid.UUID | None,
        report: ReconcileReport,
    ) -> None:  # fmt: skip
        observed = Lifecycle(container.lifecycle)
        if verdict.migrated_to is not None:
            await self._follow(container, observed, verdict.migrated_to, node, actor, report)
            return
        reason = verdict.reason
        if reason is None and observed == Lifecycle.MISSING:
            wanted = await self._before_missing(container)
            message = "its guest is back on the node"
        elif reason is not None and observed != Lifecycle.MISSING:
            if (
                observed == Lifecycle.ERROR
                and container.build_request is not None
                and container.last_completed_phase is None
            ):
                return  # a failed build that made no Proxmox container
            wanted, message = Lifecycle.MISSING, reason
        else:
            return
        if await self._mark(container, observed, wanted, message, node, actor):
            drift = Drift(container.id, container.vmid, container.hostname, message)
            (report.missing if wanted == Lifecycle.MISSING else report.restored).append(drift)

    async def _before_missing(self, container: Container) -> Lifecycle:
        """The lifecycle the container had when it went missing: the latest reconciliation
        event that made it `missing` says; failing that (pruned), a recorded failure means
        `error`."""
        previous = await self.session.scalar(
            select(ContainerEvent.metadata_["previous"].astext)
            .where(
                ContainerEvent.container_id == container.id,
                ContainerEvent.metadata_.contains(
                    {"action": "reconcile", "lifecycle": Lifecycle.MISSING.value}
                ),
            )
            .order_by(ContainerEvent.seq.desc())
            .limit(1)
        )
        await self.session.commit()
        if previous in (Lifecycle.READY.value, Lifecycle.ERROR.value):
            return Lifecycle(previous)
        failed = container.failed_phase is not None or container.failure_reason is not None
        return Lifecycle.ERROR if failed else Lifecycle.READY

    async def _verdict(
        self, client: ProxmoxClient, node: Node, guests: _Guests, container: Container,
        deadline: float,
    ) -> _Verdict | None:  # fmt: skip
        """What the node says of the container; None when it may not be read (the token
        lacks the right): unknown is not missing."""
        guest = guests.get(container.vmid)
        where = f"VMID {container.vmid} on {node.name}"
        if guest is not None and guest.type != "lxc":
            return _Verdict(
                f"VMID {container.vmid} now holds another guest ({guest.type} on {guest.node})"
            )
        elsewhere = guest is not None and guest.node != node.name
        # also when the listing lacks it: the listing only shows what the token may see
        on = guest.node if guest is not None and elsewhere else node.name
        try:
            config = await self._read(
                client, f"/nodes/{segment(on)}/lxc/{container.vmid}/config", deadline
            )
        except ProxmoxNotFound:
            if elsewhere:  # gone between the listing and the read: the next sweep sees
                return None
            return _Verdict(f"{where} no longer exists (deleted outside Infrahaus)")
        except ProxmoxPermissionError:
            log.warning(
                "reconciliation cannot see a container; left as it is",
                container_id=str(container.id), vmid=container.vmid, node=on,
            )  # fmt: skip
            return None
        config = config if isinstance(config, dict) else None
        if built_by_us(config, container.id):
            return _Verdict(migrated_to=on) if elsewhere else _Verdict()
        held = f"VMID {container.vmid} on {on}" if elsewhere else where
        if markers_in(config):
            return _Verdict(
                f"{held} holds another container built by Infrahaus for another record"
                " (VMID reused)"
            )
        name = str((config or {}).get("hostname") or "")
        if name == container.hostname:
            return _Verdict(
                f"{held} holds a container named {name} like this one, but the build marker is"
                " gone from its description (Notes edited?): it cannot be told from another"
                f" guest. Put the line {build_marker(container.id)} back into its Notes and"
                " reconcile to restore the record"
            )
        return _Verdict(
            f"{held} holds a container without this record's build marker, named"
            f" {name or '(no hostname)'}, not {container.hostname} (VMID reused, or the marker"
            " removed and the guest renamed)"
        )

    @staticmethod
    async def _read(client: ProxmoxClient, path: str, deadline: float) -> object:
        """One config read, within the per-call limit and the sweep's budget."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(min(deadline, loop.time() + _CALL_SECONDS)):
            return await client.get(path)

    async def _follow(
        self, container: Container, observed: Lifecycle, target: str, node: Node,
        actor: uuid.UUID | None, report: ReconcileReport,
    ) -> None:  # fmt: skip
        """The guest was migrated to `target`, a node of the same cluster: the record moves to
        the user's registration of that node if there is exactly one (and it holds no record
        of the VMID); otherwise it stays, and an event (once per move) says where it is."""
        candidates = list(
            await self.session.scalars(
                select(Node).where(
                    Node.user_id == node.user_id, Node.name == target, Node.id != node.id
                )
            )
        )
        if len(candidates) == 1:
            into = candidates[0]
            wanted = (
                await self._before_missing(container) if observed == Lifecycle.MISSING else None
            )
            message = f"its guest was migrated to {target}; the record follows it there"
            try:
                moved = await self._mark(
                    container, observed, wanted or observed, message, node, actor,
                    migrated_to=target, into=into,
                )  # fmt: skip
            except IntegrityError:  # that node already has a record of the VMID
                await self.session.rollback()
                moved = False
                message = (
                    f"its guest was migrated to {target}, where another record of yours holds"
                    f" VMID {container.vmid}; the record stays on {node.name}"
                )
            else:
                if moved:
                    report.migrated.append(
                        Drift(container.id, container.vmid, container.hostname, message)
                    )
                    return
                return  # moved by something else meanwhile
        elif candidates:
            message = (
                f"its guest was migrated to {target}; you have registered {len(candidates)}"
                f" nodes named {target}, so the record stays on {node.name}"
            )
        else:
            message = (
                f"its guest was migrated to {target}; no node of yours is registered as"
                f" {target}, so the record stays on {node.name} (register {target} and"
                " reconcile again to move it there)"
            )
        latest = await self.session.scalar(
            select(ContainerEvent.metadata_)
            .where(
                ContainerEvent.container_id == container.id,
                ContainerEvent.metadata_.contains({"action": "reconcile"}),
            )
            .order_by(ContainerEvent.seq.desc())
            .limit(1)
        )
        if latest is not None and latest.get("migratedTo") == target:
            await self.session.commit()
            return  # said already
        draft = events.EventDraft(
            type=EventType.LOG, message=f"Reconciliation: {message}",
            metadata={"action": "reconcile", "lifecycle": observed.value, "migratedTo": target},
        )  # fmt: skip
        staged = await events.stage(self.session, container.id, [draft])
        await self.session.commit()
        await events.publish(self.redis, container.id, staged)
        report.migrated.append(Drift(container.id, container.vmid, container.hostname, message))

    async def _mark(
        self, container: Container, observed: Lifecycle, wanted: Lifecycle, message: str,
        node: Node, actor: uuid.UUID | None, *, migrated_to: str | None = None,
        into: Node | None = None,
    ) -> bool:  # fmt: skip
        """Move the row from `observed` to `wanted` (and to the node `into`) unless something
        else moved it since."""
        values: dict[str, object] = {}
        if wanted != observed:
            values["lifecycle"] = transition(observed, wanted).value
        if into is not None:
            values["node_id"] = into.id
        done = await self.session.execute(
            update(Container)
            .where(
                Container.id == container.id,
                Container.lifecycle == observed.value,
                Container.node_id == node.id,
            )
            .values(**values)
        )
        if rows_matched(done) == 0:
            await self.session.rollback()
            return False
        extra = {} if migrated_to is None else {"migratedTo": migrated_to}
        audit.record(
            self.session, user_id=actor or container.created_by, action="container.reconcile",
            target_type="container", target_id=container.id, outcome="success",
            previous=observed.value, lifecycle=wanted.value, reason=message, node=node.name,
            vmid=container.vmid, **extra,
        )  # fmt: skip
        draft = events.EventDraft(
            type=EventType.LOG,
            message=f"Reconciliation: {message}; now {wanted.value}",
            metadata={
                "action": "reconcile", "lifecycle": wanted.value, "previous": observed.value,
                **extra,
            },
        )  # fmt: skip
        staged = await events.stage(self.session, container.id, [draft])
        await self.session.commit()
        if into is not None:
            await self.vmids.invalidate(node.id)
            await self.vmids.invalidate(into.id)
        await events.publish(self.redis, container.id, staged)
        log.info(
            "reconciled a container", container_id=str(container.id), vmid=container.vmid,
            node=node.name, previous=observed.value, lifecycle=wanted.value, reason=message,
            **extra,
        )  # fmt: skip
        return True
