"""`pct` on a node over SSH: commands inside a container, and files pushed into it.

Facts of a real node this module is built on (pve-container's `pct`):
- `pct exec <vmid> -- <argv>` runs with pct's own `PATH=/sbin:/bin:/usr/sbin:/usr/bin`;
- `pct push` exits 0 even when its worker failed (unknown user, missing directory, unreadable
  source): the only proof a push worked is to look at the file afterwards, so `push` does;
- the SSH command line goes through the node's shell: every argument is quoted with
  `shlex.join`, and the node's own `timeout` stops a command that outlives its limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import uuid
from collections.abc import Awaitable, Callable, Sequence

from shared.adapters.proxmox import NodeFailure, ProxmoxError
from shared.adapters.ssh import NodeSsh

# Seconds the node's `timeout` waits after SIGTERM before SIGKILL.
_KILL_AFTER = "10"


class PushFailed(ProxmoxError):
    """The file is not in the container as asked, although `pct push` said nothing useful."""


class Pct:
    def __init__(self, ssh: NodeSsh, vmid: int) -> None:
        self.ssh = ssh
        self.vmid = str(vmid)

    def _exec_argv(self, script: str, args: Sequence[str], limit_seconds: float) -> list[str]:
        # `bash -c SCRIPT bash ARG...`: values travel as positional arguments, never as code.
        # fmt: skip: an argv reads as its options and their values, not one word a line
        return [
            "timeout", "-k", _KILL_AFTER, str(max(1, int(limit_seconds))),
            "pct", "exec", self.vmid, "--", "bash", "-c", script, "bash", *args,
        ]  # fmt: skip

    async def run(
        self, script: str, *args: str, limit_seconds: float = 120.0
    ) -> tuple[int, str, str]:
        """Run a bash script in the container; (exit status, stdout, stderr)."""
        argv = self._exec_argv(script, args, limit_seconds)
        result = await self.ssh.run(argv, limit_seconds + 15)
        return result.exit_status, result.stdout, result.stderr

    async def stream(
        self,
        script: str,
        *args: str,
        on_line: Callable[[str], Awaitable[None]],
        limit_seconds: float = 1800.0,
        env: dict[str, str] | None = None,
    ) -> int:
        """Run a bash script in the container, each output line to `on_line`; the exit status."""
        argv = self._exec_argv(script, args, limit_seconds)
        if env:  # after `--`: pct keeps its own environment, so set it inside the container
            cut = argv.index("--") + 1
            argv[cut:cut] = ["env", *(f"{k}={v}" for k, v in env.items())]
        return await self.ssh.stream(argv, on_line, limit_seconds + 15)

    async def push(
        self, content: bytes, destination: str, *, mode: str, user: str, group: str
    ) -> None:
        """Put `content` at `destination` with mode and owner, and prove it is there.

        SFTP to a private temp file on the node, `pct push` it, remove the temp file, then
        read back the file's mode, owner and checksum in the container: one SSH round trip
        after the upload."""
        # a random name in the node's /tmp, created 0600 by the SFTP upload
        staging = f"/tmp/infrahaus-push-{uuid.uuid4().hex}"  # noqa: S108
        await self.ssh.upload(content, staging)
        check = 'stat -c "%a %u %g %U %G" -- "$1" && sha256sum -- "$1"'
        push = ["pct", "push", self.vmid, staging, destination]
        push += ["--perms", mode, "--user", user, "--group", group]
        verify = ["pct", "exec", self.vmid, "--", "bash", "-c", check, "bash", destination]
        # pct push does not create directories (and says so only on stderr)
        parent = [
            "pct",
            "exec",
            self.vmid,
            "--",
            "mkdir",
            "-p",
            "--",
            posixpath.dirname(destination),
        ]
        try:
            result = await self.ssh.run_sequence(
                [parent, push, ["rm", "-f", "--", staging], verify], limit_seconds=120
            )
        except NodeFailure:  # the staging copy may hold a secret: do not leave it behind
            with contextlib.suppress(NodeFailure):
                await self.ssh.run(["rm", "-f", "--", staging], limit_seconds=30)
            raise
        expected = hashlib.sha256(content).hexdigest()
        lines = result.stdout.split("\n")
        if result.exit_status != 0 or len(lines) < 2:
            raise PushFailed(_push_failure(destination, result.stderr, "it is not there"))
        found_mode, uid, gid, user_name, group_name = (lines[0].split() + [""] * 5)[:5]
        problems = []
        if int(found_mode or "0", 8) != int(mode, 8) & 0o7777:
            problems.append(f"mode is {found_mode}, not {mode}")
        if user not in (uid, user_name):
            problems.append(f"owner is {user_name or uid}, not {user}")
        if group not in (gid, group_name):
            problems.append(f"group is {group_name or gid}, not {group}")
        if not lines[1].startswith(expected):
            problems.append("its content differs")
        if problems:
            raise PushFailed(_push_failure(destination, result.stderr, "; ".join(problems)))


def _push_failure(destination: str, stderr: str, problem: str) -> str:
    said = " ".join(stderr.split())[:300]
    return f"pushing {destination} failed: {problem}" + (f" (pct said: {said})" if said else "")
