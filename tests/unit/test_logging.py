"""Log lines are JSON when not on a terminal, carry context, and never carry secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import structlog

from shared.core.logging import (
    PIPE_BUF,
    REDACTED,
    AccessLog,
    _line_chunks,
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


def test_access_log_batches_are_written_as_whole_lines_of_at_most_pipe_buf() -> None:
    """One write of a 64 KiB batch to the stderr pipe `make run` gives API and worker could
    interleave with the worker's lines; whole-line writes of <= PIPE_BUF bytes never do."""
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 300)}"}}\n'.encode() for i in range(400)]
    data = bytearray(b"".join(lines))
    chunks = _line_chunks(data, PIPE_BUF)
    assert b"".join(chunks) == data and len(chunks) > 1
    assert all(len(c) <= PIPE_BUF and c.endswith(b"\n") for c in chunks)
    huge = bytearray(b"a" * 5000 + b"\nb\n")  # one line longer than the limit: whole, alone
    assert _line_chunks(huge, PIPE_BUF) == [b"a" * 5000 + b"\n", b"b\n"]


def test_access_log_timer_is_set_again_on_a_new_event_loop() -> None:
    """A flush timer left on a loop that ended (a restart, the next test) would never fire."""
    stream = _capture()
    access = AccessLog("services.api.access")

    async def one_line(wait: float) -> None:
        access.info("request", method="GET", path="/", status=200, duration_ms=1.0)
        await asyncio.sleep(wait)

    before = len(stream.getvalue().splitlines())
    asyncio.run(one_line(0))  # the loop ends before its timer fires
    asyncio.run(one_line(0.2))  # the next loop must flush both lines
    assert len(stream.getvalue().splitlines()) == before + 2
