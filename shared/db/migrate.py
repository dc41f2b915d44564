"""Apply the alembic migrations: `python -m shared.db.migrate` (uses DATABASE_URL)."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.core.settings import SettingsError, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking: bring the database at `database_url` to the newest schema."""
    command.upgrade(alembic_config(database_url), "head")


def main() -> int:
    try:
        database_url = load_settings().required("DATABASE_URL")
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    upgrade_to_head(database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
