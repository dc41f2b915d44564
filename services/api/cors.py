"""Browser frontends on other origins: CORS (`CORS_ALLOWED_ORIGINS`) and the `Origin` check
that backs up the CSRF token on cookie sessions.

Only exact origins are allowed, never `*`: the answers carry credentials (cookies, and the
bearer and CSRF tokens of login). Preflights are answered by Litestar's CORS middleware.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection

from shared.core.settings import Settings

#: what a frontend sends beyond the CORS-safelisted headers
ALLOWED_REQUEST_HEADERS = ["Authorization", "Content-Type", "Last-Event-ID", "X-CSRF-Token"]
#: what a frontend's script may read: where a created container is, and the id to report
EXPOSED_RESPONSE_HEADERS = ["Location", "Retry-After", "X-Request-ID"]


def cors_config(settings: Settings) -> CORSConfig | None:
    """None (no CORS headers at all: same-origin only) unless origins are configured."""
    origins = settings.cors_origin_list
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,  # exact: the setting's pattern admits no `*`
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=ALLOWED_REQUEST_HEADERS,
        allow_credentials=True,
        expose_headers=EXPOSED_RESPONSE_HEADERS,
        max_age=600,
    )


@lru_cache(maxsize=4)
def _allowed(origins: str) -> frozenset[str]:
    return frozenset(o.strip().lower() for o in origins.split(",") if o.strip())


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def origin_allowed(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """For an unsafe request on a cookie session: the page that sent it is this API's own
    origin or one of CORS_ALLOWED_ORIGINS. No `Origin` header (not a browser, or an old one)
    passes: the CSRF token is still required. `null` (sandboxed frames, opaque redirects) fails.

    Same origin is judged by host and port against `Host`, not by scheme, so a TLS-terminating
    proxy that keeps the `Host` header needs no configuration."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    origin = origin.lower()
    if origin in _allowed(connection.app.state.settings.cors_allowed_origins):
        return True
    scheme, _, netloc = origin.partition("://")
    host = connection.headers.get("host", "").lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return bool(netloc) and netloc == host
