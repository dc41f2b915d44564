"""The `infrahaus` command as a user runs it: a subprocess (the installed entry point) against a
real API process, a real worker and the simulator. Builds use VMIDs 7601-7609 on pve3."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.pvesim.process import RunningSimulator
from shared.core.settings import Settings
from tests.integration.helpers import forget_nodes

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("running_worker")]

NODE = "pve3"
ENTRY_POINT = Path(sys.executable).parent / "infrahaus"
ANSI = re.compile(rb"\x1b\[")


def _command() -> list[str]:
    if ENTRY_POINT.exists():
        return [str(ENTRY_POINT)]
    return [sys.executable, "-m", "services.cli"]


class Cli:
    """Runs the CLI with its own config directory, as one user of one API."""

    def __init__(self, api_url: str, config_dir: Path, pve: RunningSimulator) -> None:
        self.api_url = api_url
        self.config_dir = config_dir
        self.pve = pve
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("INFRAHAUS_")},
            "INFRAHAUS_URL": api_url,
            "INFRAHAUS_CONFIG_DIR": str(config_dir),
            "PVE_TOKEN_SECRET": pve.info["tokenSecret"],
            "PVE_SSH_PASSWORD": pve.info["sshPassword"],
        }
        self.env.pop("NO_COLOR", None)

    async def run(
        self, *args: str, stdin: str | None = None, limit: float = 100, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """The CLI's result; one that hangs is killed after `limit` s (return code -9), with
        what it printed so far."""
        command = [*_command(), *args]
        try:
            return await asyncio.to_thread(
                subprocess.run, command, input=stdin, capture_output=True, text=True,
                timeout=limit, env={**self.env, **env},
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(
                command, -9, _text(exc.stdout), _text(exc.stderr) + "\n[killed: timeout]"
            )

    async def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = await self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
        return result

    async def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads((await self.ok("--json", *args, **kwargs)).stdout)

    async def login(self, index: int = 0) -> dict[str, Any]:
        user = self.pve.info["users"][index]
        port = str(httpx.URL(self.pve.info["apiUrl"]).port)
        result = await self.ok(
            "login", "--host", "127.0.0.1", "--port", port, "--user", user["username"],
            "--realm", user["realm"], "--password-stdin", stdin=user["password"] + "\n",
        )  # fmt: skip
        assert "Logged in as" in result.stdout
        return json.loads((await self.ok("whoami", "--json")).stdout)

    async def add_node(self, settings: Settings, user_id: str) -> dict[str, Any]:
        await forget_nodes(settings, user_id)  # what earlier runs of this user left
        info = self.pve.info
        return await self.json(
            "nodes", "add", NODE, "--host", "127.0.0.1",
            "--port", str(httpx.URL(info["apiUrl"]).port), "--token-id", info["tokenId"],
            "--token-secret-env", "PVE_TOKEN_SECRET", "--ssh-user", info["sshUser"],
            "--ssh-port", str(info["sshPorts"][NODE]), "--ssh-password-env", "PVE_SSH_PASSWORD",
        )  # fmt: skip


@pytest.fixture
async def cli(api_server: str, pve: RunningSimulator, settings: Settings, scratch_dir: Path) -> Cli:
    cli = Cli(api_server, scratch_dir / "config", pve)
    me = await cli.login()
    await cli.add_node(settings, me["user"]["id"])
    await cli.ok("templates", "discover")
    return cli


def _text(value: bytes | str | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value or ""


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _assert_whole_build(events: list[dict[str, Any]]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), [e["seq"] for e in events]
    assert events[-1]["type"] == "complete", events[-1]
    assert any(e.get("scriptName") == "20-enable-nginx.sh" for e in events)


async def test_login_stores_a_private_token_and_logout_forgets_it(
    api_server: str, pve: RunningSimulator, scratch_dir: Path
) -> None:
    cli = Cli(api_server, scratch_dir / "config", pve)
    password = pve.info["users"][0]["password"]
    # without a terminal or a password source, login is a usage error and asks nothing
    user = pve.info["users"][0]
    no_password = await cli.run("login", "--host", "127.0.0.1", "--user", user["username"])
    assert no_password.returncode == 2
    assert "Error: No password" in no_password.stderr
    # the password from an environment variable
    port = str(httpx.URL(pve.info["apiUrl"]).port)
    await cli.ok("login", "--host", "127.0.0.1", "--port", port, "--user", user["username"],
                 "--password-env", "MY_PVE_PASSWORD", MY_PVE_PASSWORD=password)  # fmt: skip
    path = scratch_dir / "config" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["apiUrl"] == api_server and stored["token"]
    assert password not in path.read_text()
    assert (await cli.json("whoami"))["user"]["userid"] == f"{user['username']}@{user['realm']}"

    # a wrong password: the problem's title and detail, exit 1, no traceback
    wrong = await cli.run("login", "--host", "127.0.0.1", "--port", port, "--user",
                          user["username"], "--password-stdin", stdin="not-it\n")  # fmt: skip
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("Error: ") and "Traceback" not in wrong.stderr

    logged_out = await cli.json("logout")
    assert logged_out == {"loggedOut": True}
    assert "token" not in json.loads(path.read_text())
    after = await cli.run("nodes", "list")
    assert after.returncode == 1 and "Error: Not logged in" in after.stderr
    # the old token no longer works on the server either
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{api_server}/api/auth/me", headers={"Authorization": f"Bearer {stored['token']}"}
        )
    assert response.status_code == 401


async def test_login_in_a_terminal_prompts_for_the_password_without_echo(
    api_server: str, pve: RunningSimulator, scratch_dir: Path
) -> None:
    cli = Cli(api_server, scratch_dir / "config", pve)
    user = pve.info["users"][0]
    port = str(httpx.URL(pve.info["apiUrl"]).port)
    args = [*_command(), "login", "--host", "127.0.0.1", "--port", port, "--user",
            user["username"], "--realm", user["realm"]]  # fmt: skip
    replies = [(b"Password for ", user["password"].encode() + b"\n")]
    output, status = await asyncio.to_thread(_run_in_pty, args, cli.env, replies=replies)
    text = output.decode(errors="replace")
    assert status == 0, text
    assert "Logged in as" in text and user["password"] not in text
    assert "token" in json.loads((scratch_dir / "config" / "config.json").read_text())


async def test_usage_errors_exit_2_and_problems_exit_1(cli: Cli) -> None:
    assert (await cli.run("containers", "frobnicate")).returncode == 2
    assert (await cli.run("vmid", "check", "not-a-number")).returncode == 2
    assert (await cli.run("create", "--hostname", "x")).returncode == 2  # nothing to build
    missing = await cli.run("containers", "show", "no-such-host")
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[0] == "Error: Container not found"
    # an API problem: title, then detail
    bad = await cli.run("vmid", "check", "5")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: "), bad.stderr
    assert "Traceback" not in bad.stderr
    as_json = await cli.run("--json", "vmid", "check", "5")
    assert json.loads(as_json.stdout)["error"]["status"] == 400


async def test_nodes_templates_and_vmids(cli: Cli) -> None:
    nodes = await cli.json("nodes", "list")
    assert [n["name"] for n in nodes] == [NODE] and nodes[0]["isDefault"]
    assert (await cli.json("nodes", "test", NODE))["ok"] is True
    listing = await cli.ok("nodes", "list")
    assert NODE in listing.stdout and not ANSI.search(listing.stdout.encode())

    templates = await cli.json("templates", "list")
    assert "web-basic" in [t["name"] for t in templates["items"]]
    shown = await cli.ok("templates", "show", "web-basic")
    assert "20-enable-nginx.sh" in shown.stdout

    # a second node, tested and removed by name
    info = cli.pve.info
    await cli.ok("nodes", "add", "pve2", "--host", "127.0.0.1",
                 "--port", str(httpx.URL(info["apiUrl"]).port), "--token-id", info["tokenId"],
                 "--token-secret-env", "PVE_TOKEN_SECRET")  # fmt: skip
    assert sorted(n["name"] for n in await cli.json("nodes", "list")) == ["pve2", NODE]
    removed = await cli.json("nodes", "rm", "pve2")
    assert removed["deleted"] is True
    assert [n["name"] for n in await cli.json("nodes", "list")] == [NODE]

    assert (await cli.json("vmid", "check", "7609"))["status"] == "available"
    assert (await cli.json("vmid", "next", "--from", "7609"))["vmid"] >= 7609


async def test_create_with_json_then_services_credentials_and_delete(cli: Cli) -> None:
    result = await cli.ok("create", "--template", "web-basic", "--node", NODE, "--vmid", "7601",
                          "--hostname", "cli-json-01", "--json")  # fmt: skip
    lines = _json_lines(result.stdout)
    accepted, events = lines[0], lines[1:]
    assert accepted["vmid"] == 7601 and accepted["lifecycle"] == "creating"
    _assert_whole_build(events)

    listing = await cli.json("containers", "list", "-q", "cli-json-01")
    assert [c["id"] for c in listing["items"]] == [accepted["id"]]
    shown = await cli.json("containers", "show", "7601")
    assert shown["lifecycle"] == "ready" and shown["live"]["status"] == "running"
    plain = await cli.ok("containers", "show", "cli-json-01")
    assert "lifecycle  ready" in plain.stdout

    services = await cli.json("services", "7601")
    nginx = next(s for s in services["items"] if s["name"] == "nginx")
    assert nginx["hasCredentials"] and set(nginx["credentialKeys"]) >= {"username", "password"}
    table = await cli.ok("services", "cli-json-01")
    assert "nginx" in table.stdout and "password" in table.stdout

    revealed = await cli.json("credentials", "7601", "nginx")
    assert revealed["name"] == "nginx" and len(revealed["values"]["password"]) >= 8
    plain_reveal = await cli.ok("credentials", "cli-json-01", "nginx")
    assert f"password={revealed['values']['password']}" in plain_reveal.stdout.splitlines()

    for action in ("stop", "start", "reboot"):
        result = await cli.json("containers", action, "7601")
        assert (result["action"], result["exitStatus"]) == (action, "OK"), result
    shutdown = await cli.ok("containers", "shutdown", "cli-json-01", "--timeout", "20")
    assert shutdown.stdout.startswith("shutdown: OK")
    assert (await cli.json("containers", "show", "7601"))["live"]["status"] == "stopped"
    deleted = await cli.json("containers", "rm", "7601")
    assert deleted == {"id": accepted["id"], "deleted": True}
    gone = await cli.run("containers", "show", accepted["id"])
    assert gone.returncode == 1 and "Error: " in gone.stderr


async def test_create_in_a_terminal_draws_progress_bars(cli: Cli) -> None:
    output, status = await asyncio.to_thread(
        _run_in_pty,
        [*_command(), "create", "--template", "web-basic", "--node", NODE, "--vmid", "7602",
         "--hostname", "cli-tty-02"],
        cli.env,
    )  # fmt: skip
    text = output.decode(errors="replace")
    assert status == 0, text[-3000:]
    assert ANSI.search(output), "no terminal control sequences on a terminal"
    assert "━" in text  # rich's bars
    for phase in ("creating", "starting", "deploying", "syncing", "finalizing"):
        assert phase in text
    assert "running 20-enable-nginx.sh (2/2)" in text  # each script named as it starts
    assert "Ready" in text
    # the same build's output when stdout is not a terminal: lines, no colours, no bars
    replay = await cli.ok("containers", "watch", "cli-tty-02")
    assert not ANSI.search(replay.stdout.encode()) and "━" not in replay.stdout
    assert "complete: " in replay.stdout and "  Setting up nginx" in replay.stdout
    await cli.ok("containers", "rm", "cli-tty-02")


async def test_ctrl_c_in_a_terminal_asks_and_cancels_the_build(cli: Cli, pve: RunningSimulator
                                                                ) -> None:  # fmt: skip
    args = [*_command(), "create", "--template", "web-basic", "--node", NODE, "--vmid", "7603",
            "--hostname", "cli-cancel-03", "--keep-on-failure"]  # fmt: skip
    replies = [(b"creating", b"\x03"), (b"[c]ancel / [d]etach", b"c\n")]
    output, status = await asyncio.to_thread(_run_in_pty, args, cli.env, replies=replies)
    text = output.decode(errors="replace")
    assert "[c]ancel / [d]etach" in text, text[-3000:]
    assert "Cancel requested" in text
    assert status == 1, text[-3000:]
    shown = await cli.json("containers", "show", "cli-cancel-03")
    assert shown["lifecycle"] == "error" and "cancel" in (shown["failureReason"] or "").lower()
    await cli.ok("containers", "rm", "cli-cancel-03")


async def test_a_dropped_stream_resumes_without_lost_or_repeated_events(cli: Cli) -> None:
    proxy = DroppingProxy(httpx.URL(cli.api_url).port or 80, cut_at_event=4)
    # a login stays with the URL it was made on: this user logs in again through the proxy
    through = Cli(f"http://127.0.0.1:{proxy.port}", cli.config_dir.parent / "proxied", cli.pve)
    try:
        await through.login()
        result = await through.ok(
            "create", "--template", "web-basic", "--node", NODE, "--vmid", "7604",
            "--hostname", "cli-drop-04", "--json",
        )  # fmt: skip
    finally:
        proxy.close()
    assert proxy.cuts == 1
    assert "resuming after event" in result.stderr
    lines = _json_lines(result.stdout)
    _assert_whole_build(lines[1:])
    resumed = [h for h in proxy.requests if b"last-event-id: " in h.lower()]
    assert resumed, "the CLI reconnected without Last-Event-ID"
    await cli.ok("containers", "rm", "cli-drop-04")


async def test_a_failed_build_says_how_to_retry_and_retry_follows_it(cli: Cli) -> None:
    token = json.loads((cli.config_dir / "config.json").read_text())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    name = f"cli-broken-{os.getpid()}"
    script = {"name": "10-check.sh", "order": 10,
              "content": "#!/bin/bash\necho checking\ntest -e /etc/ready-to-go\n"}  # fmt: skip
    async with httpx.AsyncClient(base_url=cli.api_url, headers=headers, timeout=60) as api:
        created = await api.post("/api/templates", json={
            "name": name, "osTemplate": "debian-12-standard", "storage": "local-lvm",
            "bridge": "vmbr0", "scripts": [script]})  # fmt: skip
        assert created.status_code == 201, created.text
        template_id = created.json()["id"]
        failed = await cli.run("create", "--template", name, "--node", NODE, "--vmid", "7606",
                               "--hostname", "cli-retry-06", "--keep-on-failure")  # fmt: skip
        assert failed.returncode == 1, (failed.stdout, failed.stderr)
        assert "error: syncing: " in failed.stdout and "  10-check.sh: checking" in failed.stdout
        assert "infrahaus containers retry " in failed.stderr

        fixed = {**script, "content": "#!/bin/bash\necho fixed\n"}
        patched = await api.patch(f"/api/templates/{template_id}", json={"scripts": [fixed]})
        assert patched.status_code == 200, patched.text
        retried = await cli.ok("--json", "containers", "retry", "cli-retry-06")
        lines = _json_lines(retried.stdout)
        events = lines[1:]
        assert events[0]["message"].startswith("Retry requested"), events[0]
        assert events[-1]["type"] == "complete"
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # the retry's events only
        assert any(e["message"] == "fixed" for e in events)
        await cli.ok("containers", "rm", "cli-retry-06")
        await api.delete(f"/api/templates/{template_id}")


async def test_ctrl_c_then_detach_leaves_the_build_running_and_watch_reattaches(cli: Cli) -> None:
    token = json.loads((cli.config_dir / "config.json").read_text())["token"]
    name = f"cli-slow-{os.getpid()}"
    slow = {"name": "10-slow.sh", "order": 10,
            "content": "#!/bin/bash\necho started\nsleep 6\necho finished\n"}  # fmt: skip
    async with httpx.AsyncClient(base_url=cli.api_url, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as api:  # fmt: skip
        created = await api.post("/api/templates", json={
            "name": name, "osTemplate": "debian-12-standard", "storage": "local-lvm",
            "bridge": "vmbr0", "scripts": [slow]})  # fmt: skip
        assert created.status_code == 201, created.text
        args = [*_command(), "create", "--template", name, "--node", NODE, "--vmid", "7607",
                "--hostname", "cli-detach-07"]  # fmt: skip
        replies = [(b"running 10-slow.sh", b"\x03"), (b"[c]ancel / [d]etach", b"d\n")]
        output, status = await asyncio.to_thread(_run_in_pty, args, cli.env, replies=replies)
        text = output.decode(errors="replace")
        assert status == 0, text[-3000:]
        assert "Detached. Follow the build again with: infrahaus containers watch" in text
        # the build went on without the client; watch picks it up and follows it to the end
        watched = await cli.ok("--json", "containers", "watch", "cli-detach-07")
        events = _json_lines(watched.stdout)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "complete"
        assert "finished" in [e["message"] for e in events]
        await cli.ok("containers", "rm", "cli-detach-07")
        await api.delete(f"/api/templates/{created.json()['id']}")


async def test_an_interrupt_without_a_terminal_detaches_with_exit_1(cli: Cli) -> None:
    command = [*_command(), "--json", "create", "--template", "web-basic", "--node", NODE,
               "--vmid", "7608", "--hostname", "cli-sigint-08"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, env=cli.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        accepted = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        assert first["seq"] == 1  # following the stream now
        process.send_signal(signal.SIGINT)
        raw_out, raw_err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out, err = raw_out.decode(), raw_err.decode()
    assert process.returncode == 1, (out, err)
    assert "Detached. Follow the build again with: infrahaus containers watch" in err
    assert "Cancel the build" not in err  # nobody to ask
    watched = _json_lines((await cli.ok("--json", "containers", "watch", accepted["id"])).stdout)
    assert watched[-1]["type"] == "complete"  # the build went on
    await cli.ok("containers", "rm", accepted["id"])


# --- a pseudo-terminal ---


def _run_in_pty(
    args: list[str], env: dict[str, str], *, replies: list[tuple[bytes, bytes]] = (),
    timeout: float = 150,
) -> tuple[bytes, int]:  # fmt: skip
    """Run `args` with a pseudo-terminal as stdin/stdout/stderr. `replies`: (text, keys) in
    order; once `text` has appeared in the output, `keys` are typed (b"\\x03" is Ctrl-C, which
    the terminal turns into SIGINT)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        child_env = {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        os.execve(args[0], args, child_env)  # noqa: S606
    output = bytearray()
    pending = list(replies)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child has gone and the terminal closed
                    break
                if not chunk:
                    break
                output += chunk
            if pending and pending[0][0] in output:
                os.write(fd, pending.pop(0)[1])
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return bytes(output), os.waitstatus_to_exitcode(status)


# --- a proxy that drops the first event stream ---


class DroppingProxy:
    """TCP proxy to the API that cuts the first SSE response in the middle of event
    `cut_at_event` (both sockets closed); every other connection passes through."""

    def __init__(self, target_port: int, cut_at_event: int) -> None:
        self.target_port = target_port
        self.cut_at_event = cut_at_event
        self.cuts = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        while chunk := _recv(client):
            with self._lock:
                self.requests.append(chunk)
            upstream.sendall(chunk)
        _close(upstream)

    def _responses(self, upstream: socket.socket, client: socket.socket) -> None:
        seen = 0
        tail = b""
        while chunk := _recv(upstream):
            with self._lock:
                cutting = self.cuts == 0
            if cutting:
                window = tail + chunk
                positions = [m.start() for m in re.finditer(rb"\nevent: ", window)]
                if seen + len(positions) >= self.cut_at_event:
                    # forward up to the middle of that frame's `event:` line, then hang up
                    at = positions[self.cut_at_event - seen - 1] + 4 - len(tail)
                    if at > 0:
                        client.sendall(chunk[:at])
                    with self._lock:
                        self.cuts += 1
                    _close(client)
                    _close(upstream)
                    return
                seen += len(positions)
                tail = window[-8:]
            try:
                client.sendall(chunk)
            except OSError:
                break
        _close(client)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
