"""`python -m services.worker`: consume the job queue until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from services.worker.settings import create_worker
from shared.core.crypto import parse_keys
from shared.core.logging import configure_logging
from shared.core.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        settings.required("DATABASE_URL", "`make run` starts embedded servers")
        keys = settings.required("SECRET_KEYS", "`python -m shared.keys generate`")
        parse_keys(keys)  # a malformed key stops the worker here, not mid-job
        configure_logging(settings)
        asyncio.set_event_loop(asyncio.new_event_loop())
        worker = create_worker(settings)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    worker.run()  # returns after a signal, once on_shutdown has run
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
