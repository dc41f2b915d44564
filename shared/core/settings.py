"""Process configuration, read once from the environment by the app and worker factories.

Every setting is one field of `Settings`; its environment variable is the field name in upper
case. Constraints live in `msgspec.Meta` so a bad value is rejected with a precise, one-line
message (`REDIS_URL: not a redis:// URL`) before anything starts.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec

# A database index, when given, is a number: arq rejects `redis://host/` and `redis://host/x`.
REDIS_URL_PATTERN = r"^(rediss?://[^/\s?]+(/\d+)?(\?\S*)?|unix:///\S+)$"
DATABASE_URL_PATTERN = r"^postgres(ql)?(\+asyncpg)?://\S*$"
_KEY_ENTRY = r"[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_=-]{43,44}"
SECRET_KEYS_PATTERN = rf"^{_KEY_ENTRY}(,{_KEY_ENTRY})*$"
_ORIGIN = r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"


def _setting(hint: str, **constraints: Any) -> msgspec.Meta:
    """A field constraint plus the human hint printed when the value breaks it."""
    # Any: Meta's overloads (no gt with ge, no lt with le) cannot be matched by forwarded
    # keywords; Meta itself rejects a bad constraint when this module is imported.
    return msgspec.Meta(extra={"hint": hint}, **constraints)


Port = Annotated[int, _setting("not a TCP port (1-65535)", ge=1, le=65535)]
PositiveSeconds = Annotated[float, _setting("not a positive number of seconds", gt=0, le=86400)]


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the API, the worker and `make run` need to know about their surroundings."""

    database_url: (
        Annotated[str, _setting("not a postgresql:// URL", pattern=DATABASE_URL_PATTERN)] | None
    ) = None
    redis_url: Annotated[str, _setting("not a redis:// URL", pattern=REDIS_URL_PATTERN)] | None = (
        None
    )
    data_dir: Annotated[str, _setting("must not be empty", min_length=1)] = ".data"
    api_host: Annotated[str, _setting("must not be empty", min_length=1)] = "127.0.0.1"
    api_port: Port = 8000
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    queue_name: Annotated[
        str, _setting("letters, digits, ':', '_' or '-' only", pattern=r"^[A-Za-z0-9:_-]{1,64}$")
    ] = "infrahaus:queue"
    worker_heartbeat_seconds: PositiveSeconds = 5.0
    ready_timeout_seconds: PositiveSeconds = 2.0
    # Secrets at rest (see shared.core.crypto); `make run` generates and keeps one under DATA_DIR.
    secret_keys: (
        Annotated[
            str, _setting("must be <id>:<base64 32-byte key>[,...]", pattern=SECRET_KEYS_PATTERN)
        ]
        | None
    ) = None
    session_ttl_seconds: Annotated[
        int, _setting("not a number of seconds between 60 and 2592000", ge=60, le=2_592_000)
    ] = 8 * 3600
    session_cookie_secure: bool = False
    # Browser frontends on other origins (exact `scheme://host[:port]`, comma-separated; never
    # `*`, since the answers carry credentials). Empty: same-origin only, no CORS headers.
    cors_allowed_origins: Annotated[
        str,
        _setting(
            "comma-separated origins like https://app.example.com (scheme://host[:port], no path,"
            " no *)",
            pattern=rf"^\s*({_ORIGIN}(\s*,\s*{_ORIGIN})*)?\s*$",
        ),
    ] = ""
    # Session cookies `SameSite=None; Secure`, for a frontend on another site: only together
    # with CORS_ALLOWED_ORIGINS (see `require_consistent_browser_settings`).
    session_cookie_cross_site: bool = False
    login_max_failures: Annotated[int, _setting("not a number from 1 to 1000", ge=1, le=1000)] = 5
    login_max_failures_per_client: Annotated[
        int, _setting("not a number from 1 to 10000", ge=1, le=10_000)
    ] = 20
    login_window_seconds: Annotated[
        int, _setting("not a number of seconds between 1 and 86400", ge=1, le=86_400)
    ] = 300
    # Unset means `*` (any host), which is refused when the API listens beyond loopback: see
    # `require_explicit_allow_list`.
    pve_allowed_hosts: (
        Annotated[
            str,
            _setting(
                "comma-separated networks, host names or *", pattern=r"^[A-Za-z0-9*.:/,\[\] _-]+$"
            ),
        ]
        | None
    ) = None
    # The largest answer read from a Proxmox host; a bigger one is refused (502), unread.
    pve_max_response_bytes: Annotated[
        int, _setting("not a number of bytes from 65536 to 1073741824", ge=65536, le=1 << 30)
    ] = 16 * 1024 * 1024
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks,
    # comma-separated); empty: none, the client is the peer of the TCP connection.
    trusted_proxies: Annotated[
        str, _setting("comma-separated IP addresses or networks", pattern=r"^[0-9A-Fa-f.:/, ]*$")
    ] = ""
    # Who may change templates and buckets and run discovery: `user@realm`, `@realm` (every
    # user of that realm) or `*`, comma-separated. Reading and building stay open to all.
    template_editors: Annotated[
        str,
        _setting(
            "comma-separated user@realm, @realm or *",
            pattern=r"^\s*(\*|[^\s,@]*@[A-Za-z][A-Za-z0-9._-]{0,31})(\s*,\s*(\*|[^\s,@]*@[A-Za-z][A-Za-z0-9._-]{0,31}))*\s*$",
        ),
    ] = "root@pam"
    pve_connect_timeout_seconds: PositiveSeconds = 5.0
    pve_read_timeout_seconds: PositiveSeconds = 30.0
    # The whole budget of an interactive read of a node (a creation form's storages, bridges
    # and OS templates; the node test), retries included: a slow node answers 504 by then.
    pve_interactive_timeout_seconds: PositiveSeconds = 10.0
    # how long the container list waits for each node before listing its containers as unknown
    inventory_node_timeout_seconds: PositiveSeconds = 5.0
    # Where `POST /api/templates/discover` reads templates from (one directory per template).
    templates_dir: Annotated[
        str, _setting("must not be empty or contain NUL", pattern=r"^[^\x00]+$")
    ] = "templates"
    # Builds running at once on one node, across all workers (PVE config locks time out when
    # too many tasks queue on one node).
    builds_per_node: Annotated[int, _setting("not a number from 1 to 64", ge=1, le=64)] = 4
    # How long a started container may take to get an IPv4 address before the build fails.
    build_network_timeout_seconds: PositiveSeconds = 120.0
    # A running build renews its claim on its job this often; a killed worker's build is
    # picked up by another worker within about `3 x` this (the claim's lifetime).
    build_lease_seconds: Annotated[
        float, _setting("not a number of seconds between 1 and 60", ge=1, le=60)
    ] = 10.0
    # The reconciler re-enqueues rows left `creating`/`deleting` without a job this often
    # (0 turns it off: only for test runs whose rows are not meant to be built).
    reconcile_seconds: Annotated[
        int, _setting("0 (off) or a number of seconds between 1 and 3600", ge=0, le=3600)
    ] = 30
    # Redis connections one API process uses for commands (sessions, locks, caches); requests
    # wait for a free one. The SSE fan-out adds one pub/sub connection, whatever the clients,
    # and the read cache's invalidation subscriber one more.
    api_redis_connections: Annotated[
        int, _setting("not a number from 1 to 1000", ge=1, le=1000)
    ] = 8
    # An idle progress stream (SSE) sends a comment this often, so proxies keep it open.
    sse_ping_seconds: Annotated[
        float, _setting("not a number of seconds between 0.05 and 300", ge=0.05, le=300)
    ] = 15.0
    # The API process's cache of sessions and VMID sets (shared.adapters.readcache): how long an
    # entry may live at most (a safety net; pushed invalidations keep it correct). 0 turns it off.
    api_read_cache_seconds: Annotated[
        float, _setting("not a number of seconds between 0 (off) and 60", ge=0, le=60)
    ] = 5.0
    # The worker compares every node's guests with our records this often (containers
    # deleted or replaced outside Infrahaus become `missing`); 0 turns it off. The same as
    # POST /api/nodes/{id}/reconcile, for all nodes.
    node_reconcile_seconds: Annotated[
        int, _setting("0 (off) or a number of seconds between 10 and 86400", ge=0, le=86_400)
    ] = 300
    # GET /metrics (Prometheus text format, no authentication): off unless set, then 404.
    metrics_enabled: bool = False
    # Where each API and worker process keeps its metric values (prometheus-client's
    # multiprocess mode), so one scrape adds every process up; one directory for all of them,
    # emptied before they start (`make run` uses DATA_DIR/metrics). Unset: each process
    # reports only itself (the worker's build metrics are then not seen through the API).
    prometheus_multiproc_dir: (
        Annotated[str, _setting("must not be empty or contain NUL", pattern=r"^[^\x00]+$")] | None
    ) = None
    # The worker's retention cron deletes container events and audit rows older than these
    # (0 keeps them forever). The events of each container's last build are always kept.
    events_retention_days: Annotated[
        int, _setting("0 (keep) or a number of days up to 36500", ge=0, le=36_500)
    ] = 90
    audit_retention_days: Annotated[
        int, _setting("0 (keep) or a number of days up to 36500", ge=0, le=36_500)
    ] = 365

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debug output; the keys must not.
        shown: dict[str, object] = {}
        for f in msgspec.structs.fields(self):
            value = getattr(self, f.name)
            if f.name == "secret_keys" and value is not None:
                value = "[redacted]"
            elif isinstance(value, str):
                value = _URL_PASSWORD.sub(r"\1:[redacted]@", value)
            shown[f.name] = value
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    @property
    def worker_heartbeat_ttl(self) -> float:
        """A worker counts as alive for three missed beats: one slow beat is not an outage."""
        return self.worker_heartbeat_seconds * 3

    def required(self, env_name: str, hint: str = "") -> str:
        """The value of the setting named `env_name` (`REDIS_URL`), or a SettingsError saying
        it is not set (with `hint`, how to set it): the one place a missing setting is told."""
        value = getattr(self, env_name.lower())
        if value is None:
            raise SettingsError(env_name, f"is not set ({hint})" if hint else "is not set")
        return str(value)

    @property
    def sqlalchemy_url(self) -> str:
        """`DATABASE_URL` in the form SQLAlchemy's asyncpg dialect expects."""
        url = self.required("DATABASE_URL")
        return re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql+asyncpg://", url)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """TRUSTED_PROXIES as addresses and networks; a malformed entry is a SettingsError."""
        entries = [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    "TRUSTED_PROXIES", f"{entry!r} is not an IP address or network"
                ) from None
        return entries

    @property
    def cors_origin_list(self) -> list[str]:
        """CORS_ALLOWED_ORIGINS as a list of exact origins (lower-case, as browsers send them)."""
        return [o.strip().lower() for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_explicit_allow_list(settings: Settings) -> None:
    """An API reachable from other machines must say which Proxmox hosts it talks to: with
    `*`, anyone who reaches it can make it connect anywhere (login is unauthenticated)."""
    if settings.pve_allowed_hosts is None and not _is_loopback(settings.api_host):
        raise SettingsError(
            "PVE_ALLOWED_HOSTS",
            f"must be set when API_HOST ({settings.api_host}) is not a loopback address:"
            " name your Proxmox hosts or networks (e.g. 10.0.0.0/8), or * to allow any host",
        )


def require_consistent_browser_settings(settings: Settings) -> None:
    """Cross-site cookies are only for the frontends named in CORS_ALLOWED_ORIGINS: without
    one, `SameSite=None` would send the session along with every other site's requests."""
    if settings.session_cookie_cross_site and not settings.cors_origin_list:
        raise SettingsError(
            "SESSION_COOKIE_CROSS_SITE",
            "needs CORS_ALLOWED_ORIGINS: name the frontend origins the cookies are for",
        )


class SettingsError(Exception):
    """A setting is missing or malformed; `str()` is the one line shown to the operator."""

    def __init__(self, env_name: str, problem: str) -> None:
        super().__init__(f"{env_name}: {problem}")
        self.env_name = env_name


_URL_PASSWORD = re.compile(r"^([a-z+]+://[^:/@]*):[^@]*@")
_FIELD_IN_ERROR = re.compile(r"`\$\.(\w+)`")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build `Settings` from environment variables (upper-case field names) plus overrides.

    Empty variables count as unset, so `REDIS_URL= make run` means "embedded Redis".
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        value = environ.get(field.name.upper())
        if value:
            raw[field.name] = value
    raw.update(overrides)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _explain(exc) from None
    require_consistent_browser_settings(settings)
    return settings


def _explain(exc: msgspec.ValidationError) -> SettingsError:
    message = str(exc)
    match = _FIELD_IN_ERROR.search(message)
    if match is None:
        return SettingsError("settings", message)
    name = match.group(1)
    field = next(f for f in msgspec.structs.fields(Settings) if f.name == name)
    hint = _hint_for(field.type) or message.split(" - at ")[0]
    return SettingsError(name.upper(), hint)


def _hint_for(annotation: object) -> str | None:
    """The `hint` stored in a field's Meta, looking through `X | None` and `Annotated`."""
    for arg in getattr(annotation, "__args__", ()):
        found = _hint_for(arg)
        if found:
            return found
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, msgspec.Meta) and meta.extra and "hint" in meta.extra:
            return str(meta.extra["hint"])
    if get_origin(annotation) is Literal:
        return "must be one of " + ", ".join(map(str, get_args(annotation)))
    return None
