"""Telling a dependency outage from a bug, and logging each outage once.

A worker must outlive Redis and PostgreSQL restarts: it waits with backoff and carries on.
`OutageLog` keeps the log to one warning when an outage starts and one line when it ends,
however many polls fail in between.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from shared.core.logging import get_logger

log = get_logger(__name__)
_T = TypeVar("_T")

#: errors that mean "Redis cannot be reached now" (BusyLoadingError is a ConnectionError)
REDIS_OUTAGE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def is_database_outage(exc: BaseException) -> bool:
    """PostgreSQL down, restarting or dropping connections (not a bad query)."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OSError) and _raised_in_database_driver(exc):
        # asyncpg's connect (refused, reset, the socket file gone), before SQLAlchemy can
        # wrap anything
        return True
    name = type(exc).__name__
    # asyncpg's own classes, when they escape SQLAlchemy's wrapping
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
    }


def _raised_in_database_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "/asyncpg/" in filename or "/sqlalchemy/" in filename:
            return True
        tb = tb.tb_next
    return False


class OutageLog:
    """One warning when `what` starts failing, one info line when it works again."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, **context: object) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning(
                f"{self.what} unavailable; waiting for it",
                dependency=self.what,
                error=f"{type(exc).__name__}: {str(exc)[:200]}",
                **context,
            )

    def recovered(self) -> None:
        if self.since is not None:
            log.info(
                f"{self.what} is back",
                dependency=self.what,
                outage_seconds=round(time.monotonic() - self.since, 1),
                failed_attempts=self.failures,
            )
        self.since, self.failures = None, 0


async def unless_database_down(outage: OutageLog, load: Callable[[], Awaitable[_T]]) -> _T | None:
    """`load()`'s result, or None while PostgreSQL is down (`outage` logs that once per
    outage, and its end); any other error propagates. For periodic jobs: the next run tries
    again."""
    try:
        result = await load()
    except Exception as exc:
        if not is_database_outage(exc):
            raise
        outage.failed(exc)
        return None
    outage.recovered()
    return result
