"""Sync the templates directory into the database: `python -m shared.templates`.

Uses DATABASE_URL and TEMPLATES_DIR (or `--dir`), prints the same JSON summary as
`POST /api/templates/discover`, and exits with 1 when a template could not be synced.
The logic is `shared.domain.templates.discovery`; this is only its operator command.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

import msgspec

from shared.core.settings import Settings, SettingsError, load_settings
from shared.db import one_off_session
from shared.domain.templates.discovery import DiscoveryReport, discover


async def run(settings: Settings, templates_dir: Path) -> DiscoveryReport:
    async with one_off_session(settings) as session:
        return await discover(session, templates_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.templates", description=__doc__)
    parser.add_argument("--dir", help="templates directory (default: TEMPLATES_DIR)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.required("DATABASE_URL")
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    report = asyncio.run(run(settings, Path(args.dir or settings.templates_dir)))
    print(msgspec.json.encode(dataclasses.asdict(report)).decode())
    return 1 if report.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
