"""What runs in a container: services, their ports and URLs, their credentials, their logs.

Discovery is one `pct exec` (one SSH round trip whatever the number of services): a fixed
script prints the credential files, `ss -tlnpH`, the running units with `systemctl show`, and
the process table, in sections; the parsing happens here. Credentials are stored encrypted,
one JSON object per service, and only revealed through the audited route.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.adapters.pct import Pct
from shared.adapters.proxmox import NodeFailure, ProxmoxError
from shared.adapters.proxmox.client import segment
from shared.adapters.ssh import NodeSsh
from shared.core.crypto import DecryptionError, SecretBox
from shared.core.errors import Conflict, InvalidInput, NotFound
from shared.core.lifecycle import Lifecycle
from shared.core.logging import get_logger
from shared.db.models import Container, DiscoveredService, Node
from shared.domain import audit
from shared.domain.containers.base import ContainerServiceBase

log = get_logger(__name__)

CREDENTIALS_DIR = "/etc/infrahaus/credentials"
UNIT_NAME = r"^[A-Za-z0-9@._:-]+$"
LOG_LINES = (1, 500)
HTTP_PORTS = frozenset({80, 3000, 5000, 8000, 8008, 8080, 8081, 8888, 9000})
HTTPS_PORTS = frozenset({443, 8443})
# Units every container has: shown, but flagged, so a UI can fold them away.
_SYSTEM_UNIT = re.compile(
    r"^(ssh|sshd|cron|anacron|atd|dbus|rsyslog|syslog|postfix|exim4|networking|ifupdown-.*"
    r"|getty@.*|console-getty|container-getty@.*|serial-getty@.*|systemd-.*|user@.*"
    r"|polkit|unattended-upgrades|apt-daily.*|e2scrub.*|man-db|logrotate|chrony|ntp|ntpsec"
    r"|systemd|dhclient|dhcpcd|networkd-dispatcher|cloud-.*)$"
)

# The one command discovery runs inside the container. Sections start with `@@NAME`.
# Credential files come base64-encoded (values may hold any byte but NUL).
_DISCOVER = rf"""
export LC_ALL=C
echo @@CREDENTIALS
for f in {CREDENTIALS_DIR}/*.env; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .env)
    printf '%s %s\n' "$(printf '%s' "$name" | base64 -w0)" "$(base64 -w0 < "$f")"
done
echo @@LISTEN
ss -tlnpH 2>/dev/null
echo @@SHOW
units=$(systemctl list-units --type=service --state=running --no-legend --plain 2>/dev/null \
    | awk '{{print $1}}')
[ -n "$units" ] && systemctl show -p Id,MainPID,ActiveState $units 2>/dev/null
echo @@PS
ps -e -o pid=,ppid= 2>/dev/null
echo @@END
"""
_USERS = re.compile(r"pid=(\d+)")


@dataclass
class Listener:
    address: str
    port: int
    pids: set[int] = field(default_factory=set)


@dataclass
class Found:
    """One service as discovery saw it (secrets in `credentials`, in clear: not stored so)."""

    name: str
    unit: str | None
    status: str
    is_system: bool
    main_pid: int | None
    listeners: list[dict[str, Any]]
    web_url: str | None
    credentials: dict[str, str]


def _sections(output: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("@@"):
            current = sections.setdefault(line[2:].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def _credentials(lines: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for line in lines:
        name_b64, _, body_b64 = line.partition(" ")
        try:
            name = base64.b64decode(name_b64, validate=True).decode()
            body = base64.b64decode(body_b64, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        if not re.fullmatch(UNIT_NAME, name):  # could not be asked for by name: leave it out
            continue
        values: dict[str, str] = {}
        for entry in body.splitlines():
            key, sep, value = entry.partition("=")
            key = key.strip()
            if sep and key and not key.startswith("#"):
                values[key] = value
        found[name] = values
    return found


def _listeners(lines: list[str]) -> list[Listener]:
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        address, _, port = fields[3].rpartition(":")
        if not port.isdigit():
            continue
        address = address.strip("[]") or "*"
        found.append(Listener(address, int(port), {int(p) for p in _USERS.findall(line)}))
    return found


def _units(lines: list[str]) -> dict[str, int | None]:
    """Running units (`Id`) and their main PIDs, from `systemctl show` blocks."""
    units: dict[str, int | None] = {}
    block: dict[str, str] = {}
    for line in [*lines, ""]:
        if not line.strip():
            if block.get("Id") and block.get("ActiveState", "active") == "active":
                pid = int(block.get("MainPID", "0") or 0)
                units[block["Id"]] = pid or None
            block = {}
            continue
        key, _, value = line.partition("=")
        block[key] = value
    return units


def _children(lines: list[str]) -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for line in lines:
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            tree.setdefault(int(fields[1]), []).append(int(fields[0]))
    return tree


def _descendants(pid: int, tree: dict[int, list[int]]) -> set[int]:
    seen, todo = {pid}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def web_url(ip: str | None, ports: list[int]) -> str | None:
    if not ip:
        return None
    for port in sorted(ports):
        if port in HTTPS_PORTS:
            return f"https://{ip}" + ("" if port == 443 else f":{port}")
        if port in HTTP_PORTS:
            return f"http://{ip}" + ("" if port == 80 else f":{port}")
    return None


def parse_discovery(output: str, ip: str | None) -> list[Found]:
    """The services in the discovery script's output (pure: tested without a container)."""
    sections = _sections(output)
    credentials = _credentials(sections.get("CREDENTIALS", []))
    listeners = _listeners(sections.get("LISTEN", []))
    tree = _children(sections.get("PS", []))
    found: dict[str, Found] = {}
    for unit, main_pid in sorted(_units(sections.get("SHOW", [])).items()):
        name = unit.removesuffix(".service")
        pids = _descendants(main_pid, tree) if main_pid else set()
        mine = [item for item in listeners if item.pids & pids]
        ports = sorted({item.port for item in mine})
        base = name.split("@", 1)[0]
        found[name] = Found(
            name=name,
            unit=unit,
            status="running",
            is_system=bool(_SYSTEM_UNIT.match(name)),
            main_pid=main_pid,
            listeners=[
                {"address": i.address, "port": i.port}
                for i in sorted(mine, key=lambda i: (i.port, i.address))
            ],
            web_url=web_url(ip, ports),
            credentials=credentials.get(name, credentials.get(base, {})),
        )
    claimed = {name for name in found} | {name.split("@", 1)[0] for name in found}
    for name, values in sorted(credentials.items()):
        if name not in claimed:  # saved for a service that does not run (now)
            found[name] = Found(
                name=name,
                unit=None,
                status="stopped",
                is_system=False,
                main_pid=None,
                listeners=[],
                web_url=None,
                credentials=values,
            )
    return list(found.values())


def _context(service_id: uuid.UUID) -> str:
    return f"container_services:{service_id}:credentials"


class DiscoveryReport(msgspec.Struct):
    services: list[DiscoveredService]
    discovered_at: dt.datetime | None
    error: str | None = None


class ServicesMixin(ContainerServiceBase):
    async def discover_services(
        self, container: Container, node: Node, ssh: NodeSsh | None = None
    ) -> DiscoveryReport:
        """Look inside the running container and replace its stored services (`ssh`: a
        session the caller already holds, e.g. the build's; else one is opened).

        A failure (the node, SSH, the container) never raises: the report carries the error,
        the previous results stay, and the error is kept on the container."""
        try:
            ip = await self._current_ip(node, container) or container.ip_address
            if ssh is not None:
                status, out, err = await Pct(ssh, container.vmid).run(_DISCOVER, limit_seconds=60)
            else:
                async with self.nodes.ssh(node) as opened:
                    status, out, err = await Pct(opened, container.vmid).run(
                        _DISCOVER, limit_seconds=60
                    )
            if status != 0 or "@@END" not in out:
                raise ProxmoxError(f"discovery failed in the container: {(err or out)[-300:]}")
            found = parse_discovery(out, ip)
        except (NodeFailure, Conflict) as exc:
            await self.session.rollback()
            await self.session.execute(
                update(Container)
                .where(Container.id == container.id)
                .values(services_error=exc.message[:1000])
            )
            await self.session.commit()
            return DiscoveryReport(
                services=await self._stored(container.id),
                discovered_at=container.services_discovered_at,
                error=exc.message,
            )
        now = dt.datetime.now(dt.UTC)
        await self.session.execute(
            delete(DiscoveredService).where(DiscoveredService.container_id == container.id)
        )
        for item in found:
            row = DiscoveredService(
                id=uuid.uuid4(),
                container_id=container.id,
                name=item.name,
                unit=item.unit,
                status=item.status,
                is_system=item.is_system,
                main_pid=item.main_pid,
                listeners=item.listeners,
                web_url=item.web_url,
                credential_keys=sorted(item.credentials),
                discovered_at=now,
            )
            if item.credentials:
                plain = msgspec.json.encode(item.credentials).decode()
                row.credentials_enc = self.nodes.box.encrypt(plain, _context(row.id))
            self.session.add(row)
        await self.session.execute(
            update(Container)
            .where(Container.id == container.id)
            .values(services_discovered_at=now, services_error=None, ip_address=ip)
        )
        await self.session.commit()
        return DiscoveryReport(services=await self._stored(container.id), discovered_at=now)

    async def _current_ip(self, node: Node, container: Container) -> str | None:
        """The IPv4 the API reports now (a DHCP lease may have changed since the build)."""
        path = f"/nodes/{segment(node.name)}/lxc/{container.vmid}/interfaces"
        async with self.nodes.client(node) as client:
            interfaces = await client.get(path)
        for interface in interfaces or []:
            if interface.get("name") != "lo" and interface.get("inet"):
                return str(interface["inet"]).split("/")[0]
        return None

    async def _stored(self, container_id: uuid.UUID) -> list[DiscoveredService]:
        rows = await self.session.scalars(
            select(DiscoveredService)
            .where(DiscoveredService.container_id == container_id)
            .order_by(DiscoveredService.is_system, DiscoveredService.name)
        )
        found = list(rows)
        await self.session.commit()
        return found

    async def _running_target(
        self, user_id: uuid.UUID, container_id: uuid.UUID
    ) -> tuple[Container, Node]:
        container, node = await self.get(user_id, container_id)
        await self.session.commit()
        if container.lifecycle in (Lifecycle.CREATING, Lifecycle.DELETING):
            raise Conflict(f"The container is {container.lifecycle}; try again when it is done.")
        base = f"/nodes/{segment(node.name)}/lxc/{container.vmid}/status/current"
        async with self.nodes.client(node) as client:
            current = await client.get(base)
        if current.get("status") != "running":
            raise Conflict("The container is not running; start it first.")
        return container, node

    async def refresh_services(
        self, user_id: uuid.UUID, container_id: uuid.UUID
    ) -> DiscoveryReport:
        container, node = await self._running_target(user_id, container_id)
        return await self.discover_services(container, node)

    async def list_services(self, user_id: uuid.UUID, container_id: uuid.UUID) -> DiscoveryReport:
        container, _ = await self.get(user_id, container_id)
        return DiscoveryReport(
            services=await self._stored(container.id),
            discovered_at=container.services_discovered_at,
            error=container.services_error,
        )

    async def reveal_credentials(
        self, user_id: uuid.UUID, container_id: uuid.UUID, name: str
    ) -> dict[str, str]:
        """The decrypted values of one service; every reveal is audited."""
        container, _ = await self.get(user_id, container_id)
        row = await self.session.scalar(
            select(DiscoveredService).where(
                DiscoveredService.container_id == container.id, DiscoveredService.name == name
            )
        )
        if row is None or row.credentials_enc is None:
            raise NotFound("No credentials for this service.")
        try:
            values = msgspec.json.decode(
                self.nodes.box.decrypt(row.credentials_enc, _context(row.id)), type=dict[str, str]
            )
        except DecryptionError:
            raise Conflict(
                "The stored credentials cannot be decrypted with the configured keys; refresh"
                " the services to read them again."
            ) from None
        audit.record(
            self.session,
            user_id=user_id,
            action="container.credentials.reveal",
            target_type="container",
            target_id=container.id,
            outcome="success",
            service=name,
        )
        await self.session.commit()
        return values

    async def service_logs(
        self, user_id: uuid.UUID, container_id: uuid.UUID, name: str, lines: int
    ) -> list[str]:
        """The unit's last journal lines (`journalctl -u NAME -n LINES`), with timestamps."""
        if not re.fullmatch(UNIT_NAME, name):
            raise InvalidInput("Not a systemd unit name.", field="name")
        container, node = await self._running_target(user_id, container_id)
        async with self.nodes.ssh(node) as ssh:
            status, out, err = await Pct(ssh, container.vmid).run(
                'journalctl --no-pager -u "$1" -n "$2"',
                name,
                str(lines),
                limit_seconds=30,
            )
        if status != 0:
            raise ProxmoxError(f"journalctl failed: {(err or out).strip()[-300:]}")
        return [line for line in out.splitlines() if line.strip()][-lines:]


async def rotate_service_credentials(
    session: AsyncSession, box: SecretBox
) -> tuple[int, list[str]]:
    """Re-encrypt every stored service credential under the current key."""
    changed, unreadable = 0, []
    rows = await session.scalars(
        select(DiscoveredService).where(DiscoveredService.credentials_enc.is_not(None))
    )
    for row in rows:
        assert row.credentials_enc is not None
        if not box.needs_rotation(row.credentials_enc):
            continue
        try:
            row.credentials_enc = box.rotate(row.credentials_enc, _context(row.id))
        except DecryptionError:
            unreadable.append(f"container service {row.id} credentials")
            continue
        changed += 1
    await session.commit()
    return changed, unreadable
