"""The node side over SSH: a real shell on the node, whose ``pct`` talks back to the simulator.

One SSH listener per node (a node is a host). Every command runs as sshd runs it: ``bash -c``
in the node's own isolated root (which is also the SFTP root), so operators, ``VAR=x``
prefixes, ``$(...)`` and ``timeout N pct ...`` work as on a real host. ``pct`` is the program
``/usr/sbin/pct`` in that root: it sends its arguments, environment and working directory over
the Unix socket ``/run/pvesim/pct.sock`` to :class:`PctServer`, which runs the subcommand here
and streams stdin, stdout, stderr and the exit status back (see ``standins/pct-client``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import asyncssh
import structlog

from services.pvesim.cluster import Cluster, Guest
from services.pvesim.errors import PveError
from services.pvesim.sandbox import PCT_EXEC_PATH
from services.pvesim.validation import load_schema, to_bool, validate

log = structlog.get_logger()

PCT_USAGE = "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n"
PCT_ERROR_EXIT = 255
# pct subcommands that run the API handler locally as root@pam: name -> schema entry.
PCT_API_COMMANDS = {
    "create": "POST /nodes/{node}/lxc",
    "set": "PUT /nodes/{node}/lxc/{vmid}/config",
    "start": "POST /nodes/{node}/lxc/{vmid}/status/start",
    "stop": "POST /nodes/{node}/lxc/{vmid}/status/stop",
    "shutdown": "POST /nodes/{node}/lxc/{vmid}/status/shutdown",
    "reboot": "POST /nodes/{node}/lxc/{vmid}/status/reboot",
    "destroy": "DELETE /nodes/{node}/lxc/{vmid}",
}
PCT_API_USAGE = {
    "create": "pct create <vmid> <ostemplate> [OPTIONS]",
    "destroy": "pct destroy <vmid> [OPTIONS]",
}
EXEC_USAGE = "pct exec <vmid> [<extra-args>] [OPTIONS]"
PUSH_USAGE = "pct push <vmid> <file> <destination> [OPTIONS]"
PULL_USAGE = "pct pull <vmid> <path> <destination> [OPTIONS]"
# What pct's CLI environment drops before lxc-attach (pct.pm clean_environment).
_DROPPED_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")

# Runs inside the target root as pct's push_file/pull_file worker does after entering the
# container: resolves user and group there, creates the file exclusively (mode 0666 & ~umask
# for a new file) or truncates an existing one keeping mode and owner, applies --perms
# (strtoul base 0 after pct's "0" prefix) and --user/--group, and copies stdin into it.
# A failure is one line on stderr and exit 1; the caller reports it as pct does (exit 0).
_CREATE_FILE_SCRIPT = r"""
use strict; use warnings; use Fcntl; use POSIX ();
my ($dest, $perms, $user, $group, $umask) = map { $_ eq "" ? undef : substr($_, 1) } @ARGV;
umask(oct($umask)) if defined $umask;
my ($uid, $gid);
if (defined $user) {
    $uid = $user =~ /^\d+$/ ? int($user) : getpwnam($user);
    die "failed to get uid for: $user\n" if !defined $uid;
}
if (defined $group) {
    $gid = $group =~ /^\d+$/ ? int($group) : getgrnam($group);
    die "failed to get gid for: $group\n" if !defined $gid;
}
if (defined $perms) {
    $! = 0;
    my ($mode, $rest) = POSIX::strtoul($perms, 0);
    die "invalid mode: '$perms'\n" if $perms eq '' || !defined $mode || $rest > 0 || $!;
    $perms = $mode;
}
my $fh;
if (sysopen($fh, $dest, O_WRONLY | O_CREAT | O_EXCL, 0)) {
    $perms = 0666 & ~umask() if !defined $perms;
} else {
    sysopen($fh, $dest, O_WRONLY | O_CREAT | O_TRUNC) or die "failed to create file: $dest: $!\n";
}
chmod($perms, $fh) if defined $perms;
if (defined $uid || defined $gid) {
    my @st = stat($fh);
    chown($uid // $st[4], $gid // $st[5], $fh) or die "failed to change file owner: $!\n";
}
binmode(STDIN); binmode($fh);
while (1) {
    my $n = sysread(STDIN, my $buf, 65536);
    die "read error: $!\n" if !defined $n;
    last if !$n;
    while (length $buf) {
        my $w = syswrite($fh, $buf);
        die "write error: $!\n" if !defined $w;
        substr($buf, 0, $w, '');
    }
}
close($fh) or die "close error: $!\n";
"""


class PctError(Exception):
    """A ``pct`` failure: message on stderr, exit status 255 (Perl ``die``)."""


class PctParseError(PctError):
    """Getopt::Long refused an option: its warnings, then ``400 unable to parse option``."""


class Stdio(Protocol):
    """Where a command's input comes from and its output goes (SSH channel or pct socket)."""

    async def read_stdin(self) -> bytes: ...

    def write_out(self, data: bytes) -> None: ...

    def write_err(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def wait_closed(self) -> None: ...


class SshStdio:
    """One SSH session's channel."""

    def __init__(self, process: asyncssh.SSHServerProcess):
        self.process = process

    async def read_stdin(self) -> bytes:
        try:
            return await self.process.stdin.read(65536)
        except (ConnectionError, asyncssh.Error):
            return b""

    def write_out(self, data: bytes) -> None:
        self.process.stdout.write(data)

    def write_err(self, data: bytes) -> None:
        self.process.stderr.write(data)

    async def drain(self) -> None:
        await self.process.stdout.drain()

    async def wait_closed(self) -> None:
        await self.process.channel.wait_closed()


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


class SocketStdio:
    """A ``pct`` client on the node, speaking the frame protocol of ``standins/pct-client``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.args: list[str] = []
        self.env: dict[str, str] = {}
        self.cwd = "/"
        self.umask = "0022"
        self._stdin: asyncio.Queue[bytes] = asyncio.Queue()
        self._closed = asyncio.get_running_loop().create_future()
        self._pump: asyncio.Task | None = None

    async def _read_frame(self) -> tuple[bytes, bytes]:
        header = await self.reader.readexactly(5)
        length = struct.unpack(">I", header[1:])[0]
        return header[:1], await self.reader.readexactly(length)

    async def read_header(self) -> None:
        """Arguments (A), environment (V), working directory (C), umask (U) until start (S)."""
        while True:
            kind, payload = await self._read_frame()
            text = payload.decode("utf-8", "surrogateescape")
            if kind == b"A":
                self.args.append(text)
            elif kind == b"V":
                key, _, value = text.partition("=")
                self.env[key] = value
            elif kind == b"C":
                self.cwd = text or "/"
            elif kind == b"U":
                self.umask = text
            elif kind == b"S":
                break
        self._pump = asyncio.create_task(self._pump_stdin())

    async def _pump_stdin(self) -> None:
        try:
            while True:
                kind, payload = await self._read_frame()
                if kind == b"I":
                    self._stdin.put_nowait(payload)
                elif kind == b"i":
                    self._stdin.put_nowait(b"")
        except (asyncio.IncompleteReadError, ConnectionError):
            self._stdin.put_nowait(b"")
            if not self._closed.done():
                self._closed.set_result(None)

    async def read_stdin(self) -> bytes:
        return await self._stdin.get()

    def _send(self, kind: bytes, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(_frame(kind, data))

    def write_out(self, data: bytes) -> None:
        self._send(b"O", data)

    def write_err(self, data: bytes) -> None:
        self._send(b"E", data)

    async def drain(self) -> None:
        # The client never stops reading the socket for long (its stdin frames are queued
        # here), so waiting for it only slows a fast command down to the reader's pace.
        await self.writer.drain()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    async def finish(self, status: int) -> None:
        self._send(b"X", str(status).encode())
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()
        if self._pump is not None:
            self._pump.cancel()
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def getopt(args: list[str], spec: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Getopt::Long as PVE configures it: ``-x``/``--x``, unique prefixes, options anywhere
    (permute) until ``--``. ``spec`` maps names to ``=`` (value required) or ``:`` (optional
    value, the next argument unless it looks like an option)."""
    positional: list[str] = []
    options: dict[str, str] = {}
    warnings: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positional.extend(args[index:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, has_value, value = arg.lstrip("-").partition("=")
        matches = [key for key in spec if key.lower().startswith(name.lower())] if name else []
        exact = [key for key in matches if key.lower() == name.lower()]
        if exact:
            matches = exact
        if len(matches) != 1:
            if matches:
                warnings.append(f"Option {name} is ambiguous ({', '.join(sorted(matches))})")
            else:
                warnings.append(f"Unknown option: {name.lower()}")
            continue
        key = matches[0]
        if not has_value:
            if spec[key] == "=":
                if index >= len(args):
                    warnings.append(f"Option {key} requires an argument")
                    continue
                value = args[index]
                index += 1
            elif index < len(args) and not args[index].startswith("-"):
                value = args[index]
                index += 1
            else:
                value = ""
        options[key] = value
    if warnings:
        raise PctParseError("".join(f"{line}\n" for line in warnings))
    return positional, options


def _boolean(name: str, value: str, usage: str) -> bool:
    lowered = value.lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise PctError(
        f"400 Parameter verification failed.\n{name}: type check ('boolean') failed - "
        f"got '{value}'\n{usage}"
    )


class NodeSshServer(asyncssh.SSHServer):
    """Password and public-key authentication for the single ``root`` account."""

    def __init__(self, username: str, password: str, authorized_keys: Callable[[], list[str]]):
        self._username = username
        self._password = password
        self._authorized_keys = authorized_keys
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        if self._conn is not None:
            keys = "\n".join(self._authorized_keys())
            if keys:
                self._conn.set_authorized_keys(asyncssh.import_authorized_keys(keys))
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self._username and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def public_key_auth_supported(self) -> bool:
        return True


_VMID_SCHEMA = {
    "type": "object",
    "properties": {
        "vmid": {"type": "integer", "format": "pve-vmid", "minimum": 100, "maximum": 999999999}
    },
}


def _vmid(text: str, usage: str) -> int:
    errors = validate(_VMID_SCHEMA, {"vmid": text})
    if errors:
        raise PctError(
            f"400 Parameter verification failed.\nvmid: {errors['vmid'].rstrip()}\n{usage}"
        )
    return int(text)


class NodeShell:
    """Runs one node's SSH commands (in its root) and its ``pct`` calls (from the socket)."""

    def __init__(self, cluster: Cluster, node: str, pct_socket: Path):
        self.cluster = cluster
        self.node = node
        self.pct_socket = pct_socket
        self.pct_calls: set[asyncio.Task] = set()

    @property
    def node_root(self) -> Path:
        return self.cluster.sandbox.node_root(self.node)

    # ----- SSH: every command is `bash -c COMMAND` on the node, as sshd runs it ----------

    def _session_env(self, process: asyncssh.SSHServerProcess) -> dict[str, str]:
        peer = process.get_extra_info("peername") or ("127.0.0.1", 0)
        local = process.get_extra_info("sockname") or ("127.0.0.1", 22)
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "USER": "root",
            "LOGNAME": "root",
            "SHELL": "/bin/bash",
            "MAIL": "/var/mail/root",
            "LANG": "C.UTF-8",
            "SSH_CLIENT": f"{peer[0]} {peer[1]} {local[1]}",
            "SSH_CONNECTION": f"{peer[0]} {peer[1]} {local[0]} {local[1]}",
        }
        # Debian's sshd_config: AcceptEnv LANG LC_*
        for key, value in (process.env or {}).items():
            name = key.decode() if isinstance(key, bytes) else str(key)
            if name == "LANG" or name.startswith("LC_"):
                env[name] = value.decode() if isinstance(value, bytes) else str(value)
        return env

    async def handle(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command
        latency = self.cluster.faults.get(self.node).latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        stdio = SshStdio(process)
        try:
            if not command:
                process.stderr.write(b"interactive shells are not supported by pvesim\n")
                status = 1
            else:
                if isinstance(command, bytes):
                    command = command.decode("utf-8", "surrogateescape")
                status = await self.run_isolated(
                    stdio,
                    self.node_root,
                    self.node,
                    ["/bin/bash", "-c", command],
                    env=self._session_env(process),
                    cwd="/root",
                    pct_socket=self.pct_socket,
                )
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, ConnectionError):
            status = 1
        try:
            process.exit(status)
        except (OSError, asyncssh.Error):
            log.info("pvesim.ssh.client_gone", node=self.node, command=command)

    async def run_isolated(
        self,
        stdio: Stdio,
        root: Path,
        hostname: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str = "/",
        label: str = "",
        pct_socket: Path | None = None,
    ) -> int:
        """Run ``argv`` in the sandbox with ``stdio`` wired through; a hang-up kills it."""
        try:
            child = await self.cluster.sandbox.spawn(
                root, hostname, argv, env=env, cwd=cwd, label=label, pct_socket=pct_socket
            )
        except RuntimeError as exc:
            stdio.write_err(f"pvesim: {exc}\n".encode())
            return 1
        assert child.stdin and child.stdout and child.stderr

        async def feed_stdin() -> None:
            try:
                while data := await stdio.read_stdin():
                    child.stdin.write(data)
                    await child.stdin.drain()
            except (ConnectionError, asyncssh.Error):
                pass
            finally:
                child.stdin.close()

        async def copy_output(source: asyncio.StreamReader, sink: Callable[[bytes], None]) -> None:
            while data := await source.read(65536):
                sink(data)
                await stdio.drain()

        stdin_task = asyncio.create_task(feed_stdin())
        output = asyncio.ensure_future(
            asyncio.gather(
                copy_output(child.stdout, stdio.write_out),
                copy_output(child.stderr, stdio.write_err),
            )
        )
        # A client that hangs up (e.g. after its own timeout) must not leave the command running.
        hangup = asyncio.ensure_future(stdio.wait_closed())
        try:
            await asyncio.wait({output, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if not output.done():
                raise ConnectionAbortedError("client closed the session")
            output.result()
            return await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            for task in (stdin_task, output, hangup):
                task.cancel()
            await asyncio.gather(stdin_task, output, hangup, return_exceptions=True)

    # ----- pct, called by /usr/sbin/pct on the node -------------------------------------

    async def serve_pct(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.pct_calls.add(task)
            task.add_done_callback(self.pct_calls.discard)
        try:
            await self._serve_pct(reader, writer)
        except asyncio.CancelledError:  # the simulator stops: end quietly, the client sees EOF
            writer.close()

    async def _serve_pct(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stdio = SocketStdio(reader, writer)
        try:
            await stdio.read_header()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        try:
            status = await self.pct(stdio, stdio.args)
        except PctParseError as exc:
            stdio.write_err(str(exc).encode())
            usage = getattr(exc, "usage", "")
            stdio.write_err(f"400 unable to parse option\n{usage}".encode())
            status = PCT_ERROR_EXIT
        except PctError as exc:
            stdio.write_err(f"{exc}\n".encode())
            status = PCT_ERROR_EXIT
        except PveError as exc:
            stdio.write_err(exc.message.encode())
            status = PCT_ERROR_EXIT
        except ConnectionError:
            status = 1
        except Exception:
            log.exception("pvesim.pct.failed", node=self.node, args=stdio.args)
            stdio.write_err(b"pvesim: internal error in pct\n")
            status = PCT_ERROR_EXIT
        await stdio.finish(status)

    def _container(self, vmid: int) -> Guest:
        return self.cluster.container(self.node, vmid)

    async def pct(self, stdio: SocketStdio, args: list[str]) -> int:
        if not args:
            raise PctError(f"ERROR: no command specified\n{PCT_USAGE.rstrip()}")
        command, rest = args[0], args[1:]
        if command == "exec":
            return await self.pct_exec(stdio, rest)
        if command == "push":
            return await self.pct_push(stdio, rest)
        if command == "pull":
            return await self.pct_pull(stdio, rest)
        if command == "status":
            positional, _ = self._parse(rest, {"verbose": ":"}, "pct status <vmid> [OPTIONS]")
            if not positional:
                raise PctError("400 not enough arguments\npct status <vmid> [OPTIONS]")
            guest = self._container(_vmid(positional[0], "pct status <vmid> [OPTIONS]"))
            stdio.write_out(f"status: {guest.status}\n".encode())
            return 0
        if command == "list":
            return self.pct_list(stdio)
        if command == "unlock":
            if not rest:
                raise PctError("400 not enough arguments\npct unlock <vmid>")
            guest = self._container(_vmid(rest[0], "pct unlock <vmid>"))
            guest.config.pop("lock", None)
            return 0
        if command in PCT_API_COMMANDS:
            return await self.pct_api_command(stdio, command, rest)
        if command == "config":
            if not rest:
                raise PctError("400 not enough arguments\npct config <vmid> [OPTIONS]")
            guest = self._container(_vmid(rest[0], "pct config <vmid> [OPTIONS]"))
            for key, value in guest.config.items():
                stdio.write_out(f"{key}: {value}\n".encode())
            return 0
        raise PctError(f"ERROR: unknown command 'pct {command}'\n{PCT_USAGE.rstrip()}")

    @staticmethod
    def _parse(args: list[str], spec: dict[str, str], usage: str) -> tuple[list[str], dict]:
        try:
            return getopt(args, spec)
        except PctParseError as exc:
            exc.usage = usage + "\n"  # type: ignore[attr-defined]  # read by our own handler
            raise

    @staticmethod
    def _cli_options(args: list[str]) -> tuple[list[str], dict[str, str]]:
        """PVE CLI style for API commands: ``-key value``/``--key value``/``--key=value``;
        a flag without a value means 1 (booleans)."""
        positional: list[str] = []
        options: dict[str, str] = {}
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "--":
                positional.extend(args[index + 1 :])
                break
            if arg.startswith("-") and len(arg) > 1:
                name, sep, value = arg.lstrip("-").partition("=")
                if not sep:
                    has_value = index + 1 < len(args) and not args[index + 1].startswith("-")
                    value = args[index + 1] if has_value else "1"
                    index += 1 if has_value else 0
                options[name] = value
            else:
                positional.append(arg)
            index += 1
        return positional, options

    async def _node_file(self, stdio: SocketStdio, path: str) -> tuple[int, bytes, bytes]:
        """Read a file as the node sees it (relative to the caller's working directory)."""
        return await self.cluster.sandbox.run(
            self.node_root, self.node, ["/bin/cat", "--", path], cwd=stdio.cwd
        )

    async def pct_api_command(self, stdio: SocketStdio, command: str, args: list[str]) -> int:
        """``pct create|set|start|stop|shutdown|reboot|destroy``: the API handler as root@pam."""
        usage = PCT_API_USAGE.get(command, f"pct {command} <vmid> [OPTIONS]")
        positional, options = self._cli_options(args)
        wanted = 2 if command == "create" else 1
        if len(positional) < wanted:
            raise PctError(f"400 not enough arguments\n{usage}")
        if len(positional) > wanted:
            raise PctError(f"400 too many arguments\n{usage}")
        params: dict[str, str] = {**options, "node": self.node, "vmid": positional[0]}
        if command == "create":
            params["ostemplate"] = positional[1]
            keys_file = params.get("ssh-public-keys")
            if keys_file is not None:
                rc, data, _ = await self._node_file(stdio, keys_file)
                if rc != 0:
                    raise PctError(f"unable to open file '{keys_file}' - No such file or directory")
                params["ssh-public-keys"] = data.decode("utf-8", "replace")
        errors = validate(load_schema()[PCT_API_COMMANDS[command]]["parameters"], params)
        if errors:
            detail = "\n".join(f"{key}: {message.rstrip()}" for key, message in errors.items())
            raise PctError(f"400 Parameter verification failed.\n{detail}\n{usage}")
        vmid = int(positional[0])
        if command == "set":
            await self.cluster.update_config(self.node, vmid, params, is_root=True)
            return 0
        if command == "create":
            upid = await self.cluster.create(self.node, params, "root@pam", True)
        elif command == "start":
            upid = self.cluster.start(self.node, vmid, params, "root@pam", True)
        elif command == "stop":
            upid = self.cluster.stop(self.node, vmid, params, "root@pam", True)
        elif command == "shutdown":
            upid = self.cluster.shutdown(self.node, vmid, params, "root@pam")
        elif command == "reboot":
            upid = self.cluster.reboot(self.node, vmid, params, "root@pam")
        else:
            upid = self.cluster.destroy(self.node, vmid, params, "root@pam")
        status = await self._follow_task(stdio, upid)
        if status == 0 and command == "create" and to_bool(params.get("start", 0)):
            # In a CLI worker the start that create forks runs in the foreground as well.
            later = list(self.cluster.tasks.tasks.values())
            later = later[[task.upid for task in later].index(upid) + 1 :]
            for task in later:
                if task.type == "vzstart" and task.id == str(vmid):
                    return await self._follow_task(stdio, task.upid)
        return status

    async def _follow_task(self, stdio: SocketStdio, upid: str) -> int:
        """A CLI worker runs in the foreground: its log goes to stdout, its error to stderr."""
        task = self.cluster.tasks.tasks[upid]
        printed = 0
        while True:
            for line in task.lines[printed:]:
                stdio.write_out(f"{line}\n".encode())
            printed = len(task.lines)
            if not task.running:
                break
            await asyncio.sleep(0.02)
        if task.exitstatus != "OK":
            stdio.write_err(f"{task.exitstatus}\n".encode())
            return PCT_ERROR_EXIT
        return 0

    def pct_list(self, stdio: SocketStdio) -> int:
        rows = [
            guest
            for guest in sorted(self.cluster.guests.values(), key=lambda g: g.vmid)
            if guest.kind == "lxc" and guest.node == self.node
        ]
        stdio.write_out(f"{'VMID':<10} {'Status':<10} {'Lock':<10} Name\n".encode())
        for guest in rows:
            line = f"{guest.vmid:<10} {guest.status:<10} {guest.lock or '':<10} {guest.hostname}\n"
            stdio.write_out(line.encode())
        return 0

    async def pct_exec(self, stdio: SocketStdio, args: list[str]) -> int:
        positional, options = self._parse(args, {"keep-env": ":"}, EXEC_USAGE)
        if not positional:
            raise PctError(f"400 not enough arguments\n{EXEC_USAGE}")
        vmid = _vmid(positional[0], EXEC_USAGE)
        keep_env = _boolean("keep-env", options.get("keep-env", "1"), EXEC_USAGE)
        guest = self._container(vmid)
        if guest.status != "running":
            raise PctError(f"container '{vmid}' not running!")
        command = positional[1:]
        if not command:
            raise PctError("missing command at /usr/share/perl5/PVE/CLI/pct.pm line 246.")
        if keep_env:
            env = {k: v for k, v in stdio.env.items() if k not in _DROPPED_ENV}
            env["PATH"] = PCT_EXEC_PATH
        else:
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        env["container"] = "lxc"
        root = self.cluster.sandbox.container_root(guest.vmid)
        return await self.run_isolated(
            stdio, root, guest.hostname, command, env=env, cwd=stdio.cwd, label=str(vmid)
        )

    @staticmethod
    def _file_options(options: dict[str, str]) -> list[str]:
        """perms/user/group for the create-file worker: ``=value``, or empty when not given."""
        perms = options.get("perms")
        if perms is not None and not perms.startswith("0"):
            perms = f"0{perms}"  # pct: "assume octal as default"
        return [
            "" if value is None else f"={value}"
            for value in (perms, options.get("user"), options.get("group"))
        ]

    async def pct_push(self, stdio: SocketStdio, args: list[str]) -> int:
        spec = {"perms": "=", "user": "=", "group": "="}
        positional, options = self._parse(args, spec, PUSH_USAGE)
        if len(positional) < 3:
            raise PctError(f"400 not enough arguments\n{PUSH_USAGE}")
        if len(positional) > 3:
            raise PctError(f"400 too many arguments\n{PUSH_USAGE}")
        vmid_text, source, destination = positional
        vmid = _vmid(vmid_text, PUSH_USAGE)
        guest = self.cluster.guests.get(vmid)
        if guest is None or guest.node != self.node or guest.status != "running":
            raise PctError("can only push files to a running CT")
        # From here on pct runs a worker: its failures are printed, the exit status stays 0.
        rc, data, _ = await self._node_file(stdio, source)
        if rc != 0:
            stdio.write_err(f"failed to open {source} for reading\n".encode())
            return 0
        rc, _, stderr = await self.cluster.sandbox.run(
            self.cluster.sandbox.container_root(guest.vmid),
            guest.hostname,
            [
                "/usr/bin/perl",
                "-e",
                _CREATE_FILE_SCRIPT,
                "--",
                f"={destination}",
                *self._file_options(options),
                f"={stdio.umask}",
            ],
            stdin=data,
            env={"PATH": PCT_EXEC_PATH},
        )
        if rc != 0:
            stdio.write_err(_worker_error(stderr))
        return 0

    async def pct_pull(self, stdio: SocketStdio, args: list[str]) -> int:
        spec = {"perms": "=", "user": "=", "group": "="}
        positional, options = self._parse(args, spec, PULL_USAGE)
        if len(positional) < 3:
            raise PctError(f"400 not enough arguments\n{PULL_USAGE}")
        if len(positional) > 3:
            raise PctError(f"400 too many arguments\n{PULL_USAGE}")
        vmid_text, source, destination = positional
        vmid = _vmid(vmid_text, PULL_USAGE)
        guest = self.cluster.guests.get(vmid)
        if guest is None or guest.node != self.node or guest.status != "running":
            raise PctError(
                "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 664."
            )
        rc, data, _ = await self.cluster.sandbox.run(
            self.cluster.sandbox.container_root(guest.vmid),
            guest.hostname,
            ["/bin/cat", "--", source],
            env={"PATH": PCT_EXEC_PATH},
        )
        if rc != 0:
            stdio.write_err(f"failed to open {source}: No such file or directory\n".encode())
            return 0
        rc, _, stderr = await self.cluster.sandbox.run(
            self.node_root,
            self.node,
            [
                "/usr/bin/perl",
                "-e",
                _CREATE_FILE_SCRIPT,
                "--",
                f"={destination}",
                *self._file_options(options),
                f"={stdio.umask}",
            ],
            stdin=data,
            env={"PATH": PCT_EXEC_PATH},
            cwd=stdio.cwd,
        )
        if rc != 0:
            stdio.write_err(_worker_error(stderr))
        return 0


def _worker_error(stderr: bytes) -> bytes:
    """A worker's ``die``: chomped, newlines as spaces, one line (RESTEnvironment)."""
    text = stderr.decode("utf-8", "replace").rstrip("\n").replace("\n", " ")
    return f"{text}\n".encode()


class PctServer:
    """The Unix socket a node's ``/usr/sbin/pct`` connects to (bound into the node root)."""

    def __init__(self, shell: NodeShell):
        self.shell = shell
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.shell.pct_socket.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(
            self.shell.serve_pct, path=str(self.shell.pct_socket)
        )
        self.shell.pct_socket.chmod(0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        calls = list(self.shell.pct_calls)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)


class NodeSshListener:
    """One node's SSH server; ``pause``/``resume`` make connections fail for "node down"."""

    def __init__(
        self,
        cluster: Cluster,
        node: str,
        host: str,
        port: int,
        host_key: asyncssh.SSHKey,
        username: str,
        password: str,
        authorized_keys: Callable[[], list[str]],
    ):
        self.cluster = cluster
        self.node = node
        self.host = host
        self.port = port
        self._host_key = host_key
        self._username = username
        self._password = password
        self._authorized_keys = authorized_keys
        self._server: asyncssh.SSHAcceptor | None = None
        # Unix socket paths are short (108 bytes): the socket lives in its own temp dir and
        # is bind-mounted into the node root as /run/pvesim/pct.sock.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="pvesim-pct-"))
        self._shell = NodeShell(cluster, node, self._socket_dir / f"{node}.sock")
        self._pct = PctServer(self._shell)

    async def start(self) -> None:
        if self._pct._server is None:
            await self._pct.start()
        root = str(self.cluster.sandbox.node_root(self.node))
        self._server = await asyncssh.listen(
            self.host,
            self.port,
            server_host_keys=[self._host_key],
            server_factory=functools.partial(
                NodeSshServer, self._username, self._password, self._authorized_keys
            ),
            process_factory=self._shell.handle,
            sftp_factory=functools.partial(asyncssh.SFTPServer, chroot=root),
            encoding=None,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def pause(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def resume(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        await self.pause()
        await self._pct.stop()
        shutil.rmtree(self._socket_dir, ignore_errors=True)
