"""schemathesis hooks for the live run (`SCHEMATHESIS_HOOKS=tests.contract.live_hooks`).

Every case gets a fresh bearer session of the live test's user, made directly in Redis (the
login route itself is one of the operations under test): a generated logout ends only its own
session, and schemathesis' auth checks can remove or spoil a credential it knows to be real.
The user comes from `INFRAHAUS_LIVE_AUTH` (JSON: redisUrl, ttl, userId, userid, host, port,
node_id, template_id).

In the stateful phase, a positive `CreateContainer` body is made buildable: its hostname and
VMID (moved into 8000-8999) with the user's real node and template (a generated id names
neither, a generated storage or bridge the node lacks is a 422, and the create -> actions ->
delete chain would end there), and every call is written to `INFRAHAUS_LIVE_TRACE` (one
JSON line: operation, path parameters, status, the `id` answered), from which the test counts
the chains that ran.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import schemathesis
from redis.asyncio import Redis

from shared.domain.sessions import SessionStore
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


STATEFUL_VMIDS = 8000


def _stateful(case: schemathesis.Case) -> bool:
    meta = case.meta
    return meta is not None and meta.phase.name == "stateful"


@schemathesis.hook
def before_call(ctx: object, case: schemathesis.Case, **kwargs: Any) -> None:
    if not _stateful(case) or case.operation.label != "POST /api/containers":
        return
    meta = case.meta
    if meta is None or meta.generation.mode != "positive" or not isinstance(case.body, dict):
        return
    who = json.loads(os.environ["INFRAHAUS_LIVE_AUTH"])
    # a valid body stays valid: the required hostname and the generated VMID are kept, the
    # optional rest (storages, bridges, OS templates the node lacks: a 422) is left out
    body = {key: case.body[key] for key in ("hostname", "vmid") if key in case.body}
    body.update(nodeId=who["node_id"], templateId=who["template_id"])
    if isinstance(body.get("vmid"), int):  # into 8000-8999, which no other test builds on
        body["vmid"] = STATEFUL_VMIDS + body["vmid"] % 1000
    case.body = body


@schemathesis.hook
def after_call(ctx: object, case: schemathesis.Case, response: Any) -> None:
    trace = os.environ.get("INFRAHAUS_LIVE_TRACE")
    if not trace or not _stateful(case):
        return
    try:
        answer = response.json()
    except Exception:  # not JSON (204, a stream): no id
        answer = None
    line = {
        "operation": case.operation.label, "path": dict(case.path_parameters or {}),
        "status": response.status_code,
        "id": answer.get("id") if isinstance(answer, dict) else None,
    }  # fmt: skip
    with open(trace, "a") as out:
        out.write(json.dumps(line, default=str) + "\n")
