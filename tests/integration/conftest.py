"""Fixtures: two logged-in users (bearer sessions) whose nodes are forgotten before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.integration.helpers import Session, forget_nodes, login


@pytest.fixture
async def alice(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, settings: Settings
) -> AsyncIterator[Session]:
    session = await login(client, pve, 0, "127.0.0.1")
    await forget_nodes(settings, session.user_id)
    yield session


@pytest.fixture
async def bob(pve: RunningSimulator, settings: Settings) -> AsyncIterator[Session]:
    # A second app instance, like a second API replica: one app cannot serve two test clients.
    async with AsyncTestClient(create_app(settings), base_url="https://testserver.local") as other:
        session = await login(other, pve, 1, "127.0.0.1")
        await forget_nodes(settings, session.user_id)
        yield session
