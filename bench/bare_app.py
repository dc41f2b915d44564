"""The yardstick: a Litestar app with one route and nothing else, served like the real API."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Status(msgspec.Struct):
    status: str


@get("/bare")
async def bare() -> Status:
    return Status(status="ok")


app = Litestar([bare], logging_config=None, openapi_config=None)
