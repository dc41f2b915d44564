"""The API application factory: `create_app(settings)` wires everything in one place."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Tag
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.auth import SECURITY_COMPONENTS, SessionAuthMiddleware
from services.api.cors import cors_config
from services.api.events_hub import EventHub
from services.api.headers import SecurityHeaders, docs_assets, docs_plugin
from services.api.middleware import RequestContext
from services.api.middleware import log as access_log
from services.api.openapi_plugins import StrictStructSchemaPlugin, refine_openapi
from services.api.problems import EXCEPTION_HANDLERS
from services.api.requests import InfrahausRequest, complete_allow_headers
from services.api.routes import (
    audit,
    auth,
    buckets,
    containers,
    events,
    metrics,
    nodes,
    services,
    system,
    templates,
    vmids,
)
from services.api.throttle import LoginThrottle
from services.api.tickets import StreamTickets
from shared.adapters.proxmox.pool import ProxmoxClientPool
from shared.adapters.queue import create_queue
from shared.adapters.readcache import InvalidationSubscriber, ReadCache, invalidation_channel
from shared.adapters.redis import create_redis
from shared.core import metrics as process_metrics
from shared.core.crypto import SecretBox
from shared.core.logging import configure_logging, get_logger
from shared.core.settings import Settings, load_settings, require_consistent_browser_settings
from shared.db import create_engine, create_session_factory
from shared.domain.sessions import SessionStore
from shared.domain.vmids import VmidCache

log = get_logger(__name__)

API_DESCRIPTION = """\
Infrahaus builds Proxmox VE LXC containers from reusable templates and reports their progress.

Errors are RFC 9457 problem details (`application/problem+json`).
"""


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Infrahaus API",
        version=version("infrahaus"),
        description=API_DESCRIPTION,
        path="/schema",
        render_plugins=[docs_plugin()],  # served from this origin (services/api/headers.py)
        tags=[
            Tag(name="System", description="Liveness and readiness probes"),
            Tag(name="Auth", description="Sessions: log in with Proxmox credentials"),
            Tag(name="Nodes", description="Proxmox VE nodes you registered"),
            Tag(name="VMID", description="Guest ids in use on a node's cluster"),
            Tag(name="Containers", description="Inventory and lifecycle actions"),
            Tag(name="Services", description="What runs in a container, its credentials, logs"),
            Tag(
                name="Templates",
                description="What a container becomes: OS, resources, packages, files, scripts",
            ),
            Tag(name="Buckets", description="Reusable package lists for templates"),
            Tag(name="Audit", description="Your audit trail: changes and credential reveals"),
        ],
        components=SECURITY_COMPONENTS,
        use_handler_docstrings=True,
        create_examples=False,
    )


class InfrahausCore(InitPluginProtocol):
    """Everything the app is made of: routes, error format, middleware, resources."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        keys = settings.required(
            "SECRET_KEYS", "generate one with `python -m shared.keys generate`"
        )
        self.secret_box = SecretBox.from_spec(keys)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                system.health,
                system.ready,
                metrics.scrape,
                *auth.ROUTES,
                nodes.NodeController,
                vmids.VmidController,
                containers.ContainerController,
                events.EventController,
                services.ServiceController,
                templates.TemplateController,
                buckets.BucketController,
                audit.AuditController,
                docs_assets(),
            ]
        )
        app_config.middleware.append(DefineMiddleware(SessionAuthMiddleware, exclude=["^/schema"]))
        app_config.cors_config = cors_config(self.settings)  # None: same-origin only
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.request_class = InfrahausRequest  # deeply nested JSON: 400, not 500
        app_config.openapi_config = openapi_config()
        app_config.lifespan.append(self._resources)
        app_config.dependencies["db_session"] = Provide(provide_db_session)
        app_config.debug = False
        app_config.logging_config = None  # shared.core.logging owns the logging set-up
        return app_config

    @asynccontextmanager
    async def _resources(self, app: Litestar) -> AsyncIterator[None]:
        """Connections are opened lazily, so the app starts even while a dependency is down."""
        engine = create_engine(self.settings)
        redis = create_redis(self.settings, max_connections=self.settings.api_redis_connections)
        app.state.settings = self.settings
        app.state.db_engine = engine
        app.state.db_sessions = create_session_factory(engine)
        app.state.redis = redis
        app.state.secret_box = self.secret_box
        app.state.queue = create_queue(self.settings)
        app.state.proxmox_clients = ProxmoxClientPool()
        # Sessions and VMID sets, cached in this process while its invalidation subscription
        # is up (shared.adapters.readcache); every write publishes the names of the keys it changed.
        channel = invalidation_channel(redis, self.settings.queue_name)
        seconds = self.settings.api_read_cache_seconds
        cache = ReadCache(seconds) if seconds > 0 else None
        subscriber = (
            InvalidationSubscriber(self.settings.redis_url or "", channel, cache)
            if cache is not None
            else None
        )
        app.state.read_cache, app.state.read_cache_subscriber = cache, subscriber
        app.state.sessions = SessionStore(
            redis, self.settings.session_ttl_seconds, channel=channel, cache=app.state.read_cache
        )
        app.state.vmids = VmidCache(redis, channel, app.state.read_cache)
        app.state.stream_tickets = StreamTickets(redis)
        app.state.login_throttle = LoginThrottle(
            redis,
            namespace=self.settings.queue_name,
            per_account=self.settings.login_max_failures,
            per_client=self.settings.login_max_failures_per_client,
            window_seconds=self.settings.login_window_seconds,
        )
        # One pub/sub connection fans progress events out to every SSE client of this process.
        app.state.event_hub = EventHub(
            self.settings.redis_url or "", tick_seconds=min(1.0, self.settings.sse_ping_seconds / 3)
        )
        await app.state.event_hub.start()
        if subscriber is not None:
            await subscriber.start()
        # Everything built so far lives as long as the process: moved out of the collector's
        # sight, so its full passes (tens of ms each, the whole latency tail) stop scanning it.
        gc.collect()
        gc.freeze()
        log.info("api started", queue=self.settings.queue_name)
        try:
            yield
        finally:
            if subscriber is not None:
                await subscriber.stop()
            await app.state.event_hub.stop()
            await app.state.proxmox_clients.aclose()
            await app.state.queue.aclose(close_connection_pool=True)
            await redis.aclose()
            await engine.dispose()


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; services commit explicitly, anything else is rolled back."""
    async with state.db_sessions() as session:
        yield session


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the ASGI app; settings default to the environment (see `shared.core.settings`)."""
    settings = settings or load_settings()
    for name in ("DATABASE_URL", "REDIS_URL"):
        settings.required(name, "`make run` starts embedded servers for you")
    require_consistent_browser_settings(settings)
    configure_logging(settings)
    process_metrics.configure(settings)
    app = Litestar(plugins=[InfrahausCore(settings), StrictStructSchemaPlugin()])
    refine_openapi(app)
    complete_allow_headers(app)
    # Outside routing, so 404/405 answers carry a request id and are logged too.
    app.asgi_handler = RequestContext(app.asgi_handler, log_probes=settings.log_level == "debug")
    app.on_shutdown.append(access_log.flush)  # the access log's last batch
    app.asgi_handler = SecurityHeaders(app.asgi_handler, https=settings.session_cookie_secure)
    return app
