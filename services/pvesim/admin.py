"""Admin API (plain HTTP, own port): fault injection, clock control and state inspection.

It lives outside ``/api2`` and on its own listener so it stays reachable while the simulated
entry node is "down" (its API port then refuses connections).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from services.pvesim.auth import AclEntry, normalise_acl_path
from services.pvesim.httpserver import Request, Response

if TYPE_CHECKING:
    from services.pvesim.simulator import SimulatorHandle

_FAULTS_NODE = re.compile(r"^/_admin/faults/([^/]+)$")
_CONTAINER = re.compile(r"^/_admin/containers/(\d+)$")
_MOVE = re.compile(r"^/_admin/containers/(\d+)/move$")


def _ok(payload: Any) -> Response:
    return Response.json(200, {"data": payload})


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"data": None, "message": message}, message)


class AdminApi:
    """Handlers for ``/_admin/...``; all bodies are JSON."""

    def __init__(self, simulator: SimulatorHandle):
        self.sim = simulator

    @property
    def cluster(self):
        return self.sim.cluster

    async def handle(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            return _error(400, "body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        if path == "/_admin/faults" and method == "GET":
            return _ok(self.cluster.faults.snapshot())
        if path in ("/_admin/faults/reset", "/_admin/reset") and method == "POST":
            self.cluster.faults.reset()
            await self.sim.apply_reachability()
            return _ok(self.cluster.faults.snapshot())
        match = _FAULTS_NODE.match(path)
        if match:
            return await self._node_faults(match[1], method, body)
        if path == "/_admin/clock" and method == "POST":
            self.cluster.clock.offset += float(body.get("advance", 0))
            return _ok({"offset": self.cluster.clock.offset})
        if path == "/_admin/state" and method == "GET":
            return _ok(self._state())
        match = _CONTAINER.match(path)
        if match and method == "GET":
            return self._container(int(match[1]))
        match = _MOVE.match(path)
        if match and method == "POST":
            return self._move(int(match[1]), body)
        if path == "/_admin/acl":
            return self._acl(method, body)
        if path == "/_admin/ssh/authorized-keys" and method == "POST":
            key = str(body.get("key", "")).strip()
            if not key:
                return _error(400, "key is required")
            self.sim.authorized_keys.append(key)
            return _ok(None)
        return _error(404, f"no admin endpoint {method} {path}")

    async def _node_faults(self, node: str, method: str, body: dict) -> Response:
        if node not in self.cluster.nodes:
            return _error(404, f"no such node '{node}'")
        if method in ("PUT", "POST"):
            try:
                self.cluster.faults.update(node, body)
            except KeyError as exc:
                return _error(400, str(exc.args[0]))
            except (TypeError, ValueError) as exc:
                return _error(400, f"invalid fault value: {exc}")
        elif method == "DELETE":
            self.cluster.faults.reset(node)
        elif method != "GET":
            return _error(405, f"method {method} not allowed")
        await self.sim.apply_reachability()
        return _ok(self.cluster.faults.snapshot()[node])

    def _acl(self, method: str, body: dict) -> Response:
        """``pveum acl modify``: ``{"path", "ugid" (user or token id), "role", "propagate",
        "delete"}``; a missing ``role`` with ``delete`` removes every role of ``ugid`` there."""
        access = self.sim.access
        if method in ("PUT", "POST"):
            path, ugid = body.get("path"), body.get("ugid")
            role = body.get("role")
            if not isinstance(path, str) or not isinstance(ugid, str):
                return _error(400, "path and ugid are required")
            if ugid not in access.users and ugid not in access.tokens:
                return _error(400, f"no such user or token '{ugid}'")
            if role is not None and role not in access.roles:
                return _error(400, f"role '{role}' does not exist")
            path = normalise_acl_path(path)
            access.acl = [
                entry
                for entry in access.acl
                if not (entry.path == path and entry.ugid == ugid and role in (None, entry.role))
            ]
            if not body.get("delete"):
                if role is None:
                    return _error(400, "role is required")
                access.acl.append(AclEntry(path, ugid, role, bool(body.get("propagate", 1))))
        elif method != "GET":
            return _error(405, f"method {method} not allowed")
        return _ok(
            [
                {"path": e.path, "ugid": e.ugid, "roleid": e.role, "propagate": int(e.propagate)}
                for e in access.acl
            ]
        )

    def _state(self) -> dict[str, Any]:
        return {
            "nodes": list(self.cluster.nodes),
            "guests": [
                {
                    "vmid": g.vmid,
                    "type": g.kind,
                    "node": g.node,
                    "status": g.status,
                    "lock": g.lock,
                    "ipv4": g.ipv4,
                    "hostname": g.hostname,
                }
                for g in sorted(self.cluster.guests.values(), key=lambda g: g.vmid)
            ],
            "tasks": {
                "total": len(self.cluster.tasks.tasks),
                "running": sum(t.running for t in self.cluster.tasks.tasks.values()),
            },
            "faults": self.cluster.faults.snapshot(),
            "clockOffset": self.cluster.clock.offset,
        }

    def _move(self, vmid: int, body: dict) -> Response:
        """``{"node"}``: the container's config moves to that node of the cluster, as
        ``mv /etc/pve/nodes/A/lxc/V.conf /etc/pve/nodes/B/lxc/`` does (and as a migration
        ends); its status and root directory go with it. A locked container is refused."""
        guest = self.cluster.guests.get(vmid)
        if guest is None or guest.kind != "lxc":
            return _error(404, f"no container {vmid}")
        target = body.get("node")
        if not isinstance(target, str) or target not in self.cluster.nodes:
            return _error(400, f"no such node '{target}'")
        if guest.lock:
            return _error(409, f"container {vmid} is locked ({guest.lock})")
        guest.node = target
        return _ok({"vmid": vmid, "node": target})

    def _container(self, vmid: int) -> Response:
        guest = self.cluster.guests.get(vmid)
        if guest is None or guest.kind != "lxc":
            return _error(404, f"no container {vmid}")
        root = self.cluster.sandbox.container_root(vmid)
        state = root / "var/lib/pvesim"

        def lines(path) -> list[str]:
            return path.read_text().split() if path.is_file() else []

        wants = root / "etc/systemd/system/multi-user.target.wants"
        return _ok(
            {
                "vmid": vmid,
                "node": guest.node,
                "status": guest.status,
                "rootDir": str(root),
                "packages": {
                    kind: lines(state / "packages" / kind) for kind in ("apt", "pip", "npm")
                },
                "activeUnits": sorted(p.name for p in (state / "active").glob("*")),
                "enabledUnits": sorted(p.name for p in wants.glob("*")) if wants.is_dir() else [],
            }
        )
