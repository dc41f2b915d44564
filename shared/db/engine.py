"""One place that turns `Settings` into a SQLAlchemy async engine and session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import NullPool

from shared.core.settings import Settings


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """An asyncpg engine; `pooled=False` for short-lived tools and tests on their own loops."""
    options: dict[str, object] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}
    if not pooled:
        options = {"poolclass": NullPool}
    return _create_async_engine(
        settings.sqlalchemy_url,
        # asyncpg would otherwise wait for a dead server for a minute
        connect_args={"timeout": 10, "command_timeout": 30},
        **options,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def one_off_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on an engine of its own, disposed of afterwards: for operator commands."""
    engine = create_engine(settings, pooled=False)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def rows_matched(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. `execute()` is typed to return a `Result`, but for
    those statements it is a `CursorResult`, which has the count (SQLAlchemy's advice)."""
    return cast("CursorResult[Any]", result).rowcount
