"""Cluster state and the container lifecycle (create/start/stop/shutdown/reboot/destroy/config).

Each operation follows pve-container's split between what is checked synchronously (and becomes
an HTTP error) and what happens inside the worker task (and becomes ``TASK ERROR: ...``), with
the per-VMID flock and the config ``lock`` key as described in NOTES.md §5.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import ipaddress
import random
import re
from dataclasses import dataclass, field
from typing import Any

import asyncssh
import structlog

from services.pvesim.auth import AccessControl, Caller
from services.pvesim.errors import PveError, missing_config, param_error, permission_error
from services.pvesim.faults import FaultRegistry
from services.pvesim.sandbox import NetworkState, Sandbox
from services.pvesim.tasks import Clock, FlockTable, Task, TaskError, TaskManager
from services.pvesim.validation import load_schema, parse_property_string, to_bool

log = structlog.get_logger()

GIB = 1024**3
MIB = 1024**2

# Seconds each task type takes at task speed 1.0.
TASK_DURATIONS = {
    "vzcreate": 3.0,
    "vzstart": 1.0,
    "vzstop": 0.5,
    "vzshutdown": 1.5,
    "vzreboot": 2.0,
    "vzdestroy": 1.0,
}
FLOCK_TIMEOUT = 10.0
CREATE_FLOCK_TIMEOUT = 5.0
DEFAULT_SHUTDOWN_TIMEOUT = 60

TEMPLATES = {
    "debian-12-standard_12.7-1_amd64.tar.zst": ("debian", 126_847_123),
    "ubuntu-24.04-standard_24.04-2_amd64.tar.zst": ("ubuntu", 141_306_522),
    "alpine-3.20-default_20240908_amd64.tar.xz": ("alpine", 3_159_892),
}
_TEMPLATE_FORMATS = {
    ".tar.zst": "tzst",
    ".tar.xz": "txz",
    ".tar.gz": "tgz",
    ".tar.bz2": "tbz2",
    ".tar": "tar",
}
# Keys create accepts that never reach the config file.
_CREATE_ONLY_KEYS = {
    "node",
    "vmid",
    "ostemplate",
    "password",
    "ssh-public-keys",
    "storage",
    "start",
    "pool",
    "restore",
    "force",
    "unique",
    "ha-managed",
    "bwlimit",
    "ignore-unpack-errors",
    "debug",
}
_REQUIRED_KEYS = {"memory", "rootfs", "ostype"}
_ROOT_ONLY_FEATURES_MESSAGE = "changing feature flags (except nesting) is only allowed for root@pam"
_PRIVILEGED_FEATURES_MESSAGE = (
    "changing feature flags for privileged container is only allowed for root@pam"
)
# Create parameters ``create_vm`` extracts before ``check_ct_modify_config_perm`` sees the rest.
_CREATE_EXTRACTED_KEYS = {
    "node",
    "vmid",
    "ignore-unpack-errors",
    "bwlimit",
    "start",
    "ha-managed",
    "unprivileged",
    "restore",
    "unique",
    "force",
    "password",
    "ssh-public-keys",
    "pool",
    "ostemplate",
    "storage",
}
_NEW_DISK = re.compile(r"^(([^/:\s]+):)?(\d+(\.\d+)?)$")
DHCP_NETWORK = ipaddress.IPv4Network("10.10.0.0/16")
DHCP_GATEWAY = "10.10.0.1"


@dataclass
class Storage:
    name: str
    type: str
    content: str
    shared: int
    total: int

    def allows(self, content: str) -> bool:
        return content in self.content.split(",")


@dataclass
class Guest:
    """A QEMU VM or LXC container; ``config`` holds the file's keys in file order."""

    vmid: int
    kind: str
    node: str
    config: dict[str, Any]
    status: str = "stopped"
    started_at: float | None = None
    # For the pvestatd lag of /cluster/resources: when the status last changed, and before.
    created_at: float = 0.0
    status_changed_at: float = 0.0
    previous_status: str = "stopped"
    ipv4: str | None = None
    prefix: int = 16
    gateway: str | None = None
    boot_id: int = 0  # counts starts, so a late DHCP lease only lands in the boot it belongs to

    def set_status(self, status: str, now: float) -> None:
        if status != self.status:
            self.previous_status, self.status, self.status_changed_at = self.status, status, now

    @property
    def lock(self) -> str | None:
        return self.config.get("lock")

    @property
    def hostname(self) -> str:
        return str(self.config.get("hostname") or self.config.get("name") or f"CT{self.vmid}")

    def config_text(self) -> str:
        return "".join(f"{key}: {value}\n" for key, value in self.config.items())

    def digest(self) -> str:
        return hashlib.sha1(self.config_text().encode(), usedforsecurity=False).hexdigest()


@dataclass
class Node:
    name: str
    index: int
    address: str
    storages: dict[str, Storage] = field(default_factory=dict)
    booted_at: float = 0.0


def _default_storages() -> dict[str, Storage]:
    return {
        "local": Storage("local", "dir", "iso,vztmpl,backup", 0, 100 * GIB),
        "local-lvm": Storage("local-lvm", "lvmthin", "rootdir,images", 0, 400 * GIB),
    }


def _size_to_bytes(size: str) -> int:
    units = {"K": 1024, "M": MIB, "G": GIB, "T": 1024 * GIB}
    if size and size[-1] in units:
        return int(float(size[:-1]) * units[size[-1]])
    return int(float(size))


def format_property_string(data: dict[str, str], first: str | None = None) -> str:
    """``key=value`` pairs with ``first`` leading and the rest sorted, as ``pct config`` prints."""
    keys = sorted(data)
    if first in data:
        keys.remove(first)
        keys.insert(0, first)
    return ",".join(f"{key}={data[key]}" for key in keys)


def normalise_tags(value: str) -> str:
    tags = {tag.lower() for tag in value.replace(",", " ").replace(";", " ").split()}
    return ";".join(sorted(tags))


class Cluster:
    """All nodes, guests, tasks and locks of the simulated cluster."""

    def __init__(
        self,
        node_names: list[str],
        seed: int | None,
        task_speed: float,
        sandbox: Sandbox,
        faults: FaultRegistry,
        clock: Clock,
        rrd_lag: float = 0.0,
    ):
        self.rng = random.Random(f"{seed}:cluster")
        self.task_speed = task_speed
        self.rrd_lag = rrd_lag
        self.sandbox = sandbox
        self.faults = faults
        self.clock = clock
        self.nodes = {
            name: Node(
                name,
                index,
                f"192.168.100.{10 + index}",
                _default_storages(),
                clock.now() - 86_400 * (index + 3),
            )
            for index, name in enumerate(node_names)
        }
        self.guests: dict[int, Guest] = {}
        self.tasks = TaskManager(clock, first_pid=self.rng.randrange(0x10000, 0x3FFFFF))
        self.flocks = FlockTable()
        self.dhcp_leases: dict[str, str] = {}
        # user.cfg (users, ACLs, pools); set by the simulator once it exists.
        self.access: AccessControl | None = None
        self._next_lease = self.rng.randrange(10, 200)

    # ----- helpers -------------------------------------------------------------------------

    def node(self, name: str) -> Node:
        if name not in self.nodes:
            raise PveError(
                f"hostname lookup '{name}' failed - failed to get address info for: "
                f"{name}: Name or service not known"
            )
        return self.nodes[name]

    def scaled(self, seconds: float, node: str | None = None) -> float:
        slowdown = self.faults.get(node).task_slowdown if node else 1.0
        return seconds * self.task_speed * slowdown

    def container(self, node: str, vmid: int) -> Guest:
        guest = self.guests.get(vmid)
        if guest is None or guest.kind != "lxc" or guest.node != node:
            raise missing_config(node, vmid)
        return guest

    def check_vmid_unused(self, vmid: int) -> None:
        guest = self.guests.get(vmid)
        if guest is not None:
            kind = "VM" if guest.kind == "qemu" else "CT"
            raise PveError(f"{kind} {vmid} already exists on node '{guest.node}'")

    def next_free_vmid(self) -> int:
        vmid = 100
        while vmid in self.guests:
            vmid += 1
        if vmid >= 1_000_000:
            raise PveError("unable to get any free VMID in range [100, 1000000]")
        return vmid

    def random_mac(self) -> str:
        return "BC:24:11:" + ":".join(f"{self.rng.randrange(256):02X}" for _ in range(3))

    async def lock_config(self, node: str, vmid: int, wait_seconds: float = FLOCK_TIMEOUT) -> None:
        contended = self.faults.get(node).lock_contention
        await self.flocks.acquire(node, vmid, max(self.scaled(wait_seconds), 0.05), contended)

    async def task_sleep(self, task: Task, task_type: str) -> None:
        await asyncio.sleep(self.scaled(TASK_DURATIONS[task_type], task.node))

    def injected_failure(self, task: Task) -> None:
        message = self.faults.task_failure(task.node, task.type)
        if message:
            raise TaskError(message)

    # ----- seed data -----------------------------------------------------------------------

    async def seed_guests(self) -> None:
        """A running QEMU VM 100 and a running container 101 on the first node."""
        first = next(iter(self.nodes))
        self.guests[100] = Guest(
            100,
            "qemu",
            first,
            {
                "name": "legacy-vm",
                "memory": 2048,
                "cores": 2,
                "ostype": "l26",
                "scsi0": "local-lvm:vm-100-disk-0,size=32G",
            },
            status="running",
            started_at=self.clock.now() - 7200,
        )
        config = {
            "arch": "amd64",
            "cores": 1,
            "hostname": "legacy-ct",
            "memory": 512,
            "net0": f"name=eth0,bridge=vmbr0,hwaddr={self.random_mac()},ip=dhcp,type=veth",
            "ostype": "debian",
            "rootfs": "local-lvm:vm-101-disk-0,size=8G",
            "swap": 512,
            "unprivileged": 1,
        }
        guest = Guest(101, "lxc", first, config)
        self.guests[101] = guest
        await asyncio.to_thread(
            self.sandbox.create_container_root, 101, "debian", "legacy-ct", None
        )
        self._boot(guest)
        guest.status_changed_at = 0.0
        await self._run_init(guest, "__boot")

    # ----- networking ----------------------------------------------------------------------

    def _lease(self, hwaddr: str) -> str:
        if hwaddr not in self.dhcp_leases:
            self._next_lease += 1
            self.dhcp_leases[hwaddr] = str(DHCP_NETWORK.network_address + self._next_lease)
        return self.dhcp_leases[hwaddr]

    def network_state(self, guest: Guest) -> NetworkState | None:
        if "net0" not in guest.config:
            return None
        net = parse_property_string(guest.config["net0"], _net_format())
        hwaddr = net.get("hwaddr", "BC:24:11:00:00:00")
        ip = net.get("ip", "manual")
        if ip == "dhcp":
            address, prefix, gateway = self._lease(hwaddr), DHCP_NETWORK.prefixlen, DHCP_GATEWAY
        elif ip == "manual":
            address, prefix, gateway = None, 24, net.get("gw")
        else:
            iface = ipaddress.IPv4Interface(ip)
            address, prefix, gateway = str(iface.ip), iface.network.prefixlen, net.get("gw")
        network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False) if address else None
        return NetworkState(
            iface=net.get("name", "eth0"),
            hwaddr=hwaddr,
            ipv4=address,
            prefix=prefix,
            gateway=gateway,
            network=str(network.network_address) if network else None,
            broadcast=str(network.broadcast_address) if network else None,
            method="static" if ip not in ("dhcp", "manual") else ip,
        )

    def _boot(self, guest: Guest) -> NetworkState | None:
        net = self.network_state(guest)
        guest.set_status("running", self.clock.now())
        guest.started_at = self.clock.now()
        guest.boot_id += 1
        guest.prefix = net.prefix if net else 16
        faults = self.faults.get(guest.node)
        if net is not None and net.method == "dhcp" and (faults.dhcp_no_lease or faults.dhcp_delay):
            # The DHCP client has not got a lease yet: eth0 is up without an IPv4.
            if not faults.dhcp_no_lease:
                asyncio.get_running_loop().call_later(
                    faults.dhcp_delay, self._grant_lease, guest, guest.boot_id
                )
            guest.ipv4 = None
        else:
            guest.ipv4 = net.ipv4 if net else None
        self.sandbox.write_boot_state(guest.vmid, guest.hostname, self.current_network(guest))
        return net

    def _grant_lease(self, guest: Guest, boot_id: int) -> None:
        if (
            guest.status != "running"
            or guest.boot_id != boot_id
            or self.guests.get(guest.vmid) is not guest
        ):
            return
        net = self.network_state(guest)
        guest.ipv4 = net.ipv4 if net else None
        self.sandbox.write_boot_state(guest.vmid, guest.hostname, net)

    def current_network(self, guest: Guest) -> NetworkState | None:
        """The network as the running guest has it now (no IPv4 while DHCP has no lease)."""
        net = self.network_state(guest)
        if net is not None and guest.ipv4 is None and net.ipv4 is not None:
            net = dataclasses.replace(net, ipv4=None, network=None, broadcast=None)
        return net

    async def _run_init(self, guest: Guest, verb: str) -> None:
        """Start or stop the enabled units, as systemd does at boot and shutdown."""
        if self.sandbox.problem:
            return
        root = self.sandbox.container_root(guest.vmid)
        if root.exists():
            await self.sandbox.run(root, guest.hostname, ["/usr/bin/systemctl", verb])

    # ----- create ---------------------------------------------------------------------------

    def check_ct_modify_config_perm(
        self,
        caller: Caller,
        vmid: int,
        pool: str | None,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        delete: list[str],
        unprivileged: bool,
    ) -> None:
        """``PVE::LXC::check_ct_modify_config_perm``: per-key privileges; root@pam passes all.

        The SSH side's ``pct create``/``pct set`` run as root@pam and so may set any feature.
        """
        if caller.is_root:
            return
        old = old or {}
        for key in sorted(new):
            self._check_config_key(caller, vmid, pool, key, old, new, False, unprivileged)
        for key in delete:
            self._check_config_key(caller, vmid, pool, key, old, new, True, unprivileged)

    def _check_config_key(
        self,
        caller: Caller,
        vmid: int,
        pool: str | None,
        key: str,
        old: dict[str, Any],
        new: dict[str, Any],
        delete: bool,
        unprivileged: bool,
    ) -> None:
        indexed = re.match(r"^([a-z]+)(\d+)$", key)
        prefix = indexed[1] if indexed else None
        if key in ("cores", "cpuunits", "cpulimit"):
            caller.check_vm_perm(vmid, pool, ["VM.Config.CPU"])
        elif key == "rootfs" or prefix == "mp":
            caller.check_vm_perm(vmid, pool, ["VM.Config.Disk"])
            if delete:
                return
            spec = parse_property_string(str(new[key]), _rootfs_format())
            volume = spec.get("volume", "")
            if volume.startswith("/"):
                kind = "device" if volume.startswith("/dev/") else "bind"
                raise permission_error(f"mount point type {kind} is only allowed for root@pam")
            match = _NEW_DISK.match(volume)
            if match:
                caller.check(f"/storage/{match[2]}", ["Datastore.AllocateSpace"])
            else:
                caller.check(f"/storage/{volume.partition(':')[0]}", ["Datastore.Audit"])
                caller.check(f"/vms/{vmid}", ["VM.Config.Disk"])
        elif key in ("memory", "swap"):
            caller.check_vm_perm(vmid, pool, ["VM.Config.Memory"])
        elif prefix == "net":
            caller.check_vm_perm(vmid, pool, ["VM.Config.Network"])
            for raw in (old.get(key), None if delete else new.get(key)):
                if raw:
                    self._check_bridge_access(caller, str(raw))
        elif prefix == "dev":
            raise permission_error("configuring device passthrough is only allowed for root@pam")
        elif key in ("nameserver", "searchdomain", "hostname"):
            caller.check_vm_perm(vmid, pool, ["VM.Config.Network"])
        elif key == "features":
            if not unprivileged:
                raise permission_error(_PRIVILEGED_FEATURES_MESSAGE)
            nesting_changed = other_changed = False
            before = _parse_features(old.get("features"))
            after = {} if delete else _parse_features(new.get("features"))
            if not delete and before:
                for feature in [*before, *after]:
                    if before.get(feature, "") != after.get(feature, ""):
                        if feature != "nesting":
                            other_changed = True
                            break
                        nesting_changed = True
            else:
                changed = before if delete else after
                if list(changed) == ["nesting"]:
                    nesting_changed = True
                elif changed:
                    other_changed = True
            if other_changed:
                raise permission_error(_ROOT_ONLY_FEATURES_MESSAGE)
            if nesting_changed:
                caller.check_vm_perm(vmid, pool, ["VM.Allocate"])
        elif key == "hookscript":
            raise permission_error("changing the hookscript is only allowed for root@pam")
        elif key == "tags":
            caller.check_vm_perm(vmid, pool, ["VM.Config.Options"])
        else:
            caller.check_vm_perm(vmid, pool, ["VM.Config.Options"])

    @staticmethod
    def _check_bridge_access(caller: Caller, raw: str) -> None:
        """``check_vnet_access``: SDN.Use on the bridge (zone ``localnetwork``) or its VLAN."""
        net = parse_property_string(raw, _net_format())
        bridge = net.get("bridge")
        if not bridge:
            return
        base = f"/sdn/zones/localnetwork/{bridge}"
        tag, trunks = net.get("tag"), net.get("trunks")
        if tag:
            caller.check(f"{base}/{tag}", ["SDN.Use"])
        for vlan in sorted({t for t in re.split(r"[;,]", trunks or "") if t}):
            caller.check(f"{base}/{vlan}", ["SDN.Use"])
        if not tag and not trunks:
            caller.check(base, ["SDN.Use"])

    def _template(self, node: Node, volid: str, caller: Caller) -> str | None:
        """``check_volume_access`` for the template: its file name if the file exists (a
        missing file only fails inside the create task, as ``restore_archive`` finds out)."""
        storage_name, _, volume = volid.partition(":")
        storage = node.storages.get(storage_name)
        if storage is None:
            raise PveError(f"storage '{storage_name}' does not exist")
        if not volume.startswith("vztmpl/"):
            raise PveError(f"unable to use volume {volid} - content type needs to be 'vztmpl'")
        if not caller.check(f"/storage/{storage_name}", ["Datastore.Allocate"], noerr=True):
            caller.check_any(
                f"/storage/{storage_name}", ["Datastore.AllocateSpace", "Datastore.Audit"]
            )
        filename = volume.removeprefix("vztmpl/")
        if not storage.allows("vztmpl") or filename not in TEMPLATES:
            return None
        return filename

    def _check_rootdir_storage(self, node: Node, storage_name: str, caller: Caller) -> None:
        """``check_and_activate_storage`` of ``create_vm``."""
        storage = node.storages.get(storage_name)
        if storage is None:
            raise PveError(f"storage '{storage_name}' does not exist")
        if not storage.allows("rootdir"):
            raise param_error(
                {"storage": f"storage '{storage_name}' does not support container directories"}
            )
        caller.check(f"/storage/{storage_name}", ["Datastore.AllocateSpace"])

    def _allocate_rootfs(self, node: Node, vmid: int, rootfs: str | None, storage: str) -> str:
        spec = parse_property_string(rootfs or f"{storage}:4", _rootfs_format())
        volume = spec.pop("volume")
        storage_name, sep, size = volume.partition(":")
        if not sep:
            storage_name, size = storage, volume
        try:
            gib = float(size)
        except ValueError:
            spec["volume"] = volume
            return format_property_string(spec, first="volume")
        spec["size"] = f"{gib:g}G"
        spec["volume"] = f"{storage_name}:vm-{vmid}-disk-0"
        return format_property_string(spec, first="volume").replace("volume=", "", 1)

    def _normalise_net(self, value: str) -> str:
        net = parse_property_string(value, _net_format())
        net.setdefault("hwaddr", self.random_mac())
        net.setdefault("type", "veth")
        return format_property_string(net, first="name")

    def _config_value(self, key: str, value: Any, schema: dict) -> Any:
        if key.startswith("net") and key[3:].isdigit():
            return self._normalise_net(str(value))
        if key == "tags":
            return normalise_tags(str(value))
        kind = schema.get("type")
        if kind == "boolean":
            return 1 if to_bool(value) else 0
        if kind == "integer":
            return int(value)
        return str(value)

    async def create(
        self,
        node_name: str,
        params: dict[str, Any],
        authid: str,
        is_root: bool,
        caller: Caller | None = None,
    ) -> str:
        """``create_vm``: the synchronous checks in PVE's order, then the ``vzcreate`` task.

        ``caller`` carries the permission checks; without one the call must be root@pam's
        (``pct create`` on the node), for whom every check passes.
        """
        if caller is None:
            if not is_root:
                raise permission_error()
            caller = Caller.root()
        node = self.node(node_name)
        vmid = int(params["vmid"])
        unprivileged = to_bool(params.get("unprivileged", 1))
        if not unprivileged:
            caller.check("/", ["Sys.Modify"])
        if to_bool(params.get("ha-managed", 0)):
            caller.check("/", ["Sys.Console"])
        self.check_vmid_unused(vmid)
        ssh_keys = params.get("ssh-public-keys")
        if ssh_keys:
            _validate_ssh_public_keys(str(ssh_keys))
        pool = params.get("pool")
        if pool is not None and (self.access is None or pool not in self.access.pools):
            raise permission_error(f"pool '{pool}' does not exist")
        if not (
            caller.check(f"/vms/{vmid}", ["VM.Allocate"], noerr=True)
            or (pool and caller.check(f"/pool/{pool}", ["VM.Allocate"], noerr=True))
        ):
            raise permission_error()
        new_config = {k: v for k, v in params.items() if k not in _CREATE_EXTRACTED_KEYS}
        self.check_ct_modify_config_perm(caller, vmid, pool, None, new_config, [], unprivileged)
        volid = str(params["ostemplate"])
        template = self._template(node, volid, caller)
        storage = str(params.get("storage", "local"))
        rootfs_param = params.get("rootfs")
        if rootfs_param is not None:
            rootfs_param = str(rootfs_param)
            if re.fullmatch(r"\d+(\.\d+)?", rootfs_param):
                rootfs_param = f"{storage}:{rootfs_param}"
        mount_points = {
            key: str(value)
            for key, value in params.items()
            if key.startswith("mp") and key[2:].isdigit()
        }
        if mount_points and rootfs_param is None:
            raise PveError("mount points configured, but 'rootfs' not set - aborting")
        for value in [rootfs_param, *mount_points.values()]:
            if value is None:
                continue
            volume = parse_property_string(value, _rootfs_format()).get("volume", "")
            if volume.startswith("/"):
                if not caller.is_root:
                    raise PveError("Only root can pass arbitrary filesystem paths.")
                continue
            self._check_rootdir_storage(node, volume.partition(":")[0], caller)
        if rootfs_param is None:
            self._check_rootdir_storage(node, storage, caller)
        rootfs = self._allocate_rootfs(node, vmid, rootfs_param, storage)
        properties = load_schema()["POST /nodes/{node}/lxc"]["parameters"]["properties"]
        config: dict[str, Any] = {}
        for key in sorted(params):
            if key in _CREATE_ONLY_KEYS or key in ("rootfs", "unprivileged"):
                continue
            schema = properties.get(key) or properties.get(f"{key.rstrip('0123456789')}[n]", {})
            config[key] = self._config_value(key, params[key], schema)
        ostype = TEMPLATES[template][0] if template else "unmanaged"
        config.setdefault("arch", "amd64")
        config.setdefault("hostname", f"CT{vmid}")
        config.setdefault("memory", 512)
        config.setdefault("ostype", ostype)
        config["rootfs"] = rootfs
        config.setdefault("swap", 512)
        if unprivileged:  # ``$conf->{unprivileged} = 1 if $unprivileged``: no line otherwise
            config["unprivileged"] = 1
        config = dict(sorted(config.items()))
        await self.lock_config(node_name, vmid, CREATE_FLOCK_TIMEOUT)
        try:
            self.check_vmid_unused(vmid)
        except PveError as exc:
            self.flocks.release(node_name, vmid)
            raise PveError(f"unable to create CT {vmid} - {exc.message}") from None
        guest = Guest(vmid, "lxc", node_name, {"lock": "create"}, created_at=self.clock.now())
        self.guests[vmid] = guest
        start_after = to_bool(params.get("start", 0))
        disk = rootfs.split(",", 1)[0].partition(":")[2]

        async def body(task: Task) -> None:
            try:
                task.log(f'  Logical volume "{disk}" created.')
                if template is None:
                    # archive_is_oci_format warns, then restore_archive dies.
                    task.log(f"can't find file '{volid}'")
                    raise TaskError(f"can't find file '{volid}'")
                task.log(f"extracting archive '/var/lib/vz/template/cache/{template}'")
                await self.task_sleep(task, "vzcreate")
                await asyncio.to_thread(
                    self.sandbox.create_container_root, vmid, ostype, config["hostname"], ssh_keys
                )
                task.log(
                    f"Total bytes read: {TEMPLATES[template][1] * 4} "
                    f"({TEMPLATES[template][1] * 4 // MIB}MiB)"
                )
                task.log(f"Detected container architecture: {config['arch']}")
                task.log(
                    "Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ..."
                )
                fingerprint = self.rng.randbytes(32).hex()[:43]
                task.log(f"done: SHA256:{fingerprint} root@{config['hostname']}")
                self.injected_failure(task)
            except Exception as exc:  # every error inside the task gets create_vm's prefix
                task.log(f'  Logical volume "{disk}" successfully removed.')
                self.guests.pop(vmid, None)
                self.sandbox.destroy_container_root(vmid)
                raise TaskError(f"unable to create CT {vmid} - {_error_text(exc)}") from None
            except BaseException:
                self.guests.pop(vmid, None)
                self.sandbox.destroy_container_root(vmid)
                raise
            finally:
                self.flocks.release(node_name, vmid)
            guest.config = config
            if pool and self.access is not None and pool in self.access.pools:
                self.access.pools[pool].vms.add(vmid)
            if start_after:
                # ``vm_start`` from inside the worker forks its own ``vzstart`` task.
                self.start(node_name, vmid, {}, task.user, is_root=False)

        return self.tasks.start(node_name, "vzcreate", str(vmid), authid, body).upid

    # ----- power --------------------------------------------------------------------------

    async def _start_in_task(self, task: Task, guest: Guest, skiplock: bool = False) -> None:
        await self.lock_config(task.node, guest.vmid)
        try:
            self._check_lock(guest, skiplock, tolerated=("mounted",))
            if self.guests.get(guest.vmid) is not guest:
                raise missing_config(task.node, guest.vmid)
            if guest.config.get("template"):
                raise TaskError("you can't start a CT if it's a template")
            await self.task_sleep(task, "vzstart")
            self.injected_failure(task)
            self._boot(guest)
            await self._run_init(guest, "__boot")
        finally:
            self.flocks.release(task.node, guest.vmid)

    @staticmethod
    def _check_lock(guest: Guest, skiplock: bool = False, tolerated: tuple[str, ...] = ()) -> None:
        lock = guest.lock
        if lock and not skiplock and lock not in tolerated:
            raise PveError(f"CT is locked ({lock})")

    def _check_skiplock(self, params: dict[str, Any], is_root: bool) -> bool:
        skiplock = to_bool(params.get("skiplock", 0))
        if skiplock and not is_root:
            raise param_error({"skiplock": "Only root may use this option."})
        return skiplock

    def start(self, node: str, vmid: int, params: dict, authid: str, is_root: bool) -> str:
        guest = self.container(node, vmid)
        skiplock = self._check_skiplock(params, is_root)
        if guest.status == "running":
            raise PveError(f"CT {vmid} already running")

        async def body(task: Task) -> None:
            await self._start_in_task(task, guest, skiplock)

        return self.tasks.start(node, "vzstart", str(vmid), authid, body).upid

    async def _halt(self, guest: Guest) -> None:
        await self._run_init(guest, "__halt")
        guest.set_status("stopped", self.clock.now())
        guest.started_at = None
        guest.ipv4 = None

    def stop(self, node: str, vmid: int, params: dict, authid: str, is_root: bool) -> str:
        guest = self.container(node, vmid)
        skiplock = self._check_skiplock(params, is_root)
        if guest.status != "running":
            raise PveError(f"CT {vmid} not running")
        if to_bool(params.get("overrule-shutdown", 0)):
            for running in self.tasks.running_for(node, vmid, "vzshutdown"):
                if running.runner:
                    running.runner.cancel()

        async def body(task: Task) -> None:
            await self.lock_config(node, vmid)
            try:
                self._check_lock(guest, skiplock, tolerated=("mounted",))
                await self.task_sleep(task, "vzstop")
                self.injected_failure(task)
                await self._halt(guest)
            finally:
                self.flocks.release(node, vmid)

        return self.tasks.start(node, "vzstop", str(vmid), authid, body).upid

    def shutdown(self, node: str, vmid: int, params: dict, authid: str) -> str:
        guest = self.container(node, vmid)
        if guest.status != "running":
            raise PveError(f"CT {vmid} not running")
        timeout = int(params.get("timeout", DEFAULT_SHUTDOWN_TIMEOUT))
        force = to_bool(params.get("forceStop", 0))

        async def body(task: Task) -> None:
            await self.lock_config(node, vmid)
            try:
                self._check_lock(guest)
                if self.faults.get(node).shutdown_hangs:
                    await asyncio.sleep(self.scaled(timeout))
                    if not force:
                        raise TaskError("container did not stop")
                    task.log("shutdown timeout reached, killing container")
                else:
                    await self.task_sleep(task, "vzshutdown")
                self.injected_failure(task)
                await self._halt(guest)
            finally:
                self.flocks.release(node, vmid)

        return self.tasks.start(node, "vzshutdown", str(vmid), authid, body).upid

    def reboot(self, node: str, vmid: int, params: dict, authid: str) -> str:
        guest = self.container(node, vmid)
        if guest.status != "running":
            raise PveError(f"VM {vmid} not running")

        async def body(task: Task) -> None:
            await self.task_sleep(task, "vzreboot")
            self.injected_failure(task)
            await self._halt(guest)
            self._boot(guest)
            await self._run_init(guest, "__boot")

        return self.tasks.start(node, "vzreboot", str(vmid), authid, body).upid

    # ----- destroy --------------------------------------------------------------------------

    def destroy(self, node: str, vmid: int, params: dict, authid: str) -> str:
        guest = self.container(node, vmid)
        if to_bool(guest.config.get("protection", 0)):
            raise PveError(f"can't remove CT {vmid} - protection mode enabled")
        self._check_lock(guest)
        force = to_bool(params.get("force", 0))
        if guest.status == "running" and not force:
            raise PveError(f"unable to destroy CT {vmid} - container is running")

        purge = to_bool(params.get("purge", 0))

        async def body(task: Task) -> None:
            await self.lock_config(node, vmid)
            try:
                # Reload after the lock: a destroy that ran meanwhile removed the config.
                if self.guests.get(vmid) is not guest:
                    raise missing_config(node, vmid)
                self._check_lock(guest)
                if guest.status == "running":
                    task.log(f"forced to stop CT {vmid} before destroying!")
                    await self._halt(guest)
                duration = self.scaled(TASK_DURATIONS["vzdestroy"], node)
                await asyncio.sleep(duration / 2)
                self.injected_failure(task)
                for disk in _volumes_of(guest.config):
                    task.log(f'  Logical volume "{disk}" successfully removed.')
                # destroy_lxc_container leaves a zombie config holding only the lock.
                guest.config = {"lock": "destroyed"}
                await asyncio.to_thread(self.sandbox.destroy_container_root, vmid)
                await asyncio.sleep(duration / 2)
                if purge:
                    task.log(f"purging CT {vmid} from related configurations..")
                if self.access is not None:
                    for pool in self.access.pools.values():
                        pool.vms.discard(vmid)
                self.guests.pop(vmid, None)
            finally:
                self.flocks.release(node, vmid)

        return self.tasks.start(node, "vzdestroy", str(vmid), authid, body).upid

    # ----- config ---------------------------------------------------------------------------

    async def update_config(
        self,
        node: str,
        vmid: int,
        params: dict[str, Any],
        is_root: bool,
        caller: Caller | None = None,
    ) -> None:
        """``update_vm``; ``caller`` as for :meth:`create` (None = root@pam on the node)."""
        if caller is None:
            if not is_root:
                raise permission_error()
            caller = Caller.root()
        self.container(node, vmid)
        changes = {
            k: v
            for k, v in params.items()
            if k not in ("node", "vmid", "delete", "revert", "digest")
        }
        deletes = [
            k
            for k in str(params.get("delete", "")).replace(";", ",").replace(" ", ",").split(",")
            if k
        ]
        if not changes and not deletes and "revert" not in params:
            raise PveError("no options specified")
        both = {key: "can't set and delete the same option" for key in deletes if key in changes}
        if both:
            raise param_error(both)
        await self.lock_config(node, vmid)
        try:
            guest = self.container(node, vmid)
            self._check_lock(guest)
            if params.get("digest") and params["digest"] != guest.digest():
                raise PveError(
                    "detected modified configuration - file changed by other user? Try again."
                )
            unprivileged = to_bool(guest.config.get("unprivileged", 0))
            pool = self.access.pool_of(vmid) if self.access is not None else None
            self.check_ct_modify_config_perm(
                caller, vmid, pool, guest.config, {}, deletes, unprivileged
            )
            self.check_ct_modify_config_perm(
                caller, vmid, pool, guest.config, changes, [], unprivileged
            )
            if "unprivileged" in changes or "unprivileged" in deletes:
                raise PveError("unable to modify read-only option: 'unprivileged'")
            for key in deletes:
                if key in _REQUIRED_KEYS:
                    raise PveError(f"unable to delete required option '{key}'")
            properties = load_schema()["PUT /nodes/{node}/lxc/{vmid}/config"]["parameters"][
                "properties"
            ]
            config = dict(guest.config)
            for key in deletes:
                config.pop(key, None)
            for key, value in changes.items():
                schema = properties.get(key) or properties.get(f"{key.rstrip('0123456789')}[n]", {})
                config[key] = self._config_value(key, value, schema)
            guest.config = dict(sorted(config.items()))
            if guest.status == "running" and "hostname" in changes:
                self.sandbox.write_boot_state(vmid, guest.hostname, self.current_network(guest))
        finally:
            self.flocks.release(node, vmid)

    # ----- read views -----------------------------------------------------------------------

    def _usage(self, guest: Guest) -> dict[str, Any]:
        maxmem = int(guest.config.get("memory", 512)) * MIB
        rootfs = guest.config.get("rootfs") or guest.config.get("scsi0") or ""
        size = parse_property_string(rootfs, _rootfs_format()).get("size", "4G") if rootfs else "4G"
        maxdisk = _size_to_bytes(size)
        running = guest.status == "running"
        wobble = random.Random(f"{guest.vmid}:{int(self.clock.now()) // 10}")
        return {
            "maxmem": maxmem,
            "maxswap": int(guest.config.get("swap", 512)) * MIB,
            "maxdisk": maxdisk,
            "cpus": int(guest.config.get("cores", 1)),
            "mem": int(maxmem * (0.08 + wobble.random() * 0.1)) if running else 0,
            "swap": 0,
            "disk": int(maxdisk * 0.12) if running else 0,
            "cpu": round(wobble.random() * 0.02, 6) if running else 0,
            "uptime": int(self.clock.now() - guest.started_at)
            if running and guest.started_at
            else 0,
            "netin": int(wobble.random() * 1e6) if running else 0,
            "netout": int(wobble.random() * 1e5) if running else 0,
            "diskread": int(wobble.random() * 5e7) if running else 0,
            "diskwrite": int(wobble.random() * 2e7) if running else 0,
        }

    def container_status(self, guest: Guest) -> dict[str, Any]:
        item: dict[str, Any] = {
            "vmid": guest.vmid,
            "status": guest.status,
            "name": guest.hostname,
            "type": "lxc",
            **self._usage(guest),
        }
        if guest.config.get("tags"):
            item["tags"] = guest.config["tags"]
        if guest.lock:
            item["lock"] = guest.lock
        if guest.config.get("template"):
            item["template"] = 1
        if guest.status == "running":
            item["pid"] = 100_000 + guest.vmid
        return item

    def resources(self, type_filter: str | None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if type_filter in (None, "node"):
            for node in self.nodes.values():
                items.append(self.node_summary(node))
        if type_filter in (None, "vm"):
            for guest in sorted(self.guests.values(), key=lambda g: g.vmid):
                node_down = self.faults.get(guest.node).down
                item: dict[str, Any] = {
                    "id": f"{guest.kind}/{guest.vmid}",
                    "type": guest.kind,
                    "vmid": guest.vmid,
                    "node": guest.node,
                    "template": 1 if guest.config.get("template") else 0,
                }
                now = self.clock.now()
                if node_down or now - guest.created_at < self.rrd_lag:
                    item["status"] = "unknown"
                else:
                    usage = self._usage(guest)
                    stale = now - guest.status_changed_at < self.rrd_lag
                    item.update(
                        {
                            "status": guest.previous_status if stale else guest.status,
                            "name": guest.hostname,
                            "maxcpu": usage.pop("cpus"),
                            **usage,
                        }
                    )
                    item.pop("maxswap", None)
                    item.pop("swap", None)
                if guest.config.get("tags"):
                    item["tags"] = guest.config["tags"]
                if guest.lock:
                    item["lock"] = guest.lock
                items.append(item)
        if type_filter in (None, "storage"):
            for node in self.nodes.values():
                for storage in node.storages.values():
                    used = self.storage_used(node, storage)
                    items.append(
                        {
                            "id": f"storage/{node.name}/{storage.name}",
                            "type": "storage",
                            "storage": storage.name,
                            "node": node.name,
                            "plugintype": storage.type,
                            "status": "unknown" if self.faults.get(node.name).down else "available",
                            "shared": storage.shared,
                            "content": storage.content,
                            "disk": used,
                            "maxdisk": storage.total,
                        }
                    )
        return items

    def node_summary(self, node: Node) -> dict[str, Any]:
        if self.faults.get(node.name).down:
            return {
                "id": f"node/{node.name}",
                "type": "node",
                "node": node.name,
                "status": "offline",
                "level": "",
            }
        return {
            "id": f"node/{node.name}",
            "type": "node",
            "node": node.name,
            "status": "online",
            "cpu": 0.031,
            "maxcpu": 16,
            "mem": 9 * GIB,
            "maxmem": 64 * GIB,
            "disk": 12 * GIB,
            "maxdisk": 100 * GIB,
            "uptime": int(self.clock.now() - node.booted_at),
            "level": "",
        }

    def storage_used(self, node: Node, storage: Storage) -> int:
        if storage.allows("vztmpl"):
            return 10 * GIB + sum(size for _, size in TEMPLATES.values())
        used = 0
        for guest in self.guests.values():
            if guest.node == node.name and guest.kind in ("lxc", "qemu"):
                used += self._usage(guest)["maxdisk"]
        return used

    def storage_content(self, node: Node, storage: Storage) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if storage.allows("vztmpl"):
            for filename, (_, size) in TEMPLATES.items():
                fmt = next(v for k, v in _TEMPLATE_FORMATS.items() if filename.endswith(k))
                items.append(
                    {
                        "volid": f"{storage.name}:vztmpl/{filename}",
                        "content": "vztmpl",
                        "format": fmt,
                        "size": size,
                        "ctime": int(node.booted_at) - 3600,
                    }
                )
        if storage.allows("rootdir"):
            for guest in sorted(self.guests.values(), key=lambda g: g.vmid):
                if guest.node != node.name:
                    continue
                disk = guest.config.get("rootfs") or guest.config.get("scsi0")
                if not disk or not str(disk).startswith(f"{storage.name}:"):
                    continue
                volid = str(disk).split(",", 1)[0]
                items.append(
                    {
                        "volid": volid,
                        "content": "rootdir" if guest.kind == "lxc" else "images",
                        "format": "raw",
                        "size": self._usage(guest)["maxdisk"],
                        "vmid": guest.vmid,
                        "ctime": int(node.booted_at),
                    }
                )
        return items


def _volumes_of(config: dict[str, Any]) -> list[str]:
    """Volume names (``vm-101-disk-0``) of rootfs and mount points."""
    names = []
    for key, value in config.items():
        if key == "rootfs" or (key.startswith("mp") and key[2:].isdigit()):
            volume = str(value).split(",", 1)[0]
            if ":" in volume and not volume.startswith("/"):
                names.append(volume.partition(":")[2])
    return names


def _error_text(exc: BaseException) -> str:
    return str(exc.args[0]).strip() if exc.args else str(exc)


def _validate_ssh_public_keys(text: str) -> None:
    """``PVE::Tools::validate_ssh_public_keys``: every non-blank line must pass
    ``ssh-keygen -l``, which reads authorized_keys lines, options prefix included."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            keys = asyncssh.import_authorized_keys(line.strip())
        except (asyncssh.KeyImportError, ValueError):
            keys = None
        if not keys:
            raise PveError("SSH public key validation error")


def _format_of(path: str, key: str) -> dict:
    return load_schema()[path]["parameters"]["properties"][key]["format"]


def _net_format() -> dict:
    return _format_of("POST /nodes/{node}/lxc", "net[n]")


def _rootfs_format() -> dict:
    return _format_of("POST /nodes/{node}/lxc", "rootfs")


def _features_format() -> dict:
    return _format_of("POST /nodes/{node}/lxc", "features")


def _parse_features(value: Any) -> dict[str, str]:
    return parse_property_string(str(value), _features_format()) if value else {}
