"""The generated Python client (`infrahaus_client`), and nothing else, against a real API process,
worker and simulator: login, a node, templates discovered, a build, its events, the delete."""

from __future__ import annotations

import asyncio
import json
import time
from uuid import UUID

import httpx
import pytest

from infrahaus_client import AuthenticatedClient, Client
from infrahaus_client.api.auth import login
from infrahaus_client.api.containers import (
    create_container,
    delete_container,
    get_container,
    list_container_events,
    stream_container_events,
)
from infrahaus_client.api.nodes import create_node
from infrahaus_client.api.services import list_container_services, reveal_service_credentials
from infrahaus_client.api.templates import discover_templates, list_templates
from infrahaus_client.models import (
    ContainerCreate,
    CreateAccepted,
    EventPage,
    EventType,
    Lifecycle,
    LoginRequest,
    LoginResponse,
    NodeCreate,
    NodeRead,
    Problem,
)
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.integration.helpers import forget_nodes

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("running_worker")]

USER = 0  # root@pam: discovering templates needs an administrator of the host
NODE = "pve"
VMID = 7605


async def test_login_node_build_events_and_delete_with_the_generated_client(
    api_server: str, pve: RunningSimulator, settings: Settings
) -> None:
    info = pve.info
    user = info["users"][USER]
    port = httpx.URL(info["apiUrl"]).port
    async with Client(base_url=api_server, raise_on_unexpected_status=True) as anonymous:
        session = await login.asyncio(client=anonymous, body=LoginRequest(
            host="127.0.0.1", port=port, username=user["username"], realm=user["realm"],
            password=user["password"]))  # fmt: skip
    assert isinstance(session, LoginResponse), session
    await forget_nodes(settings, str(session.user.id))

    async with AuthenticatedClient(base_url=api_server, token=session.token, timeout=httpx.Timeout(
            60), raise_on_unexpected_status=True) as api:  # fmt: skip
        node = await create_node.asyncio(client=api, body=NodeCreate(
            name=NODE, host="127.0.0.1", port=port, token_id=info["tokenId"],
            token_secret=info["tokenSecret"], ssh_user=info["sshUser"],
            ssh_port=info["sshPorts"][NODE], ssh_password=info["sshPassword"]))  # fmt: skip
        assert isinstance(node, NodeRead), node
        assert node.is_default and node.has_token_secret

        discovered = await discover_templates.asyncio(client=api)
        assert not isinstance(discovered, Problem) and discovered is not None
        assert not discovered.errors, discovered.errors
        page = await list_templates.asyncio(client=api, search="web-basic")
        assert not isinstance(page, Problem) and page is not None, page
        names = [t.name for t in page.items]
        assert "web-basic" in names, (names, discovered)
        template = page.items[names.index("web-basic")]

        # a problem comes back as a typed Problem
        taken = await create_container.asyncio(client=api, body=ContainerCreate(
            hostname="gen-01", node_id=node.id, template_id=template.id, vmid=1))  # fmt: skip
        assert isinstance(taken, Problem) and taken.status == 400

        accepted = await create_container.asyncio(client=api, body=ContainerCreate(
            hostname="gen-05", node_id=node.id, template_id=template.id, vmid=VMID))  # fmt: skip
        assert isinstance(accepted, CreateAccepted), accepted
        assert accepted.lifecycle == Lifecycle.CREATING and accepted.vmid == VMID

        # the JSON pages, polled until the terminal event
        events = []
        after = 0
        deadline = time.monotonic() + 150
        while not events or events[-1].type_ not in (EventType.COMPLETE, EventType.ERROR):
            assert time.monotonic() < deadline, [e.message for e in events[-5:]]
            page_ = await list_container_events.asyncio(accepted.id, client=api, after=after)
            assert isinstance(page_, EventPage), page_
            events += page_.items
            after = events[-1].seq if events else 0
            if not isinstance(page_.next_after, int):  # nothing more yet
                await asyncio.sleep(0.5)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[-1].type_ == EventType.COMPLETE, events[-1].message
        assert any(e.script_name == "20-enable-nginx.sh" for e in events)

        # the finished stream, read whole through the generated operation (text/event-stream)
        text = await stream_container_events.asyncio(accepted.id, client=api)
        assert isinstance(text, str)
        frames = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
        assert [f["seq"] for f in frames] == [e.seq for e in events]

        detail = await get_container.asyncio(accepted.id, client=api)
        assert not isinstance(detail, Problem) and detail is not None
        assert detail.lifecycle == Lifecycle.READY

        services = await list_container_services.asyncio(accepted.id, client=api)
        assert not isinstance(services, Problem) and services is not None
        nginx = next(s for s in services.items if s.name == "nginx")
        revealed = await reveal_service_credentials.asyncio(accepted.id, nginx.name, client=api)
        assert not isinstance(revealed, Problem) and revealed is not None
        assert {"username", "password"} <= set(revealed.values.additional_properties)

        deleting = await delete_container.asyncio(accepted.id, client=api)
        assert not isinstance(deleting, Problem) and deleting is not None
        assert deleting.lifecycle == "deleting"
        deadline = time.monotonic() + 120
        while True:
            gone = await get_container.asyncio_detailed(UUID(str(accepted.id)), client=api)
            if gone.status_code == 404:
                assert isinstance(gone.parsed, Problem)
                break
            assert time.monotonic() < deadline, "the container was never deleted"
            await asyncio.sleep(0.5)
