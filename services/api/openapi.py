"""Export the OpenAPI document: `python -m services.api.openapi` writes openapi/openapi.json.

The committed file is what generated clients are built from; a test fails when it drifts from
what the app serves at /schema/openapi.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.serialization import encode_json

from services.api.app import create_app
from shared.core.crypto import generate_key
from shared.core.settings import load_settings

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXPORT_COMMAND = "make openapi  (or: .venv/bin/python -m services.api.openapi)"


def render_spec(app: Litestar) -> bytes:
    return msgspec.json.format(encode_json(app.openapi_schema.to_schema()), indent=2) + b"\n"


def spec_app() -> Litestar:
    """The app as documented; the URLs are placeholders because nothing is connected."""
    settings = load_settings(
        {},
        database_url="postgresql://spec@localhost/spec",
        redis_url="redis://localhost/0",
        secret_keys=generate_key("spec"),
    )
    return create_app(settings)


def main() -> int:
    SPEC_PATH.parent.mkdir(parents=True, exist_ok=True)
    SPEC_PATH.write_bytes(render_spec(spec_app()))
    print(f"wrote {SPEC_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
