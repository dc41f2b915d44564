"""The ``/api2/json`` request pipeline and endpoint handlers.

Order of checks follows pveproxy/pvedaemon: route lookup (501), node faults, authentication
(401, empty body, delayed), token restrictions and permissions (403), parameter validation
against the official schema (400), then the handler (its errors are mostly 500).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import structlog

from services.pvesim.auth import Authenticator, AuthFailure, Caller, Identity, Pool
from services.pvesim.cluster import Cluster
from services.pvesim.errors import PveError, param_error, permission_error
from services.pvesim.httpserver import Request, Response
from services.pvesim.validation import load_schema, to_bool, validate

log = structlog.get_logger()

PVE_VERSION = "9.1.4"
PVE_RELEASE = "9.1"
PVE_REPOID = "5c4a1b2e7d9f3a60"
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE")

Handler = Callable[["ApiContext"], Awaitable[Any]]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    # (ACL path template, privileges, any-of) checked before validation; None = handler decides.
    permission: tuple[str, tuple[str, ...], bool] | None


@dataclass
class ApiContext:
    params: dict[str, Any]
    identity: Identity | None
    request: Request

    @property
    def node(self) -> str:
        return str(self.params["node"])

    @property
    def vmid(self) -> int:
        return int(self.params["vmid"])


class ResponseWithTotal:
    """Handler result that adds ``total`` next to ``data`` (task logs)."""

    def __init__(self, data: Any, total: int):
        self.data = data
        self.total = total


def error_response(error: PveError) -> Response:
    payload: dict[str, Any] = {"data": None, "message": error.message}
    if error.errors:
        payload["errors"] = error.errors
    return Response.json(error.status, payload, error.message)


def _route_pattern(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}/?$")


class PveApi:
    """Routes ``/api2/json`` requests to the handlers below."""

    def __init__(
        self, cluster: Cluster, auth: Authenticator, auth_failure_delay: float, fingerprint: str
    ):
        self.cluster = cluster
        self.auth = auth
        self.auth_failure_delay = auth_failure_delay
        self.fingerprint = fingerprint
        self.routes: list[Route] = []
        self._register_routes()

    # ----- routing ------------------------------------------------------------------------

    def _add(
        self,
        method: str,
        template: str,
        handler: Handler,
        permission: tuple[str, tuple[str, ...], bool] | None = None,
    ) -> None:
        self.routes.append(Route(method, template, _route_pattern(template), handler, permission))

    def _register_routes(self) -> None:
        vm_audit = ("/vms/{vmid}", ("VM.Audit",), False)
        power = ("/vms/{vmid}", ("VM.PowerMgmt",), False)
        node_audit = ("/nodes/{node}", ("Sys.Audit",), False)
        lxc = "/nodes/{node}/lxc/{vmid}"
        self._add("GET", "/version", self.get_version)
        self._add("POST", "/access/ticket", self.create_ticket)
        self._add("GET", "/nodes", self.list_nodes)
        self._add("GET", "/nodes/{node}/status", self.node_status, node_audit)
        self._add("GET", "/nodes/{node}/network", self.node_network, node_audit)
        self._add("GET", "/nodes/{node}/storage", self.list_storage)
        self._add(
            "GET",
            "/nodes/{node}/storage/{storage}/content",
            self.storage_content,
            ("/storage/{storage}", ("Datastore.Audit", "Datastore.AllocateSpace"), True),
        )
        self._add("GET", "/nodes/{node}/tasks", self.list_tasks)
        self._add("GET", "/nodes/{node}/tasks/{upid}/status", self.task_status)
        self._add("GET", "/nodes/{node}/tasks/{upid}/log", self.task_log)
        self._add("DELETE", "/nodes/{node}/tasks/{upid}", self.stop_task)
        self._add("GET", "/nodes/{node}/lxc", self.list_containers)
        self._add("POST", "/nodes/{node}/lxc", self.create_container)
        self._add("GET", lxc, self.container_index)
        self._add("DELETE", lxc, self.destroy_container, ("/vms/{vmid}", ("VM.Allocate",), False))
        self._add("GET", f"{lxc}/config", self.get_config, vm_audit)
        self._add(
            "PUT",
            f"{lxc}/config",
            self.put_config,
            (
                "/vms/{vmid}",
                (
                    "VM.Config.Disk",
                    "VM.Config.CPU",
                    "VM.Config.Memory",
                    "VM.Config.Network",
                    "VM.Config.Options",
                ),
                True,
            ),
        )
        self._add("GET", f"{lxc}/interfaces", self.interfaces, vm_audit)
        self._add("GET", f"{lxc}/status/current", self.status_current, vm_audit)
        for action in ("start", "stop", "shutdown", "reboot"):
            self._add("POST", f"{lxc}/status/{action}", self.power_action, power)
        self._add("GET", "/cluster/resources", self.cluster_resources)
        self._add("GET", "/cluster/nextid", self.next_id)
        self._add("GET", "/access/permissions", self.access_permissions)
        pool_allocate = ("/pool/{poolid}", ("Pool.Allocate",), False)
        self._add("GET", "/pools", self.list_pools)
        self._add("POST", "/pools", self.create_pool, pool_allocate)
        self._add(
            "GET", "/pools/{poolid}", self.read_pool, ("/pool/{poolid}", ("Pool.Audit",), False)
        )

    def _find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            match = route.pattern.match(path)
            if match:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None

    # ----- pipeline -----------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        method = request.method
        if method not in ALLOWED_METHODS:
            return error_response(PveError(f"method '{method}' not available", 501))
        parts = unquote(request.path).split("/", 3)
        if len(parts) < 3 or parts[1] != "api2" or not parts[2]:
            return error_response(PveError("no such uri", 501))
        if parts[2] != "json":
            return error_response(PveError(f"no formatter for uri {request.path}", 501))
        rel_path = "/" + (parts[3] if len(parts) > 3 else "")
        # pveproxy authenticates before it looks for a handler; only the login is open.
        identity = None
        if not _open_without_auth(method, rel_path.rstrip("/")):
            try:
                identity = self.auth.identify(method, request.headers, request.cookies)
            except AuthFailure as failure:
                await asyncio.sleep(self.auth_failure_delay)
                return Response(401, b"", str(failure))
        found = self._find_route(method, rel_path.rstrip("/") or "/")
        if found is None:
            return error_response(PveError(f"Method '{method} {rel_path}' not implemented", 501))
        route, path_params = found
        try:
            fault = await self._apply_node_faults(path_params.get("node"))
            if fault is not None:
                return fault
            params = self._collect_params(request, path_params)
            schema = load_schema()[f"{route.method} {route.template}"]
            if identity is not None:
                if identity.is_token and not schema["allowtoken"]:
                    raise permission_error(
                        f"URI '{route.template}' not available with API token, need proper "
                        "ticket.\n"
                    )
                self._check_route_permission(route, identity, {**params, **path_params})
            errors = validate(schema["parameters"], params)
            if errors:
                raise param_error(errors)
            params = {key: value for key, value in params.items() if value is not None}
            if "node" in path_params:
                self.cluster.node(path_params["node"])
            result = await route.handler(ApiContext(params, identity, request))
        except PveError as error:
            if error.status >= 500:
                log.info("pvesim.api.error", path=request.path, message=error.message.strip())
            return error_response(error)
        if isinstance(result, Response):
            return result
        if isinstance(result, ResponseWithTotal):
            return Response.json(200, {"data": result.data, "total": result.total})
        return Response.json(200, {"data": result})

    async def _apply_node_faults(self, node: str | None) -> Response | None:
        """Latency, unreachable node and random errors for requests proxied to ``node``."""
        target = node if node in self.cluster.nodes else next(iter(self.cluster.nodes))
        faults = self.cluster.faults.get(target)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.down and node is not None:
            return error_response(PveError("No route to host", 595))
        if self.cluster.faults.should_fail_request(target):
            return error_response(PveError(faults.error_message, faults.error_status))
        return None

    @staticmethod
    def _collect_params(request: Request, path_params: dict[str, str]) -> dict[str, Any]:
        """``extract_params``: a JSON or form body, then the query string over it."""
        params: dict[str, Any] = {}
        if request.body:
            if request.method in ("GET", "DELETE"):
                raise PveError(f"Unexpected content for method '{request.method}'", 501)
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type == "application/json":
                try:
                    body = json.loads(request.body)
                except ValueError:
                    raise PveError("unable to parse JSON body", 400) from None
                if not isinstance(body, dict):
                    raise PveError("JSON body must be an object", 400)
                params.update(body)
            elif content_type in ("application/x-www-form-urlencoded", ""):
                params.update(decode_urlencoded(request.body.decode("latin-1")))
            else:
                raise PveError(f"unsupported content type '{content_type}'", 506)
        params.update(decode_urlencoded(request.query))
        params.pop("_dc", None)
        conflicts = {
            key: "duplicate parameter (already defined in URI) with conflicting values!"
            for key, value in path_params.items()
            if key in params and str(params[key]) != value
        }
        if conflicts:
            raise param_error(conflicts)
        params.update(path_params)
        return params

    @staticmethod
    def _check_route_permission(
        route: Route, identity: Identity, path_params: dict[str, str]
    ) -> None:
        if route.permission is None:
            return
        acl_template, privileges, any_of = route.permission
        acl_path = acl_template.format_map({k: str(v) for k, v in path_params.items()})
        caller = identity.caller
        if any_of:
            caller.check_any(acl_path, privileges)
        else:
            caller.check(acl_path, privileges)

    @staticmethod
    def _caller(ctx: ApiContext) -> Caller:
        assert ctx.identity is not None
        return ctx.identity.caller

    # ----- handlers -----------------------------------------------------------------------

    async def get_version(self, ctx: ApiContext) -> dict:
        return {
            "version": PVE_VERSION,
            "release": PVE_RELEASE,
            "repoid": PVE_REPOID,
            "console": "xtermjs",
        }

    async def create_ticket(self, ctx: ApiContext) -> dict:
        auth = ctx.request.headers.get("authorization", "")
        if auth.startswith(("PVEAPIToken=", "PVEAPIToken ")):
            raise permission_error(
                "URI '/access/ticket' not available with API token, need proper ticket.\n"
            )
        userid = self.auth.check_password(
            str(ctx.params["username"]), ctx.params.get("realm"), str(ctx.params["password"])
        )
        if userid is None:
            await asyncio.sleep(self.auth_failure_delay)
            raise PveError("authentication failure", 401)
        ticket, csrf = self.auth.create_ticket(userid)
        return {
            "username": userid,
            "ticket": ticket,
            "CSRFPreventionToken": csrf,
            "cap": self._capabilities(userid),
        }

    def _capabilities(self, authid: str) -> dict[str, dict[str, int]]:
        """``compute_api_permission``: privileges per top-level area, for the GUI."""
        areas = {
            "vms": ("/vms", ("VM.", "Permissions.Modify")),
            "storage": ("/storage", ("Datastore.", "Permissions.Modify")),
            "nodes": ("/nodes", ("Sys.", "Permissions.Modify")),
            "sdn": ("/sdn", ("SDN.", "Permissions.Modify")),
            "access": ("/access/groups", ("User.", "Group.", "Permissions.Modify")),
            "dc": ("/", ("Sys.Audit", "Sys.Modify", "SDN.")),
        }
        access = self.auth.access
        acl_paths = {entry.path for entry in access.acl}
        result: dict[str, dict[str, int]] = {}
        for area, (top, prefixes) in areas.items():
            paths = {top} | {p for p in acl_paths if p.startswith(top.rstrip("/") + "/")}
            granted: dict[str, int] = {}
            for path in paths:
                for privilege in access.permissions(authid, path):
                    if privilege.startswith(prefixes):
                        granted[privilege] = 1
            result[area] = dict(sorted(granted.items()))
        return result

    async def list_nodes(self, ctx: ApiContext) -> list[dict]:
        result = []
        for node in self.cluster.nodes.values():
            item = self.cluster.node_summary(node)
            item["ssl_fingerprint"] = self.fingerprint
            result.append(item)
        return result

    async def node_status(self, ctx: ApiContext) -> dict:
        node = self.cluster.node(ctx.node)
        return {
            "cpu": 0.031,
            "wait": 0.0004,
            "idle": 0,
            "cpuinfo": {
                "cores": 8,
                "cpus": 16,
                "model": "AMD EPYC 7302P 16-Core Processor",
                "sockets": 1,
                "mhz": "3000.000",
                "hvm": "1",
                "flags": "fpu vme sse2",
            },
            "memory": {
                "total": 64 * 1024**3,
                "used": 9 * 1024**3,
                "free": 55 * 1024**3,
                "available": 54 * 1024**3,
            },
            "swap": {"total": 8 * 1024**3, "used": 0, "free": 8 * 1024**3},
            "ksm": {"shared": 0},
            "rootfs": {
                "total": 100 * 1024**3,
                "used": 12 * 1024**3,
                "free": 88 * 1024**3,
                "avail": 83 * 1024**3,
            },
            "loadavg": ["0.12", "0.09", "0.05"],
            "uptime": int(self.cluster.clock.now() - node.booted_at),
            "kversion": "Linux 6.14.11-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4",
            "current-kernel": {
                "sysname": "Linux",
                "release": "6.14.11-4-pve",
                "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.11-4",
                "machine": "x86_64",
            },
            "boot-info": {"mode": "efi", "secureboot": 0},
            "pveversion": f"pve-manager/{PVE_VERSION}/{PVE_REPOID}",
        }

    async def node_network(self, ctx: ApiContext) -> list[dict]:
        node = self.cluster.node(ctx.node)
        interfaces = [
            {
                "iface": "vmbr0",
                "type": "bridge",
                "active": 1,
                "autostart": 1,
                "bridge_ports": "eno1",
                "bridge_stp": "off",
                "bridge_fd": "0",
                "method": "static",
                "method6": "manual",
                "families": ["inet"],
                "address": node.address,
                "netmask": "24",
                "cidr": f"{node.address}/24",
                "gateway": "192.168.100.1",
                "priority": 5,
            },
            {
                "iface": "eno1",
                "type": "eth",
                "active": 1,
                "exists": 1,
                "method": "manual",
                "method6": "manual",
                "families": ["inet"],
                "priority": 3,
            },
        ]
        wanted = ctx.params.get("type")
        if wanted in ("bridge", "any_bridge", "any_local_bridge"):
            return [i for i in interfaces if i["type"] == "bridge"]
        if wanted:
            return [i for i in interfaces if i["type"] == wanted]
        return interfaces

    async def list_storage(self, ctx: ApiContext) -> list[dict]:
        node = self.cluster.node(ctx.node)
        wanted_storage = ctx.params.get("storage")
        if wanted_storage and wanted_storage not in node.storages:
            raise param_error({"storage": "No such storage."})
        content = ctx.params.get("content")
        caller = self._caller(ctx)
        result = []
        for storage in node.storages.values():
            if wanted_storage and storage.name != wanted_storage:
                continue
            if not caller.check_any(
                f"/storage/{storage.name}",
                ["Datastore.Audit", "Datastore.AllocateSpace"],
                noerr=True,
            ):
                continue
            if content and not all(storage.allows(c) for c in content.split(",")):
                continue
            used = self.cluster.storage_used(node, storage)
            result.append(
                {
                    "storage": storage.name,
                    "type": storage.type,
                    "content": storage.content,
                    "active": 1,
                    "enabled": 1,
                    "shared": storage.shared,
                    "total": storage.total,
                    "used": used,
                    "avail": storage.total - used,
                    "used_fraction": round(used / storage.total, 6),
                }
            )
        return result

    async def storage_content(self, ctx: ApiContext) -> list[dict]:
        node = self.cluster.node(ctx.node)
        storage = node.storages.get(str(ctx.params["storage"]))
        if storage is None:
            raise PveError(f"storage '{ctx.params['storage']}' does not exist")
        items = self.cluster.storage_content(node, storage)
        if ctx.params.get("content"):
            items = [i for i in items if i["content"] == ctx.params["content"]]
        if ctx.params.get("vmid"):
            items = [i for i in items if i.get("vmid") == int(ctx.params["vmid"])]
        return items

    async def list_tasks(self, ctx: ApiContext) -> list[dict]:
        source = ctx.params.get("source", "archive")
        tasks = [t for t in self.cluster.tasks.tasks.values() if t.node == ctx.node]
        if source == "archive":
            tasks = [t for t in tasks if not t.running]
        elif source == "active":
            tasks = [t for t in tasks if t.running]
        if ctx.params.get("vmid"):
            tasks = [t for t in tasks if t.id == str(ctx.params["vmid"])]
        if ctx.params.get("typefilter"):
            tasks = [t for t in tasks if t.type == ctx.params["typefilter"]]
        if to_bool(ctx.params.get("errors", 0)):
            tasks = [t for t in tasks if t.exitstatus not in (None, "OK")]
        tasks.sort(key=lambda t: t.starttime, reverse=True)
        start = int(ctx.params.get("start", 0))
        limit = int(ctx.params.get("limit", 50))
        result = []
        for task in tasks[start : start + limit]:
            item = {k: v for k, v in task.status().items() if k not in ("exitstatus",)}
            item.pop("status")
            if not task.running:
                item["status"] = task.exitstatus
                item["endtime"] = task.endtime
            item["user"] = task.user
            result.append(item)
        return result

    async def task_status(self, ctx: ApiContext) -> dict:
        return self.cluster.tasks.get(ctx.node, str(ctx.params["upid"])).status()

    async def task_log(self, ctx: ApiContext) -> ResponseWithTotal:
        task = self.cluster.tasks.get(ctx.node, str(ctx.params["upid"]))
        lines = task.full_log()
        start = int(ctx.params.get("start", 0))
        limit = int(ctx.params.get("limit", 50))
        if not lines:
            return ResponseWithTotal([{"n": 1, "t": "no content"}], 1)
        window = lines[start:] if limit == 0 else lines[start : start + limit]
        data = [{"n": start + i + 1, "t": text} for i, text in enumerate(window)]
        return ResponseWithTotal(data, len(lines))

    async def stop_task(self, ctx: ApiContext) -> None:
        task = self.cluster.tasks.get(ctx.node, str(ctx.params["upid"]))
        if task.running and task.runner is not None:
            task.runner.cancel()
        return None

    async def list_containers(self, ctx: ApiContext) -> list[dict]:
        self.cluster.node(ctx.node)
        caller = self._caller(ctx)
        return [
            self.cluster.container_status(guest)
            for guest in sorted(self.cluster.guests.values(), key=lambda g: g.vmid)
            if guest.kind == "lxc"
            and guest.node == ctx.node
            and caller.check(f"/vms/{guest.vmid}", ["VM.Audit"], noerr=True)
        ]

    async def create_container(self, ctx: ApiContext) -> str:
        caller = self._caller(ctx)
        return await self.cluster.create(
            ctx.node, ctx.params, caller.authid, caller.is_root, caller=caller
        )

    async def container_index(self, ctx: ApiContext) -> list[dict]:
        self.cluster.container(ctx.node, ctx.vmid)
        return [
            {"subdir": name}
            for name in (
                "config",
                "pending",
                "status",
                "vncproxy",
                "termproxy",
                "vncwebsocket",
                "spiceproxy",
                "remote_migrate",
                "migrate",
                "clone",
                "rrd",
                "rrddata",
                "firewall",
                "snapshot",
                "resize",
                "interfaces",
            )
        ]

    async def destroy_container(self, ctx: ApiContext) -> str:
        assert ctx.identity is not None
        return self.cluster.destroy(ctx.node, ctx.vmid, ctx.params, ctx.identity.authid)

    async def get_config(self, ctx: ApiContext) -> dict:
        guest = self.cluster.container(ctx.node, ctx.vmid)
        return {**guest.config, "digest": guest.digest()}

    async def put_config(self, ctx: ApiContext) -> None:
        caller = self._caller(ctx)
        await self.cluster.update_config(
            ctx.node, ctx.vmid, ctx.params, caller.is_root, caller=caller
        )
        return None

    async def interfaces(self, ctx: ApiContext) -> list[dict] | None:
        guest = self.cluster.guests.get(ctx.vmid)
        if guest is None or guest.kind != "lxc" or guest.node != ctx.node:
            return None  # get_interfaces finds no pid: undef, whether stopped or missing
        if guest.status != "running":
            return None
        result = [
            {
                "name": "lo",
                "hwaddr": "00:00:00:00:00:00",
                "hardware-address": "00:00:00:00:00:00",
                "inet": "127.0.0.1/8",
                "inet6": "::1/128",
                "ip-addresses": [
                    {"ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8},
                    {"ip-address": "::1", "ip-address-type": "inet6", "prefix": 128},
                ],
            }
        ]
        net = self.cluster.network_state(guest)
        if net is not None:
            mac = net.hwaddr.lower()
            link_local = _link_local(mac)
            item: dict[str, Any] = {
                "name": net.iface,
                "hwaddr": mac,
                "hardware-address": mac,
                "inet6": f"{link_local}/64",
                "ip-addresses": [],
            }
            if guest.ipv4:
                item["inet"] = f"{guest.ipv4}/{net.prefix}"
                item["ip-addresses"].append(
                    {"ip-address": guest.ipv4, "ip-address-type": "inet", "prefix": net.prefix}
                )
            item["ip-addresses"].append(
                {"ip-address": link_local, "ip-address-type": "inet6", "prefix": 64}
            )
            result.append(item)
        return result

    async def status_current(self, ctx: ApiContext) -> dict:
        guest = self.cluster.container(ctx.node, ctx.vmid)
        return {**self.cluster.container_status(guest), "ha": {"managed": 0}}

    async def power_action(self, ctx: ApiContext) -> str:
        assert ctx.identity is not None
        action = ctx.request.path.rstrip("/").rsplit("/", 1)[1]
        authid, is_root = ctx.identity.authid, ctx.identity.is_root
        if action == "start":
            return self.cluster.start(ctx.node, ctx.vmid, ctx.params, authid, is_root)
        if action == "stop":
            return self.cluster.stop(ctx.node, ctx.vmid, ctx.params, authid, is_root)
        if action == "shutdown":
            return self.cluster.shutdown(ctx.node, ctx.vmid, ctx.params, authid)
        return self.cluster.reboot(ctx.node, ctx.vmid, ctx.params, authid)

    async def cluster_resources(self, ctx: ApiContext) -> list[dict]:
        caller = self._caller(ctx)
        access = self.auth.access
        type_filter = ctx.params.get("type")
        result = []
        for item in self.cluster.resources(type_filter):
            if item["type"] in ("lxc", "qemu"):
                if not caller.check(f"/vms/{item['vmid']}", ["VM.Audit"], noerr=True):
                    continue
                pool = access.pool_of(item["vmid"])
                if pool is not None:
                    item["pool"] = pool
            elif item["type"] == "storage" and not caller.check_any(
                f"/storage/{item['storage']}",
                ["Datastore.Audit", "Datastore.AllocateSpace"],
                noerr=True,
            ):
                continue
            result.append(item)
        if type_filter is None:
            for name in sorted(access.pools):
                if caller.check(f"/pool/{name}", ["Pool.Audit"], noerr=True):
                    result.append({"id": f"/pool/{name}", "type": "pool", "pool": name})
        return result

    async def access_permissions(self, ctx: ApiContext) -> dict[str, dict[str, int]]:
        caller = self._caller(ctx)
        userid = str(ctx.params.get("userid") or caller.authid)
        owner = userid.split("!", 1)[0] if "!" in userid else None
        if userid != caller.authid and owner != caller.authid:
            caller.check("/access", ["Sys.Audit"])
        access = self.auth.access
        if ctx.params.get("path"):
            path = str(ctx.params["path"])
            # `if ($perms)` in PVE tests a hash reference: an empty map is still answered
            tree = {path: access.permissions(userid, path)}
        else:
            tree = access.effective_permissions(userid)
        return {
            path: {privilege: int(flag) for privilege, flag in sorted(privileges.items())}
            for path, privileges in tree.items()
        }

    async def list_pools(self, ctx: ApiContext) -> list[dict[str, Any]]:
        caller = self._caller(ctx)
        access = self.auth.access
        wanted = ctx.params.get("poolid")
        if wanted is not None and wanted not in access.pools:
            raise PveError(f"pool '{wanted}' does not exist")
        result = []
        for name in sorted(access.pools):
            if wanted is not None and name != wanted:
                continue
            if not caller.check(f"/pool/{name}", ["Pool.Audit"], noerr=True):
                continue
            pool = access.pools[name]
            item: dict[str, Any] = {"poolid": name}
            if pool.comment is not None:
                item["comment"] = pool.comment
            if wanted is not None:
                item["members"] = _pool_members(self.cluster, pool, ctx.params.get("type"))
            result.append(item)
        return result

    async def create_pool(self, ctx: ApiContext) -> None:
        access = self.auth.access
        name = str(ctx.params["poolid"])
        if name in access.pools:
            raise PveError(f"create pool failed: pool '{name}' already exists")
        access.pools[name] = Pool(comment=ctx.params.get("comment") or None)
        return None

    async def read_pool(self, ctx: ApiContext) -> dict[str, Any]:
        access = self.auth.access
        name = str(ctx.params["poolid"])
        pool = access.pools.get(name)
        if pool is None:
            raise PveError(f"pool '{name}' does not exist")
        result: dict[str, Any] = {
            "members": _pool_members(self.cluster, pool, ctx.params.get("type"))
        }
        if pool.comment is not None:
            result["comment"] = pool.comment
        return result

    async def next_id(self, ctx: ApiContext) -> str:
        if "vmid" in ctx.params:
            vmid = int(ctx.params["vmid"])
            if vmid in self.cluster.guests:
                raise param_error({"vmid": f"VM {vmid} already exists"})
            return str(vmid)
        return str(self.cluster.next_free_vmid())


def _pool_members(cluster: Cluster, pool: Pool, kind: str | None) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = []
    guests = {item["vmid"]: item for item in cluster.resources("vm")}
    for vmid in sorted(pool.vms):
        item = guests.get(vmid)
        if item is not None and kind in (None, item["type"]):
            members.append(item)
    if kind in (None, "storage"):
        node = next(iter(cluster.nodes))
        members.extend(
            item
            for item in cluster.resources("storage")
            if item["node"] == node and item["storage"] in pool.storage
        )
    return members


def _open_without_auth(method: str, path: str) -> bool:
    """``HTTPServer::auth_handler``: the calls pveproxy serves without credentials."""
    return (path == "/access/ticket" and method in ("GET", "POST")) or (
        path == "/access/domains" and method == "GET"
    )


_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")


def _unescape(text: str) -> str:
    raw = _PERCENT.sub(lambda m: chr(int(m[1], 16)), text.replace("+", " "))
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")


def decode_urlencoded(data: str) -> dict[str, Any]:
    """``PVE::APIServer::AnyEvent::decode_urlencoded``: pairs split on ``&`` *and* ``;``; a raw
    ``=`` in a value cuts it short (Perl ``split /=/``); a key without value is undefined
    (None); repeated keys become a list."""
    result: dict[str, Any] = {}
    if not data:
        return result
    for pair in re.split(r"[&;]", data):
        fields = pair.split("=")
        while len(fields) > 1 and fields[-1] == "":
            fields.pop()  # Perl's split drops trailing empty fields
        key = _unescape(fields[0])
        value: Any = _unescape(fields[1]) if len(fields) > 1 else None
        if value is not None and key in result and result[key] is not None:
            old = result[key]
            value = [*old, value] if isinstance(old, list) else [old, value]
        result[key] = value
    return result


def _link_local(mac: str) -> str:
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)
