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
import stat
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger()

STANDINS_DIR = Path(__file__).resolve().parent / "standins"
# Stand-ins a fresh container has on its PATH, as /usr/bin/<name>: name -> script file.
STANDIN_COMMANDS = {
    "systemctl": "systemctl",
    "ss": "ss",
    "journalctl": "journalctl",
    "apt-get": "apt-get",
    "apt": "apt-get",
    "dpkg-query": "dpkg-query",
    "dpkg": "dpkg-query",
    "hostname": "hostname",
    "ip": "ip",
    "python3": "python3",
}
# Scripts kept in the container's /usr/lib/pvesim: the apt-get stand-in copies them to
# /usr/bin when their package is installed (pip only with python3-pip, npm only with npm).
STANDIN_LIBRARY = ("lib.sh", "pip", "npm", "node", "venv")
# Host programs a fresh Debian/Ubuntu container does not have: hidden (overlay whiteouts).
HIDDEN_COMMANDS = ("pip", "pip3", "pip3.11", "pip3.12", "npm", "npx", "node", "nodejs", "corepack")
# The node's own programs (its /usr/sbin/pct talks back to the simulator over a Unix socket).
NODE_PROGRAMS = {"usr/sbin/pct": "pct-client", "usr/bin/sudo": "sudo"}
PCT_SOCKET = "/run/pvesim/pct.sock"
# PATH of a command run by sshd for root on a Debian host (the node shell).
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# PATH of `pct exec`: pct's CLIHandler sets it, lxc-attach --keep-env passes it on.
PCT_EXEC_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
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

# Runs as root in the fresh mount namespace: mounts what the root needs, then chroots. The
# host's /usr is the read-only lower layer of an overlay whose upper layer is the root's own
# usr directory, so the container sees the host's programs plus its own files (stand-ins,
# whiteouts for what a fresh container lacks, whatever it installs) and writes stay inside it.
_SETUP_SCRIPT = r"""
set -eu
root=$1; host=$2; shift 2
for dir in $PVESIM_BINDS; do
    mount --bind -o ro "$dir" "$root$dir"
done
mkdir -p "$PVESIM_WORK"
mount -t overlay pvesim-usr \
    -o "lowerdir=/usr,upperdir=$root/usr,workdir=$PVESIM_WORK,index=off,xino=off" "$root/usr"
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
if [ -n "${PVESIM_PCT_SOCKET:-}" ]; then
    mkdir -p "$root/run/pvesim"
    [ -e "$root/run/pvesim/pct.sock" ] || touch "$root/run/pvesim/pct.sock"
    mount --bind "$PVESIM_PCT_SOCKET" "$root/run/pvesim/pct.sock"
fi
hostname "$host" 2>/dev/null || true
ip link set lo up 2>/dev/null || true
exec chroot "$root" $PVESIM_DROP_CAPS /usr/bin/env -i "$@"
"""

# Runs inside the root as the first process: changes to the working directory (falling back
# to / as lxc-attach does) and execs the command; with a label, reports a missing program the
# way lxc-attach does (exit 127).
_EXEC_SCRIPT = r"""
had=${OLDPWD+x}; old=${OLDPWD-}
cd -- "$1" 2>/dev/null || cd /
if [ -n "$had" ]; then OLDPWD=$old; else unset OLDPWD; fi
label=$2; shift 2
if [ -n "$label" ] && ! command -v -- "$1" >/dev/null 2>&1; then
    printf 'lxc-attach: %s: ../src/lxc/attach.c: lxc_attach_run_command: 1845 %s "%s"\n' \
        "$label" 'No such file or directory - Failed to exec' "$1" >&2
    exit 127
fi
exec "$@"
"""

OS_RELEASE = {
    "debian": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
    "ubuntu": 'PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
    'VERSION="24.04 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n',
    "alpine": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
    'PRETTY_NAME="Alpine Linux v3.20"\n',
}
# The distribution's python3 (for venvs and the PEP 668 marker); the interpreter that runs is
# the simulator host's /usr/bin/python3, whatever its version.
PYTHON_VERSIONS = {"debian": "3.11", "ubuntu": "3.12"}
EXTERNALLY_MANAGED = """[externally-managed]
Error=To install Python packages system-wide, try apt install
 python3-xyz, where xyz is the package you are trying to
 install.

 If you wish to install a non-Debian-packaged Python package,
 create a virtual environment using python3 -m venv path/to/venv.
 Then use path/to/venv/bin/python and path/to/venv/bin/pip. Make
 sure you have python3-full installed.

 If you wish to install a non-Debian packaged Python application,
 it may be easiest to use pipx install xyz, which will manage a
 virtual environment for you. Make sure you have pipx installed.

 See /usr/share/doc/python{version}/README.venv for more information.
"""
BASE_PACKAGES = [
    "bash",
    "coreutils",
    "openssh-server",
    "systemd",
    "ca-certificates",
    "iproute2",
    "python3",
]
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
    method: str = "static"  # dhcp, static or manual (how the guest gets its IPv4)


def _host_layout() -> tuple[list[str], dict[str, str]]:
    """Top-level host directories to bind read-only (unmerged /usr), symlinks to recreate."""
    binds: list[str] = []
    links: dict[str, str] = {}
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            links[name] = os.readlink(path)
        elif path.is_dir():
            binds.append(str(path))
    return binds, links


def isolation_problem(data_dir: Path | None = None) -> str | None:
    """Why commands cannot be isolated here, or None when ``unshare``+overlay+``chroot`` work.

    The overlay's upper layer lives in the data dir, so its file system is what is probed
    (ext4, xfs, btrfs and tmpfs work; overlayfs itself, e.g. a container's /tmp, does not)."""
    for tool in ("unshare", "chroot", "mount", "perl"):
        if shutil.which(tool) is None:
            return f"'{tool}' not found"
    probe_parent = data_dir if data_dir is not None and data_dir.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".pvesim-probe-", dir=probe_parent) as probe:
        upper, work = Path(probe, "usr"), Path(probe, "work")
        upper.mkdir()
        work.mkdir()
        options = f"lowerdir=/usr,upperdir={upper},workdir={work},index=off,xino=off"
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
                    "--propagation",
                    "private",
                    "mount",
                    "-t",
                    "overlay",
                    "pvesim-probe",
                    "-o",
                    options,
                    str(upper),
                ],
                check=True,
                capture_output=True,
                timeout=10,
            )
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode(errors="replace").strip()
            return f"unshare/overlay mount failed (the simulator must run as root): {detail}"
        except (subprocess.TimeoutExpired, OSError) as exc:
            return f"unshare failed (the simulator must run as root): {exc}"
    return None


def _whiteout(path: Path) -> None:
    """An overlayfs whiteout: the lower layer's entry of that name is hidden."""
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(0, 0))


def _opaque_dir(path: Path) -> None:
    """An overlayfs opaque directory: the lower layer's contents of it are hidden."""
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def _install_script(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    shutil.copy(source, target)
    target.chmod(0o755)


class Sandbox:
    """Creates container roots and runs commands in them."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._binds, self._links = _host_layout()
        self.problem = isolation_problem(data_dir)
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
            "usr",
            "var/tmp",
            "var/log",
            "var/lib",
            "run",
            "home",
            "opt",
            "srv",
            "mnt",
        ):
            (root / directory).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)
        (root / "var/tmp").chmod(0o1777)
        if self.problem is None:
            # A fresh /usr/local (the host's is not part of the image).
            _opaque_dir(root / "usr/local")
            for sub in ("bin", "sbin", "lib", "share", "include", "src", "etc", "games"):
                (root / "usr/local" / sub).mkdir(exist_ok=True)

    def _shadow(self, root: Path, name: str, source: Path | None) -> None:
        """Make ``name`` the stand-in ``source`` in /usr/bin (None: absent), wherever on PATH."""
        if self.problem is not None:
            return
        for directory in ("usr/bin", "usr/sbin"):
            target = root / directory / name
            on_host = Path("/", directory, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source is not None and directory == "usr/bin":
                _install_script(source, target)
            elif on_host.exists() or on_host.is_symlink():
                if source is not None:
                    if target.exists() or target.is_symlink():
                        target.unlink()
                    target.symlink_to(f"../bin/{name}")
                else:
                    _whiteout(target)

    def create_node_root(self, node: str) -> Path:
        """The node's own filesystem: SFTP lands here and ``pct push`` reads from here."""
        root = self.node_root(node)
        self._skeleton(root)
        (root / "var/lib/vz/template/cache").mkdir(parents=True, exist_ok=True)
        (root / "etc/hostname").write_text(f"{node}\n")
        (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
        (root / "etc/group").write_text("root:x:0:\n")
        (root / "run/pvesim").mkdir(parents=True, exist_ok=True)
        for target, script in NODE_PROGRAMS.items():
            _install_script(STANDINS_DIR / script, root / target)
        return root

    def create_container_root(
        self, vmid: int, ostype: str, hostname: str, ssh_keys: str | None
    ) -> Path:
        """Lay out a minimal distribution tree with the stand-ins installed (the "template")."""
        root = self.container_root(vmid)
        if root.parent.exists():
            shutil.rmtree(root.parent)
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
        python = PYTHON_VERSIONS.get(ostype)
        real_python = (
            os.path.realpath("/usr/bin/python3") if Path("/usr/bin/python3").exists() else ""
        )
        (etc / "pvesim/python").write_text(f"PYVER={python or ''}\nREAL_PYTHON={real_python}\n")
        (etc / "init.d").mkdir()
        (etc / "init.d/ssh").write_text(
            '#!/bin/sh\n# pvesim: SysV script of ssh.service\nexec systemctl "$1" ssh.service\n'
        )
        (etc / "init.d/ssh").chmod(0o755)
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
        for script in STANDIN_LIBRARY:
            _install_script(STANDINS_DIR / script, root / "usr/lib/pvesim" / script)
        for command, script in STANDIN_COMMANDS.items():
            self._shadow(root, command, STANDINS_DIR / script)
        for command in HIDDEN_COMMANDS:
            self._shadow(root, command, None)
        if python:
            marker = root / f"usr/lib/python{python}/EXTERNALLY-MANAGED"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(EXTERNALLY_MANAGED.format(version=python))
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
                f"METHOD={net.method}",
            ]
        (etc / "pvesim").mkdir(exist_ok=True)
        (etc / "pvesim/network").write_text("".join(f"{line}\n" for line in lines))

    async def spawn(
        self,
        root: Path,
        hostname: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str = "/",
        label: str = "",
        pct_socket: Path | None = None,
    ) -> asyncio.subprocess.Process:
        """Start ``argv`` isolated in ``root`` with stdin/stdout/stderr as pipes.

        ``env`` is the command's whole environment (default: a root login's); ``cwd`` falls
        back to ``/`` when it does not exist in the root; ``label`` (the vmid) makes a missing
        program fail as lxc-attach reports it; ``pct_socket`` appears as /run/pvesim/pct.sock.
        """
        if self.problem:
            raise RuntimeError(f"command isolation unavailable: {self.problem}")
        if env is None:
            env = {
                "PATH": NODE_PATH,
                "HOME": "/root",
                "USER": "root",
                "LOGNAME": "root",
                "SHELL": "/bin/bash",
                "LANG": "C.UTF-8",
            }
        # Each command mounts its own overlay of the root's /usr; overlayfs clears its work
        # directory at mount time, so two commands at once (builds on one node) must never
        # share one: a fresh one per command, removed when the command ends.
        work = root.parent / f".{root.name}-usr-work-{uuid.uuid4().hex[:12]}"
        host_env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PVESIM_BINDS": " ".join(self._binds),
            "PVESIM_WORK": str(work),
            "PVESIM_DROP_CAPS": self._drop_caps,
        }
        if pct_socket is not None:
            host_env["PVESIM_PCT_SOCKET"] = str(pct_socket)
        assignments = [f"{key}={value}" for key, value in env.items() if "=" not in key and key]
        process = await asyncio.create_subprocess_exec(
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
            *assignments,
            "/bin/sh",
            "-c",
            _EXEC_SCRIPT,
            "pvesim-exec",
            cwd or "/",
            label,
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=host_env,
        )
        cleanup = asyncio.get_running_loop().create_task(_remove_when_done(process, work))
        _CLEANUPS.add(cleanup)
        cleanup.add_done_callback(_CLEANUPS.discard)
        return process

    async def run(
        self,
        root: Path,
        hostname: str,
        argv: list[str],
        stdin: bytes = b"",
        *,
        env: dict[str, str] | None = None,
        cwd: str = "/",
    ) -> tuple[int, bytes, bytes]:
        """Run to completion; returns ``(exit status, stdout, stderr)``."""
        process = await self.spawn(root, hostname, argv, env=env, cwd=cwd)
        try:
            stdout, stderr = await process.communicate(stdin)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        return process.returncode or 0, stdout, stderr


_CLEANUPS: set[asyncio.Task[None]] = set()


async def _remove_when_done(process: asyncio.subprocess.Process, work: Path) -> None:
    """Remove a command's overlay work directory once the command (and its mount) is gone."""
    await process.wait()
    await asyncio.to_thread(shutil.rmtree, work, True)
