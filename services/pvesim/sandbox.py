"""Per-container root directories and isolated command execution for ``pct exec``.

Each container is a directory under the data dir. Commands run with the host's real bash and
coreutils, but inside ``unshare --mount --pid --uts --ipc --net`` + ``chroot``: the host's
``/usr`` trees are bind-mounted read-only into the container root, so the command can read
programs but can write only inside its own root. Capabilities that could undo the isolation
(``CAP_SYS_ADMIN``, ``CAP_SYS_CHROOT``, ...) are dropped with ``setpriv`` before the command
starts. Only util-linux (``unshare``, ``setpriv``, ``mount``) and coreutils ``chroot`` are needed,
which every Debian/Ubuntu base image has; it requires running as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger()

STANDINS_DIR = Path(__file__).resolve().parent / "standins"
# Stand-in name -> script file; aliases share one script.
STANDIN_COMMANDS = {
    "systemctl": "systemctl",
    "ss": "ss",
    "journalctl": "journalctl",
    "apt-get": "apt-get",
    "apt": "apt-get",
    "dpkg-query": "dpkg-query",
    "dpkg": "dpkg-query",
    "pip": "pip",
    "pip3": "pip",
    "npm": "npm",
    "hostname": "hostname",
    "ip": "ip",
}
STANDIN_BIN = "/usr/local/sbin"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DROPPED_CAPABILITIES = (
    "sys_admin",
    "sys_chroot",
    "sys_module",
    "sys_rawio",
    "sys_boot",
    "sys_ptrace",
    "sys_time",
    "mknod",
    "net_admin",
    "syslog",
    "mac_admin",
    "mac_override",
    "sys_resource",
)

# Runs as root in the fresh mount namespace: mounts what the container needs, then chroots.
_SETUP_SCRIPT = r"""
set -eu
root=$1; host=$2; shift 2
for dir in $PVESIM_BINDS; do
    mount --bind -o ro "$dir" "$root$dir"
done
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=0755,size=1m pvesim-dev "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/shm" "$root/dev/pts"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
hostname "$host" 2>/dev/null || true
ip link set lo up 2>/dev/null || true
exec chroot "$root" $PVESIM_DROP_CAPS /usr/bin/env -i PATH="$PVESIM_PATH" HOME=/root \
    USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb "$@"
"""

OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "ubuntu": 'PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
    'VERSION="24.04 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n',
    "alpine": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
    'PRETTY_NAME="Alpine Linux v3.20"\n',
}
BASE_PACKAGES = ["bash", "coreutils", "openssh-server", "systemd", "ca-certificates", "iproute2"]
_SSH_UNIT = (
    "[Unit]\nDescription=OpenBSD Secure Shell server\n\n[Service]\nExecStart=/usr/sbin/sshd -D\n"
    "X-Infrahaus-Port=22\n\n[Install]\nWantedBy=multi-user.target\n"
)


@dataclass(frozen=True)
class NetworkState:
    """What the container's eth0 looks like while it runs (read by the ip/hostname stand-ins)."""

    iface: str
    hwaddr: str
    ipv4: str | None
    prefix: int
    gateway: str | None
    network: str | None
    broadcast: str | None


def _host_layout() -> tuple[list[str], dict[str, str]]:
    """Host directories to bind read-only, and top-level symlinks (merged /usr) to recreate."""
    binds = sorted(
        str(path)
        for path in Path("/usr").iterdir()
        if path.is_dir() and not path.is_symlink() and path.name != "local"
    )
    links: dict[str, str] = {}
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            links[name] = os.readlink(path)
        elif path.is_dir():
            binds.append(str(path))
    return binds, links


def isolation_problem() -> str | None:
    """Why commands cannot be isolated here, or None when ``unshare``+``chroot`` work."""
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            return f"'{tool}' not found"
    try:
        subprocess.run(
            [
                "unshare",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--uts",
                "--ipc",
                "--net",
                "true",
            ],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        return f"unshare failed (the simulator must run as root): {exc}"
    return None


class Sandbox:
    """Creates container roots and runs commands in them."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._binds, self._links = _host_layout()
        self.problem = isolation_problem()
        setpriv = shutil.which("setpriv")
        self._drop_caps = (
            f"{setpriv} --bounding-set="
            + ",".join(f"-{cap}" for cap in DROPPED_CAPABILITIES)
            + " --"
            if setpriv
            else ""
        )

    def container_root(self, vmid: int) -> Path:
        return self.data_dir / "containers" / str(vmid) / "rootfs"

    def node_root(self, node: str) -> Path:
        return self.data_dir / "nodes" / node / "root"

    def _skeleton(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        for name, target in self._links.items():
            if not (root / name).is_symlink():
                (root / name).symlink_to(target)
        for bind in self._binds:
            (root / bind.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for directory in (
            "proc",
            "dev",
            "etc",
            "root",
            "tmp",
            "var/tmp",
            "var/log",
            "var/lib",
            "run",
            "home",
            "opt",
            "srv",
            "mnt",
            "usr/local/bin",
            "usr/local/sbin",
            "usr/local/lib/pvesim",
        ):
            (root / directory).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        (root / "var/tmp").chmod(0o1777)

    def create_node_root(self, node: str) -> Path:
        """The node's own filesystem: SFTP lands here and ``pct push`` reads from here."""
        root = self.node_root(node)
        self._skeleton(root)
        (root / "var/lib/vz/template/cache").mkdir(parents=True, exist_ok=True)
        (root / "etc/hostname").write_text(f"{node}\n")
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (root / "etc/group").write_text("root:x:0:\n")
        return root

    def create_container_root(
        self, vmid: int, ostype: str, hostname: str, ssh_keys: str | None
    ) -> Path:
        """Lay out a minimal distribution tree with the stand-ins installed (the "template")."""
        root = self.container_root(vmid)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self._skeleton(root)
        etc = root / "etc"
        (etc / "hostname").write_text(f"{hostname}\n")
        (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n")
        (etc / "os-release").write_text(OS_RELEASE.get(ostype, OS_RELEASE["debian"]))
        (etc / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
            "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        )
        (etc / "group").write_text("root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n")
        (etc / "resolv.conf").write_text("nameserver 192.168.100.1\n")
        if Path("/etc/alternatives").is_dir():
            shutil.copytree("/etc/alternatives", etc / "alternatives", symlinks=True)
        (etc / "pvesim").mkdir()
        units = etc / "systemd/system"
        (units / "multi-user.target.wants").mkdir(parents=True)
        (units / "ssh.service").write_text(_SSH_UNIT)
        (units / "multi-user.target.wants/ssh.service").symlink_to(
            "/etc/systemd/system/ssh.service"
        )
        packages = root / "var/lib/pvesim/packages"
        packages.mkdir(parents=True)
        (packages / "apt").write_text("".join(f"{name}\n" for name in BASE_PACKAGES))
        if ssh_keys:
            ssh_dir = root / "root/.ssh"
            ssh_dir.mkdir(mode=0o700)
            (ssh_dir / "authorized_keys").write_text(ssh_keys.strip() + "\n")
        shutil.copy(STANDINS_DIR / "lib.sh", root / "usr/local/lib/pvesim/lib.sh")
        for command, script in STANDIN_COMMANDS.items():
            target = root / STANDIN_BIN.lstrip("/") / command
            shutil.copy(STANDINS_DIR / script, target)
            target.chmod(0o755)
        return root

    def destroy_container_root(self, vmid: int) -> None:
        shutil.rmtree(self.container_root(vmid).parent, ignore_errors=True)

    def write_boot_state(self, vmid: int, hostname: str, net: NetworkState | None) -> None:
        """What PVE's start hook writes: hostname, the managed /etc/hosts line, network facts."""
        etc = self.container_root(vmid) / "etc"
        (etc / "hostname").write_text(f"{hostname}\n")
        lines = []
        if net is not None:
            lines = [
                f"IFACE={net.iface}",
                f"HWADDR={net.hwaddr}",
                f"IPV4={net.ipv4 or ''}",
                f"PREFIX={net.prefix}",
                f"GATEWAY={net.gateway or ''}",
                f"NETWORK={net.network or ''}",
                f"BROADCAST={net.broadcast or ''}",
            ]
        (etc / "pvesim").mkdir(exist_ok=True)
        (etc / "pvesim/network").write_text("".join(f"{line}\n" for line in lines))

    async def spawn(self, root: Path, hostname: str, argv: list[str]) -> asyncio.subprocess.Process:
        """Start ``argv`` isolated in ``root`` with stdin/stdout/stderr as pipes."""
        if self.problem:
            raise RuntimeError(f"command isolation unavailable: {self.problem}")
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PVESIM_BINDS": " ".join(self._binds),
            "PVESIM_PATH": CONTAINER_PATH,
            "PVESIM_DROP_CAPS": self._drop_caps,
        }
        return await asyncio.create_subprocess_exec(
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--uts",
            "--ipc",
            "--net",
            "--propagation",
            "private",
            "--",
            "/bin/bash",
            "-c",
            _SETUP_SCRIPT,
            "pvesim-sandbox",
            str(root),
            hostname,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )

    async def run(
        self, root: Path, hostname: str, argv: list[str], stdin: bytes = b""
    ) -> tuple[int, bytes, bytes]:
        """Run to completion; returns ``(exit status, stdout, stderr)``."""
        process = await self.spawn(root, hostname, argv)
        try:
            stdout, stderr = await process.communicate(stdin)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        return process.returncode or 0, stdout, stderr
