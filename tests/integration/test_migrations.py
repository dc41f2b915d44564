"""The migrations are the schema: they match the models and enforce the data rules."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from shared.core.settings import Settings
from shared.db import Base, Node, User, create_engine


async def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == [], "models and migrations disagree; write a migration"


def _node(user_id: uuid.UUID, name: str, *, is_default: bool) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "name": name,
        "host": "10.0.0.1",
        "token_id": "root@pam!t",
        "token_secret_enc": "ciphertext",
        "is_default": is_default,
    }


async def test_one_default_node_per_user_and_unique_names(settings: Settings) -> None:
    engine = create_engine(settings, pooled=False)
    user_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(User).values(id=user_id, host_identity=f"h-{user_id}", userid="root@pam")
            )
            await connection.execute(insert(Node).values(**_node(user_id, "pve", is_default=True)))
            await connection.execute(
                insert(Node).values(**_node(user_id, "pve2", is_default=False))
            )
        with pytest.raises(IntegrityError, match="uq_nodes_one_default_per_user"):
            async with engine.begin() as connection:
                await connection.execute(
                    insert(Node).values(**_node(user_id, "pve3", is_default=True))
                )
        with pytest.raises(IntegrityError, match="uq_nodes_user_id_name"):
            async with engine.begin() as connection:
                await connection.execute(
                    insert(Node).values(**_node(user_id, "pve", is_default=False))
                )
        with pytest.raises(IntegrityError, match="ck_nodes_port_range"):
            async with engine.begin() as connection:
                await connection.execute(
                    insert(Node).values(**_node(user_id, "pve4", is_default=False), port=70000)
                )
    finally:
        await engine.dispose()


def _schema(database_url: str) -> tuple[set[str], list[object]]:
    """The tables of the database at `database_url`, and how they differ from the models."""
    import asyncio

    from sqlalchemy import inspect

    from shared.core.settings import load_settings

    async def read() -> tuple[set[str], list[object]]:
        engine = create_engine(load_settings({"DATABASE_URL": database_url}), pooled=False)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: (
                        set(inspect(sync).get_table_names()),
                        compare_metadata(MigrationContext.configure(sync), Base.metadata),
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_migrations_downgrade_and_upgrade_again(test_servers) -> None:
    """Every migration can be undone, so a bad deploy can be rolled back."""
    from alembic import command

    from shared.db.migrate import alembic_config
    from shared.dev.embedded import create_database, drop_database

    url = create_database(test_servers.postgres_admin_url)
    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        tables, _ = _schema(url)
        assert tables <= {"alembic_version"}, f"downgrade left {tables - {'alembic_version'}}"
        command.upgrade(config, "head")
        tables, differences = _schema(url)
        assert set(Base.metadata.tables) <= tables
        assert differences == [], "upgrade after downgrade does not give the models' schema"
    finally:
        drop_database(test_servers.postgres_admin_url, url)


def test_downgrading_0008_turns_missing_containers_into_error(test_servers) -> None:
    """The older schema has no `missing`: its rows become `error` (and its CHECK holds)."""
    import asyncio

    from alembic import command
    from sqlalchemy import text

    from shared.core.settings import load_settings
    from shared.db.migrate import alembic_config
    from shared.dev.embedded import create_database, drop_database

    url = create_database(test_servers.postgres_admin_url)
    ids = {"u": uuid.uuid4(), "n": uuid.uuid4(), "c": uuid.uuid4()}

    async def run(*statements: str) -> list[object]:
        engine = create_engine(load_settings({"DATABASE_URL": url}), pooled=False)
        try:
            async with engine.begin() as connection:
                return [(await connection.execute(text(sql), ids)).all() for sql in statements]
        finally:
            await engine.dispose()

    try:
        config = alembic_config(url)
        command.upgrade(config, "head")
        asyncio.run(run(
            "INSERT INTO users (id, host_identity, userid)"
            " VALUES (:u, 'h', 'root@pam') RETURNING id",
            "INSERT INTO nodes (id, user_id, name, host, token_id, token_secret_enc, is_default)"
            " VALUES (:n, :u, 'pve', '10.0.0.1', 'root@pam!t', 'c', true) RETURNING id",
            "INSERT INTO containers (id, node_id, created_by, vmid, hostname, lifecycle)"
            " VALUES (:c, :n, :u, 100, 'gone', 'missing') RETURNING id",
        ))  # fmt: skip
        command.downgrade(config, "0007")
        rows = asyncio.run(run("SELECT lifecycle FROM containers WHERE id = :c"))
        assert rows == [[("error",)]]
        with pytest.raises(IntegrityError, match="ck_containers_lifecycle_known"):
            asyncio.run(run("UPDATE containers SET lifecycle = 'missing' RETURNING id"))
        command.upgrade(config, "head")
    finally:
        drop_database(test_servers.postgres_admin_url, url)
