"""Single-use tickets that let a browser's `EventSource` (which cannot send an
`Authorization` header) open one container's progress stream for a bearer session.

A ticket lives `TICKET_TTL_SECONDS` in Redis under the SHA-256 of its value (a Redis dump
holds nothing a client could present) and is taken with one `GETDEL`, so two requests can
never both use it. It names the session it was made for and the one container it opens: a
logout ends the session, and with it every ticket not yet used.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

import msgspec
from redis.asyncio import Redis

from shared.domain.sessions import SessionData

TICKET_TTL_SECONDS = 30
_PREFIX = "stream-ticket:"


class _Ticket(msgspec.Struct, frozen=True):
    session_key: str  # the Redis key of the session's bearer token
    container_id: str


def _key(ticket: str) -> str:
    return _PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


class StreamTickets:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def issue(self, session: SessionData, container_id: uuid.UUID) -> str:
        ticket = secrets.token_urlsafe(32)
        record = _Ticket(session_key=session.keys[1], container_id=str(container_id))
        await self.redis.set(_key(ticket), msgspec.json.encode(record), ex=TICKET_TTL_SECONDS)
        return ticket

    async def redeem(self, ticket: str, container_id: uuid.UUID) -> str | None:
        """The session key the ticket was made for, once; None when it is unknown, used,
        expired, or for another container (it is used up all the same)."""
        if not ticket or len(ticket) > 128:
            return None
        payload = await self.redis.getdel(_key(ticket))
        if payload is None:
            return None
        record = msgspec.json.decode(payload, type=_Ticket)
        return record.session_key if record.container_id == str(container_id) else None
