"""Security headers on every answer, and the API docs page served from this origin only.

The docs page lives on the origin that holds the session and CSRF cookies, so it runs no script
from anywhere else: Swagger UI comes from the `swagger-ui-bundle` wheel (a pinned version,
served under `/schema/assets/`), which also works on hosts without internet access.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/schema/assets"

# API answers are data: nothing in them may run, frame or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The docs page: its own scripts and styles (Swagger UI starts from an inline script), the
# spec from this origin, nothing else.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'none'"
)
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)


def docs_plugin() -> SwaggerRenderPlugin:
    """At /schema, /schema/docs and /schema/swagger."""
    return SwaggerRenderPlugin(
        path=["/", "/docs", "/swagger"],
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def docs_assets() -> Router:
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_path], include_in_schema=False, name="docs-assets"
    )


class SecurityHeaders:
    """ASGI wrapper: adds the headers to every HTTP answer that does not set them itself.
    `https`: the service is reached over HTTPS only (`SESSION_COOKIE_SECURE`), so browsers are
    told to keep to it (HSTS)."""

    def __init__(self, app: Any, *, https: bool = False) -> None:
        self.app = app
        common = _COMMON + (_HSTS if https else ())
        # Built once: this runs on every answer.
        self.api_headers = (*common, (b"content-security-policy", API_CSP.encode()))
        self.docs_headers = (*common, (b"content-security-policy", DOCS_CSP.encode()))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        added = self.docs_headers if path.startswith("/schema") else self.api_headers

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in added if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
