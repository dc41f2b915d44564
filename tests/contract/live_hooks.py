"""schemathesis hooks for the live run (`SCHEMATHESIS_HOOKS=tests.contract.live_hooks`).

Every case gets a fresh bearer session of the live test's user, made directly in Redis (the
login route itself is one of the operations under test): a generated logout ends only its own
session, and schemathesis' auth checks can remove or spoil a credential it knows to be real.
The user comes from `INFRAHAUS_LIVE_AUTH` (JSON: redisUrl, ttl, userId, userid, host, port).
"""

from __future__ import annotations

import asyncio
import json
import os

import schemathesis
from redis.asyncio import Redis

from shared.sessions import SessionStore
from tests.contract.query_rules import ordered_audit_bounds

schemathesis.hook("map_query")(ordered_audit_bounds)


async def _fresh_token(who: dict[str, object]) -> str:
    redis = Redis.from_url(str(who["redisUrl"]))
    try:
        session = await SessionStore(redis, int(str(who["ttl"]))).create(
            user_id=str(who["userId"]), userid=str(who["userid"]), host=str(who["host"]),
            port=int(str(who["port"])), tls_fingerprint=str(who["fingerprint"]),
        )  # fmt: skip
    finally:
        await redis.aclose()
    return session.bearer_token


@schemathesis.auth(refresh_interval=None, retry_on=[])
class FreshBearerSession:
    def get(self, case: schemathesis.Case, ctx: object) -> str:
        return asyncio.run(_fresh_token(json.loads(os.environ["INFRAHAUS_LIVE_AUTH"])))

    def set(self, case: schemathesis.Case, data: str, ctx: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
