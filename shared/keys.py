"""Key management for secrets at rest.

    python -m shared.keys generate     print a new SECRET_KEYS entry
    python -m shared.keys rotate       re-encrypt every stored secret under the first key

Rotation: put the new entry first in SECRET_KEYS (keep the old one after it), restart the API
and workers, run `rotate`, then remove the old entry.
"""

from __future__ import annotations

import asyncio
import sys

from shared.core.crypto import SecretBox, generate_key
from shared.core.logging import configure_logging
from shared.core.settings import SettingsError, load_settings
from shared.db import one_off_session
from shared.domain.containers.services import rotate_service_credentials
from shared.domain.nodes import rotate_secrets


async def _rotate() -> int:
    settings = load_settings()
    if settings.secret_keys is None or settings.database_url is None:
        raise SettingsError("SECRET_KEYS", "and DATABASE_URL must be set to rotate")
    box = SecretBox.from_spec(settings.secret_keys)
    async with one_off_session(settings) as session:
        report = await rotate_secrets(session, box)
        services_changed, services_unreadable = await rotate_service_credentials(session, box)
    changed = report.changed + services_changed
    print(f"re-encrypted {changed} secret(s) under key {box.current_key_id!r}")
    for item in [*report.unreadable, *services_unreadable]:
        print(f"cannot decrypt {item} with any configured key; enter it again", file=sys.stderr)
    return 1 if report.unreadable or services_unreadable else 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["generate"]:
        print(generate_key())
        return 0
    if args == ["rotate"]:
        try:
            configure_logging(load_settings())
            return asyncio.run(_rotate())
        except SettingsError as exc:
            print(exc, file=sys.stderr)
            return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
