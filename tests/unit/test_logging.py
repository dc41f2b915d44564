"""Log lines are JSON when not on a terminal, carry context, and never carry secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import structlog

from shared.core.logging import (
    REDACTED,
    AccessLog,
    configure_logging,
    get_logger,
    redact_text,
    request_id_var,
)
from shared.core.settings import load_settings


def _capture(log_format: str = "auto") -> io.StringIO:
    stream = io.StringIO()  # not a TTY
    configure_logging(load_settings({}, log_format=log_format), stream=stream)
    return stream


def test_json_lines_with_bound_context() -> None:
    stream = _capture()
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        get_logger("t").info("hello", node="pve")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "hello"
    assert line["request_id"] == "r-1"
    assert line["node"] == "pve"
    assert line["level"] == "info"


def test_secret_keys_are_redacted_at_any_depth() -> None:
    stream = _capture()
    get_logger("t").info(
        "login",
        password="hunter2",
        headers={"Authorization": "Bearer abc", "Cookie": "session=xyz", "Accept": "json"},
        node={"token_secret": "s3cr3t", "ssh_private_key": "-----BEGIN", "name": "pve"},
    )
    output = stream.getvalue()
    for secret in ("hunter2", "Bearer abc", "session=xyz", "s3cr3t", "-----BEGIN"):
        assert secret not in output
    line = json.loads(output.strip().splitlines()[-1])
    assert line["password"] == REDACTED
    assert line["headers"]["Accept"] == "json"
    assert line["node"]["name"] == "pve"


def test_secrets_inside_text_are_redacted_also_from_stdlib_loggers() -> None:
    stream = _capture()
    logging.getLogger("some.library").warning(
        "connecting to postgresql://app:pa55word@db/x with PVEAPIToken=root@pam!ci=1234-abcd"
    )
    output = stream.getvalue()
    assert "pa55word" not in output and "1234-abcd" not in output
    assert "postgresql://app:[redacted]@db/x" in output


def test_redact_text_leaves_ordinary_text_alone() -> None:
    assert redact_text("GET /api/nodes 200") == "GET /api/nodes 200"
    assert redact_text("redis://cache:6379/0") == "redis://cache:6379/0"


def test_stream_tickets_in_logged_urls_are_redacted() -> None:
    url = "/api/containers/1/events/stream?ticket=abc-DEF_123&lastEventId=5"
    assert redact_text(url) == f"/api/containers/1/events/stream?ticket={REDACTED}&lastEventId=5"
    assert redact_text("GET /x?a=1&ticket=zzz") == f"GET /x?a=1&ticket={REDACTED}"


def test_the_request_id_of_the_api_request_is_on_every_line() -> None:
    stream = _capture()
    token = request_id_var.set("req-7")
    try:
        get_logger("t").info("inside")
    finally:
        request_id_var.reset(token)
    get_logger("t").info("outside")
    inside, outside = (json.loads(line) for line in stream.getvalue().strip().splitlines()[-2:])
    assert inside["request_id"] == "req-7"
    assert "request_id" not in outside


async def test_access_log_lines_match_structlog_and_are_written_in_batches() -> None:
    """The msgspec-encoded access line: structlog's keys, order and redaction; written within
    ~50 ms as one batch, or at once by `flush` (shutdown)."""
    stream = _capture()
    access = AccessLog("services.api.access")
    fields = {"method": "GET", "path": "/a?ticket=t-1", "status": 200, "duration_ms": 1.5}
    token = request_id_var.set("req-9")
    try:
        with structlog.contextvars.bound_contextvars(job_id="j-1", api_token="s3cret"):
            get_logger("services.api.access").info("request", **fields)
            access.info("request", **fields)
            access.info("request", **fields)
    finally:
        request_id_var.reset(token)
    expected = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert len(stream.getvalue().strip().splitlines()) == 1  # the two others are buffered
    await asyncio.sleep(0.15)
    lines = stream.getvalue().strip().splitlines()[1:]
    assert len(lines) == 2
    for line in lines:
        got = json.loads(line)
        assert list(got) == list(expected)
        assert {**got, "timestamp": ""} == {**expected, "timestamp": ""}
    assert expected["api_token"] == REDACTED and "t-1" not in expected["path"]
    assert expected["request_id"] == "req-9" and expected["logger"] == "services.api.access"
    access.info("request", **fields)
    access.flush()
    assert len(stream.getvalue().strip().splitlines()) == 4
