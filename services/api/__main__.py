"""`python -m services.api`: serve the API with uvicorn on API_HOST:API_PORT."""

from __future__ import annotations

import sys

import uvicorn

from services.api.app import create_app
from shared.core.settings import SettingsError, load_settings, require_explicit_allow_list


def main() -> int:
    try:
        settings = load_settings()
        require_explicit_allow_list(settings)
        trusted_proxies = settings.trusted_proxy_list
        app = create_app(settings)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # our structlog set-up owns logging
        access_log=False,  # RequestContextMiddleware logs each request with its id
        # X-Forwarded-For / -Proto only from TRUSTED_PROXIES (none by default): otherwise any
        # client could claim any address and reset its login throttle with every request.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
