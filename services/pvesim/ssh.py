"""The node side over SSH: ``pct exec|push|pull|status|list|unlock``, SFTP and a node shell.

One SSH listener per node (a node is a host). Everything that is not a ``pct`` call runs as a
shell command in the node's own isolated root, which is also the SFTP root, so a file uploaded
to ``/tmp/x`` can then be pushed with ``pct push <vmid> /tmp/x <dest>``.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import shlex
from collections.abc import Callable
from pathlib import Path

import asyncssh
import structlog

from services.pvesim.cluster import Cluster, Guest
from services.pvesim.errors import PveError
from services.pvesim.validation import load_schema, validate

log = structlog.get_logger()

PCT_USAGE = "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n"
PCT_ERROR_EXIT = 255
# pct subcommands that run the API handler locally as root@pam: name -> schema entry.
PCT_API_COMMANDS = {
    "set": "PUT /nodes/{node}/lxc/{vmid}/config",
    "start": "POST /nodes/{node}/lxc/{vmid}/status/start",
    "stop": "POST /nodes/{node}/lxc/{vmid}/status/stop",
    "shutdown": "POST /nodes/{node}/lxc/{vmid}/status/shutdown",
    "reboot": "POST /nodes/{node}/lxc/{vmid}/status/reboot",
    "destroy": "DELETE /nodes/{node}/lxc/{vmid}",
}


class PctError(Exception):
    """A ``pct`` failure: message on stderr, exit status 255 (Perl ``die``)."""


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


class NodeShell:
    """Executes one SSH session's command for ``node``."""

    def __init__(self, cluster: Cluster, node: str):
        self.cluster = cluster
        self.node = node

    @property
    def node_root(self) -> Path:
        return self.cluster.sandbox.node_root(self.node)

    async def handle(self, process: asyncssh.SSHServerProcess) -> None:
        command = process.command or ""
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            process.stderr.write(f"bash: {exc}\n".encode())
            process.exit(2)
            return
        while argv and argv[0] in ("sudo", "-n", "-E"):
            argv.pop(0)
        latency = self.cluster.faults.get(self.node).latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        try:
            if argv and argv[0] in ("pct", "/usr/sbin/pct"):
                status = await self.pct(process, argv[1:])
            elif not argv:
                process.stderr.write(b"interactive shells are not supported by pvesim\n")
                status = 1
            else:
                status = await self.run_isolated(
                    process, self.node_root, self.node, ["/bin/bash", "-c", command]
                )
        except PctError as exc:
            process.stderr.write(f"{exc}\n".encode())
            status = PCT_ERROR_EXIT
        except PveError as exc:
            process.stderr.write(exc.message.encode())
            status = PCT_ERROR_EXIT
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, ConnectionError):
            status = 1
        try:
            process.exit(status)
        except (OSError, asyncssh.Error):
            log.info("pvesim.ssh.client_gone", node=self.node, command=command)

    async def run_isolated(
        self, process: asyncssh.SSHServerProcess, root: Path, hostname: str, argv: list[str]
    ) -> int:
        """Run ``argv`` in the sandbox with the session's stdin/stdout/stderr wired through."""
        try:
            child = await self.cluster.sandbox.spawn(root, hostname, argv)
        except RuntimeError as exc:
            process.stderr.write(f"pvesim: {exc}\n".encode())
            return 1
        assert child.stdin and child.stdout and child.stderr

        async def feed_stdin() -> None:
            try:
                while data := await process.stdin.read(65536):
                    child.stdin.write(data)
                    await child.stdin.drain()
            except (ConnectionError, asyncssh.Error):
                pass
            finally:
                child.stdin.close()

        async def copy_output(source: asyncio.StreamReader, sink) -> None:
            while data := await source.read(65536):
                sink.write(data)

        stdin_task = asyncio.create_task(feed_stdin())
        output = asyncio.ensure_future(
            asyncio.gather(
                copy_output(child.stdout, process.stdout), copy_output(child.stderr, process.stderr)
            )
        )
        # A client that hangs up (e.g. after its own timeout) must not leave the command running.
        hangup = asyncio.ensure_future(process.channel.wait_closed())
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

    def _existing_container(self, vmid_text: str, what: str) -> Guest:
        if not vmid_text.isdigit():
            raise PctError(
                f"400 Parameter verification failed.\nvmid: invalid format - value "
                f"does not look like a valid VM ID\n{what}"
            )
        guest = self.cluster.container(self.node, int(vmid_text))
        return guest

    async def pct(self, process: asyncssh.SSHServerProcess, args: list[str]) -> int:
        if not args:
            raise PctError(PCT_USAGE.rstrip())
        command, rest = args[0], args[1:]
        if command == "exec":
            return await self.pct_exec(process, rest)
        if command == "push":
            return await self.pct_push(process, rest)
        if command == "pull":
            return await self.pct_pull(process, rest)
        if command == "status":
            if not rest:
                raise PctError("400 not enough arguments\npct status <vmid> [OPTIONS]")
            guest = self._existing_container(rest[0], "pct status <vmid> [OPTIONS]")
            process.stdout.write(f"status: {guest.status}\n".encode())
            return 0
        if command == "list":
            return self.pct_list(process)
        if command == "unlock":
            if not rest:
                raise PctError("400 not enough arguments\npct unlock <vmid>")
            guest = self._existing_container(rest[0], "pct unlock <vmid>")
            guest.config.pop("lock", None)
            return 0
        if command in PCT_API_COMMANDS:
            return await self.pct_api_command(command, rest)
        if command == "config":
            guest = self._existing_container(rest[0] if rest else "", "pct config <vmid>")
            for key, value in guest.config.items():
                process.stdout.write(f"{key}: {value}\n".encode())
            return 0
        raise PctError(f"unknown command 'pct {command}'\n{PCT_USAGE.rstrip()}")

    @staticmethod
    def _cli_options(args: list[str]) -> tuple[list[str], dict[str, str]]:
        """PVE CLI style: ``-key value``/``--key value``/``--key=value``; a bare flag means 1."""
        positional: list[str] = []
        options: dict[str, str] = {}
        index = 0
        while index < len(args):
            arg = args[index]
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

    async def pct_api_command(self, command: str, args: list[str]) -> int:
        """``pct set|start|stop|shutdown|reboot|destroy``: the API handler run as root@pam."""
        positional, options = self._cli_options(args)
        if len(positional) != 1:
            raise PctError(f"400 not enough arguments\npct {command} <vmid> [OPTIONS]")
        params: dict[str, str] = {**options, "node": self.node, "vmid": positional[0]}
        errors = validate(load_schema()[PCT_API_COMMANDS[command]]["parameters"], params)
        if errors:
            detail = "\n".join(f"{key}: {message.rstrip()}" for key, message in errors.items())
            raise PctError(
                f"400 Parameter verification failed.\n{detail}\npct {command} <vmid> [OPTIONS]"
            )
        vmid = int(positional[0])
        if command == "set":
            await self.cluster.update_config(self.node, vmid, params, is_root=True)
            return 0
        if command == "start":
            upid = self.cluster.start(self.node, vmid, params, "root@pam", True)
        elif command == "stop":
            upid = self.cluster.stop(self.node, vmid, params, "root@pam", True)
        elif command == "shutdown":
            upid = self.cluster.shutdown(self.node, vmid, params, "root@pam")
        elif command == "reboot":
            upid = self.cluster.reboot(self.node, vmid, params, "root@pam")
        else:
            upid = self.cluster.destroy(self.node, vmid, params, "root@pam")
        task = self.cluster.tasks.tasks[upid]
        assert task.runner is not None
        await asyncio.wait({task.runner})
        if task.exitstatus != "OK":
            raise PctError(str(task.exitstatus))
        return 0

    def pct_list(self, process: asyncssh.SSHServerProcess) -> int:
        rows = [
            guest
            for guest in sorted(self.cluster.guests.values(), key=lambda g: g.vmid)
            if guest.kind == "lxc" and guest.node == self.node
        ]
        process.stdout.write(f"{'VMID':<10} {'Status':<10} {'Lock':<10} Name\n".encode())
        for guest in rows:
            line = f"{guest.vmid:<10} {guest.status:<10} {guest.lock or '':<10} {guest.hostname}\n"
            process.stdout.write(line.encode())
        return 0

    async def pct_exec(self, process: asyncssh.SSHServerProcess, args: list[str]) -> int:
        if not args:
            raise PctError("400 not enough arguments\npct exec <vmid> [<extra-args>] [OPTIONS]")
        vmid_text, rest = args[0], args[1:]
        while rest and rest[0].startswith("--keep-env"):
            rest = rest[1:] if "=" in rest[0] else rest[2:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        guest = self._existing_container(vmid_text, "pct exec <vmid> [<extra-args>] [OPTIONS]")
        if guest.status != "running":
            raise PctError(f"container '{guest.vmid}' not running!")
        if not rest:
            raise PctError("missing command")
        root = self.cluster.sandbox.container_root(guest.vmid)
        return await self.run_isolated(process, root, guest.hostname, rest)

    @staticmethod
    def _options(args: list[str], names: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
        positional: list[str] = []
        options: dict[str, str] = {}
        index = 0
        while index < len(args):
            arg = args[index]
            name = arg.lstrip("-")
            if arg.startswith("-") and name.split("=", 1)[0] in names:
                if "=" in name:
                    key, value = name.split("=", 1)
                else:
                    if index + 1 >= len(args):
                        raise PctError(f"option '{arg}' requires an argument")
                    key, value = name, args[index + 1]
                    index += 1
                options[key] = value
            elif arg.startswith("-"):
                raise PctError(
                    f"400 unable to parse option\n{name}: property is not defined "
                    "in schema and the schema does not allow additional properties"
                )
            else:
                positional.append(arg)
            index += 1
        return positional, options

    def _node_path(self, path: str) -> Path:
        """Resolve a node path inside the node root (the node's view of ``/``)."""
        root = self.node_root.resolve()
        candidate = (root / path.lstrip("/")).resolve()
        if candidate != root and root not in candidate.parents:
            raise PctError(f"unable to open file '{path}' - No such file or directory")
        return candidate

    async def pct_push(self, process: asyncssh.SSHServerProcess, args: list[str]) -> int:
        positional, options = self._options(args, ("perms", "user", "group"))
        if len(positional) != 3:
            raise PctError(
                "400 not enough arguments\npct push <vmid> <file> <destination> [OPTIONS]"
            )
        vmid_text, source, destination = positional
        guest = self._existing_container(vmid_text, "pct push <vmid> <file> <destination>")
        if guest.status != "running":
            raise PctError("can only push files to a running CT")
        source_path = self._node_path(source)
        if not source_path.is_file():
            raise PctError(f"unable to open file '{source}' - No such file or directory")
        perms = options.get("perms", "0644")
        owner = f"{options.get('user', 'root')}:{options.get('group', options.get('user', 'root'))}"
        script = 'cat > "$1" && chmod "$2" "$1" && chown "$3" "$1"'
        rc, _, stderr = await self.cluster.sandbox.run(
            self.cluster.sandbox.container_root(guest.vmid),
            guest.hostname,
            ["/bin/sh", "-c", script, "push", destination, perms, owner],
            stdin=source_path.read_bytes(),
        )
        if rc != 0:
            raise PctError(f"failed to push file '{destination}': {stderr.decode().strip()}")
        return 0

    async def pct_pull(self, process: asyncssh.SSHServerProcess, args: list[str]) -> int:
        positional, options = self._options(args, ("perms", "user", "group"))
        if len(positional) != 3:
            raise PctError(
                "400 not enough arguments\npct pull <vmid> <path> <destination> [OPTIONS]"
            )
        vmid_text, source, destination = positional
        guest = self._existing_container(vmid_text, "pct pull <vmid> <path> <destination>")
        if guest.status != "running":
            raise PctError("can only pull files from a running CT")
        rc, stdout, stderr = await self.cluster.sandbox.run(
            self.cluster.sandbox.container_root(guest.vmid),
            guest.hostname,
            ["/bin/cat", "--", source],
        )
        if rc != 0:
            raise PctError(f"failed to open {source}: {stderr.decode().strip()}")
        target = self._node_path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stdout)
        target.chmod(int(options.get("perms", "0644"), 8))
        return 0


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
        self._shell = NodeShell(cluster, node)

    async def start(self) -> None:
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
