"""GET /metrics: off (404) by default; with METRICS_ENABLED, a real build through a worker
process shows up in the API's scrape (the two processes share PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import asyncio
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.adapters.locks import ContainerLocks
from shared.adapters.proxmox import PinnedCertificate, ProxmoxClient, ProxmoxError
from shared.core.errors import Conflict
from shared.core.settings import Settings
from tests.integration.helpers import Session, forget_nodes, login
from tests.integration.test_pipeline import (
    make_template,
    register,
    stored_events,
    wait_until_done,
)
from tests.integration.test_proxmox_client import _self_signed
from tests.support import settings_environment, start_process, stop_process, wait_for_worker

# label values may hold braces (route templates): the labels run to the last `}`
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The exposition's samples: (name, labels, value)."""
    found = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            found.append((match["name"], labels, float(match["value"])))
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels`."""
    return sum(v for n, got, v in samples(text) if n == name and labels.items() <= got.items())


async def test_metrics_are_not_served_unless_enabled(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.fixture(scope="module")
def metrics_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # its own queue, so only the worker below (which shares the metrics directory) builds
    return msgspec.structs.replace(
        settings,
        metrics_enabled=True,
        prometheus_multiproc_dir=str(tmp_path_factory.mktemp("prometheus")),
        queue_name=f"test-metrics-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(scope="module")
def metrics_worker(
    metrics_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log_path = tmp_path_factory.mktemp("metrics-worker") / "worker.log"
    process = start_process("services.worker", settings_environment(metrics_settings), log_path)
    asyncio.run(
        asyncio.wait_for(
            wait_for_worker(metrics_settings.redis_url or "", metrics_settings.queue_name), 30
        )
    )
    yield log_path
    stop_process(process)


@pytest.fixture
async def metered(
    metrics_settings: Settings, metrics_worker: Path, pve: RunningSimulator
) -> AsyncIterator[Session]:
    app = create_app(metrics_settings)
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        session = await login(test_client, pve, 0, "127.0.0.1")
        await forget_nodes(metrics_settings, session.user_id)
        yield session


async def test_a_build_through_the_worker_is_counted_in_the_api_scrape(
    metered: Session, pve: RunningSimulator, metrics_settings: Settings
) -> None:
    node_id = await register(metered, pve)
    template_id = await make_template(metered)
    before = (await metered.client.get("/metrics")).text
    response = await metered.call(
        "POST", "/api/containers",
        json={"hostname": "metered-01", "nodeId": node_id, "templateId": template_id,
              "vmid": 8610},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    container_id = response.json()["id"]

    # during the build: scraped without credentials, phases appear as they complete
    seen_during = False
    for _ in range(2400):
        scrape = await metered.client.get("/metrics")  # no Authorization header
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
        detail = (await metered.call("GET", f"/api/containers/{container_id}")).json()
        if detail["lifecycle"] != "creating":
            break
        if value(scrape.text, "infrahaus_build_phase_duration_seconds_count") > value(
            before, "infrahaus_build_phase_duration_seconds_count"
        ):
            seen_during = True
        await asyncio.sleep(0.05)
    detail = await wait_until_done(metered, container_id)
    assert detail["lifecycle"] == "ready", detail
    # (for the retention cron: the queued event marks where this build starts)
    first = (await stored_events(metrics_settings, container_id))[0]
    assert first.metadata == {"buildStart": True}
    assert seen_during, "no phase was counted while the build ran"

    text = (await metered.client.get("/metrics")).text
    ready = ("infrahaus_builds_total", {"phase": "finalizing", "outcome": "ready"})
    assert value(text, ready[0], **ready[1]) == value(before, ready[0], **ready[1]) + 1
    for phase in ("creating", "starting", "deploying", "syncing", "finalizing"):
        assert (
            value(
                text,
                "infrahaus_build_phase_duration_seconds_count",
                phase=phase,
                outcome="completed",
            )
            >= 1
        ), phase
    # the worker's calls to the node, labelled by the node's registration id, not its name
    assert value(text, "infrahaus_node_request_duration_seconds_count", node=node_id) > 0
    assert 'node="pve"' not in text
    # the API's own requests, by route template (never the raw path, which holds the id)
    assert value(
        text, "infrahaus_http_request_duration_seconds_count",
        method="GET", route="/api/containers/{container_id}", status="200",
    ) >= 1  # fmt: skip
    assert container_id not in text
    # the queue is read at scrape time; nothing is left waiting on this run's queue
    assert value(text, "infrahaus_queue_jobs", state="ready") == 0
    assert "infrahaus_sse_subscribers" in text


async def test_lock_contention_and_live_subscribers_are_counted(
    metered: Session, redis: Redis
) -> None:
    async def scrape() -> str:
        response = await metered.client.get("/metrics")
        assert response.status_code == 200
        return response.text

    refused = {"lock": "container", "outcome": "refused"}
    before = await scrape()
    locks = ContainerLocks(redis)
    container_id = uuid.uuid4()
    async with locks.hold(container_id, "start"):
        with pytest.raises(Conflict):
            async with locks.hold(container_id, "stop"):
                pass
    after = await scrape()
    contended = "infrahaus_lock_contention_total"
    assert value(after, contended, **refused) == value(before, contended, **refused) + 1

    hub = metered.client.app.state.event_hub
    open_before = value(after, "infrahaus_sse_subscribers")
    subscription = hub.subscribe(container_id)
    assert value(await scrape(), "infrahaus_sse_subscribers") == open_before + 1
    subscription.close()
    subscription.close()  # idempotent: counted once
    assert value(await scrape(), "infrahaus_sse_subscribers") == open_before


@pytest.fixture
async def metered_bob(
    metrics_settings: Settings, metrics_worker: Path, pve: RunningSimulator
) -> AsyncIterator[Session]:
    # a second app (a second API replica): one app cannot serve two test clients
    app = create_app(metrics_settings)
    async with AsyncTestClient(app, base_url="https://testserver.local") as test_client:
        session = await login(test_client, pve, 1, "127.0.0.1")
        await forget_nodes(metrics_settings, session.user_id)
        yield session


async def test_two_users_nodes_of_one_name_are_two_series_named_by_id(
    metered: Session, metered_bob: Session, pve: RunningSimulator
) -> None:
    """`/metrics` is unauthenticated: it must not show the names users give their nodes, and
    two users' nodes called alike must not be summed into one series."""
    alice_node = await register(metered, pve, "pve")
    bob_node = await register(metered_bob, pve, "pve")
    assert alice_node != bob_node
    count = "infrahaus_node_request_duration_seconds_count"
    before = (await metered.client.get("/metrics")).text
    for session, node_id, calls in ((metered, alice_node, 1), (metered_bob, bob_node, 2)):
        for _ in range(calls):
            response = await session.call("GET", f"/api/nodes/{node_id}/storages")
            assert response.status_code == 200, response.text
    text = (await metered.client.get("/metrics")).text
    alice_calls = value(text, count, node=alice_node) - value(before, count, node=alice_node)
    bob_calls = value(text, count, node=bob_node) - value(before, count, node=bob_node)
    assert (alice_calls, bob_calls) == (1, 2)
    # every node label is a registration id, or the one label of hosts that are none
    for name, labels, _ in samples(text):
        if name == count and labels["node"] != "unregistered":
            uuid.UUID(labels["node"])
    assert 'node="pve"' not in text


async def test_a_hosts_odd_statuses_are_counted_by_class(metered: Session, tmp_path: Path) -> None:
    """A registered host may answer any status from 100 to 999: known Proxmox ones keep their
    own `kind`, others count by class, so one host cannot make hundreds of series."""
    leaf_der, key = _self_signed("odd-statuses")
    (tmp_path / "cert.pem").write_bytes(
        x509.load_der_x509_certificate(leaf_der).public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1]
        status = request_line.rsplit(b"/", 1)[1]
        writer.write(
            b"HTTP/1.1 " + status + b" X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    label = str(uuid.uuid4())
    statuses = (401, 418, 419, 302, 777, 999)
    try:
        async with ProxmoxClient(
            "127.0.0.1", port, PinnedCertificate.from_der(leaf_der), attempts=1,
            metrics_node=label,
        ) as client:  # fmt: skip
            for status in statuses:
                with pytest.raises(ProxmoxError):
                    await client.request("GET", f"/status/{status}", authenticated=False)
    finally:
        server.close()
    text = (await metered.client.get("/metrics")).text
    errors = "infrahaus_node_request_errors_total"
    kinds = {
        labels["kind"]: v for name, labels, v in samples(text)
        if name == errors and labels["node"] == label
    }  # fmt: skip
    assert kinds == {"http_401": 1, "http_4xx": 2, "http_3xx": 1, "http_other": 2}


async def test_no_path_method_or_value_a_caller_sends_becomes_a_label(metered: Session) -> None:
    """Raw paths, unknown methods and query strings never reach a label: route templates,
    `unmatched`, known methods or `other` only (anything else would be unbounded, and would
    show one caller's ids to whoever scrapes)."""
    secret = uuid.uuid4().hex
    client = metered.client
    for method, path in (
        ("GET", f"/api/containers/{uuid.uuid4()}?q={secret}"),
        ("GET", f"/no/such/{secret}"),
        ("BREW", f"/api/nodes/{secret}"),
        ("DELETE", "/metrics"),  # a route, not this method: 405
        ("GET", f"/docs-assets/{secret}.js"),
        ("GET", f"/api/nodes/{secret}"),  # not a uuid: no route matches
    ):
        await client.request(method, path, headers=metered.headers)
    text = (await client.get("/metrics")).text
    assert secret not in text
    seen = [
        labels for name, labels, _ in samples(text)
        if name == "infrahaus_http_request_duration_seconds_count"
    ]  # fmt: skip
    routes = {labels["route"] for labels in seen}
    assert {"/api/containers/{container_id}", "unmatched"} <= routes
    assert all(route == "unmatched" or route.startswith("/") for route in routes), routes
    assert {labels["method"] for labels in seen} <= {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"
    }  # fmt: skip
    assert any(labels["method"] == "other" for labels in seen)
    assert all(100 <= int(labels["status"]) <= 599 for labels in seen)
