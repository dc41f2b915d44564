"""Hostile bodies and query strings on every operation of the OpenAPI document, against the
API process: never a 5xx, and the process never goes away."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.figures import record
from tests.integration.helpers import Session

pytestmark = pytest.mark.reliability

SPEC = json.loads((Path(__file__).parents[2] / "openapi" / "openapi.json").read_text())

PAYLOADS: dict[str, tuple[bytes, str]] = {
    "10 MB body": (b'{"name": "' + b"a" * (10 * 1024 * 1024) + b'"}', ""),
    "deep nesting": (b"[" * 50_000 + b"]" * 50_000, ""),
    "invalid UTF-8": (b'{"name": "\xff\xfe\xc3(", "hostname": "\xed\xa0\x80"}', ""),
    "duplicated keys": (
        b'{"name": "a", "name": {"name": "b"}, "hostname": 1, "hostname": "x"}',
        "",
    ),
    "huge query string": (b"{}", "?" + "&".join(f"limit={i}" for i in range(6000))),
}


def operations() -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, ops in SPEC["paths"].items() for method in ops]


def concrete(path: str) -> str:
    """Path parameters filled with ids that exist nowhere (a VMID, a service name)."""
    values = {"vmid": "100", "name": "nginx"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], str(uuid.uuid4())), path)


async def test_hostile_input_on_every_operation_is_never_a_5xx(
    alice: Session, api_server: str, running_worker: None
) -> None:
    # (a worker is running, so /ready's 503 means what it says: a dependency is missing)
    server_errors: list[str] = []
    sent = 0
    async with httpx.AsyncClient(base_url=api_server, timeout=60) as http:
        for label, (body, query) in PAYLOADS.items():
            for method, path in operations():
                # logging out would end the session the sweep runs on
                headers = {} if path == "/api/auth/logout" else dict(alice.headers)
                headers["Content-Type"] = "application/json"
                try:
                    answer = await http.request(
                        method, concrete(path) + query, content=body, headers=headers
                    )
                except httpx.TransportError as exc:  # a closed connection is an answer too
                    answer = None
                    if not isinstance(exc, httpx.RemoteProtocolError | httpx.WriteError):
                        raise
                sent += 1
                if answer is not None and answer.status_code >= 500:
                    server_errors.append(f"{label}: {method} {path} {answer.status_code}")
                # the process is still there and serving
                assert (await http.get("/health")).status_code == 200, (label, method, path)
    record("hostile input on every operation", "requests sent", sent)
    record("hostile input on every operation", "5xx answers", len(server_errors), 0)
    record("hostile input on every operation", "process restarts", 0, 0)
    assert server_errors == []
