"""Phase 5: mark the container ready and say so with the `complete` event."""

from __future__ import annotations

from sqlalchemy import update

from services.worker.pipeline.build import Build, BuildSuperseded
from shared.core.lifecycle import EventType, Lifecycle, Phase, transition
from shared.db.engine import rows_matched
from shared.db.models import Container
from shared.domain import events


async def run(build: Build) -> None:
    await discover(build)
    await build.flush_events()  # `complete` is the last event
    address = build.container.ip_address
    revision = build.template_revision  # the template as this run read it
    done = await build.session.execute(
        update(Container)
        .where(Container.id == build.container.id, Container.lifecycle == Lifecycle.CREATING)
        .values(
            lifecycle=transition(build.container.lifecycle, Lifecycle.READY).value,
            last_completed_phase=Phase.FINALIZING.value,
            template_revision=revision if revision is not None else Container.template_revision,
        )
    )
    where = f" at {address}" if address else ""
    facts: dict[str, object] = {"ipAddress": address} if address else {}
    if build.timing is not None:  # of this run (a resumed build counts from its resumption)
        facts["wallSeconds"] = round(build.timing.wall_seconds, 3)
        facts["nodeSeconds"] = round(build.timing.node_seconds, 3)
    complete = events.EventDraft(
        type=EventType.COMPLETE,
        step=Phase.FINALIZING,
        percent=100,
        message=f"Container {build.container.hostname} is ready{where}",
        metadata=facts,
    )
    if rows_matched(done) == 0:
        await build.session.rollback()
        raise BuildSuperseded("the container is no longer being built")
    staged = await events.stage(build.session, build.container.id, [complete])
    await build.session.commit()
    await events.publish(build.service.redis, build.container.id, staged)


async def discover(build: Build) -> None:
    """What runs in the new container (ARCHITECTURE §9). A failure is reported, not fatal:
    the container is built; `POST .../services/refresh` tries again."""
    await build.step("Discovering services", 0.2)
    report = await build.service.discover_services(build.container, build.node, build.ssh)
    if report.error:
        await build.log(f"Service discovery failed: {report.error}")
        return
    shown = [s for s in report.services if not s.is_system]
    parts = []
    for service in shown:
        ports = ",".join(
            str(p) for p in sorted({int(str(item["port"])) for item in service.listeners})
        )
        parts.append(f"{service.name} ({ports})" if ports else f"{service.name} ({service.status})")
    await build.log("Services: " + (", ".join(parts) if parts else "none besides the system's"))
