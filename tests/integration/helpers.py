"""Helpers for API tests that need logged-in users with nodes on the simulator."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from shared.db import Container, Node, create_engine


class Session(msgspec.Struct):
    client: AsyncTestClient[Litestar]
    headers: dict[str, str]
    user_id: str

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.headers, **kwargs)


async def login(
    client: AsyncTestClient[Litestar], pve: RunningSimulator, index: int, host: str
) -> Session:
    user = pve.info["users"][index]
    port = httpx.URL(pve.info["apiUrl"]).port
    response = await client.post(
        "/api/auth/login",
        json={"host": host, "port": port, "username": user["username"],
              "realm": user["realm"], "password": user["password"]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    client.cookies.clear()  # bearer only: no CSRF header needed
    return Session(client, {"Authorization": f"Bearer {body['token']}"}, body["user"]["id"])


async def forget_nodes(settings: Settings, user_id: str) -> None:
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as connection:
        owned = select(Node.id).where(Node.user_id == uuid.UUID(user_id))
        await connection.execute(delete(Container).where(Container.node_id.in_(owned)))
        await connection.execute(delete(Node).where(Node.user_id == uuid.UUID(user_id)))
    await engine.dispose()


def node_body(pve: RunningSimulator, name: str = "pve", **changes: Any) -> dict[str, Any]:
    info = pve.info
    body = {
        "name": name,
        "host": "127.0.0.1",
        "port": httpx.URL(info["apiUrl"]).port,
        "tokenId": info["tokenId"],
        "tokenSecret": info["tokenSecret"],
        "sshUser": info["sshUser"],
        "sshPort": info["sshPorts"][name],
        "sshPassword": info["sshPassword"],
    }
    return {**body, **changes}
