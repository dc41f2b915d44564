"""The node over SSH as a real host: a shell runs the command, pct is a program on its PATH."""

from __future__ import annotations

import asyncio
import shlex
import uuid

import asyncssh
import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.testing import ssh_connect
from tests.pvesim.helpers import TEMPLATE, create_container

EXEC_USAGE = "pct exec <vmid> [<extra-args>] [OPTIONS]\n"


@pytest.fixture(autouse=True)
def _needs_isolation(pvesim: SimulatorHandle) -> None:
    if pvesim.cluster.sandbox.problem:
        pytest.skip(
            f"the node shell needs unshare+overlay+chroot: {pvesim.cluster.sandbox.problem}"
        )


@pytest.fixture
async def node_ssh(pvesim: SimulatorHandle):
    conn = await ssh_connect(pvesim.info)
    yield conn
    conn.close()


async def run(conn: asyncssh.SSHClientConnection, command: str) -> tuple[int, str, str]:
    result = await conn.run(command)
    return result.exit_status, result.stdout, result.stderr


async def test_commands_go_through_the_node_shell(node_ssh: asyncssh.SSHClientConnection) -> None:
    # Operators, VAR=x prefixes and $(...) are the node shell's, not the simulator's.
    assert await run(node_ssh, "X=1 bash -c 'echo $X' && echo $(hostname); false || echo ok") == (
        0,
        "1\npve\nok\n",
        "",
    )
    assert await run(node_ssh, "command -v pct") == (0, "/usr/sbin/pct\n", "")
    # $(...) is expanded on the node, so the container sees the node's hostname.
    assert await run(node_ssh, "pct exec 101 -- echo $(hostname)") == (0, "pve\n", "")
    assert await run(node_ssh, "pct exec 101 -- echo 'a  b' | tr a-z A-Z") == (0, "A  B\n", "")
    status = await run(node_ssh, 'echo "$(pct status 101)" > /tmp/s && cat /tmp/s')
    assert status == (0, "status: running\n", "")
    # A quoting bug shows up as it would on a real host: the words are split by the node shell.
    unquoted = await run(node_ssh, "pct exec 101 -- sh -c echo hello")
    assert unquoted == (0, "\n", "")
    assert await run(node_ssh, "/usr/sbin/pct status 101; sudo pct status 101") == (
        0,
        "status: running\nstatus: running\n",
        "",
    )


async def test_timeout_around_pct_kills_the_container_command(
    node_ssh: asyncssh.SSHClientConnection,
) -> None:
    marker = uuid.uuid4().hex
    status, out, _ = await run(
        node_ssh, f"timeout 0.5 pct exec 101 -- sh -c 'sleep 30; echo {marker}'; echo rc=$?"
    )
    assert (status, out) == (0, "rc=124\n")
    async with asyncio.timeout(5):
        while True:
            leftovers = await asyncio.create_subprocess_exec(
                "pgrep", "-f", marker, stdout=asyncio.subprocess.PIPE
            )
            if (await leftovers.communicate())[0] == b"":
                break
            await asyncio.sleep(0.1)


async def test_pct_exec_environment_is_pcts(node_ssh: asyncssh.SSHClientConnection) -> None:
    status, out, _ = await run(node_ssh, "FOO=bar PATH=/opt/x:$PATH pct exec 101 -- env")
    assert status == 0
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["PATH"] == "/sbin:/bin:/usr/sbin:/usr/bin"
    assert env["container"] == "lxc"
    assert env["FOO"] == "bar"  # --keep-env is still the default
    assert env["HOME"] == "/root"
    _, out, _ = await run(node_ssh, "FOO=bar pct exec 101 --keep-env 0 -- env")
    cleared = dict(line.split("=", 1) for line in out.splitlines())
    assert "FOO" not in cleared and cleared["container"] == "lxc"
    assert cleared["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


async def test_usr_local_bin_is_not_on_the_pct_exec_path(
    node_ssh: asyncssh.SSHClientConnection,
) -> None:
    script = (
        "printf '#!/bin/sh\\necho mine\\n' > /usr/local/bin/mytool; chmod +x /usr/local/bin/mytool"
    )
    await node_ssh.run(f"pct exec 101 -- sh -c {shlex.quote(script)}", check=True)
    assert await run(node_ssh, "pct exec 101 -- mytool") == (
        127,
        "",
        "lxc-attach: 101: ../src/lxc/attach.c: lxc_attach_run_command: 1845 No such file or "
        'directory - Failed to exec "mytool"\n',
    )
    assert await run(node_ssh, "pct exec 101 -- /usr/local/bin/mytool") == (0, "mine\n", "")
    # What a fresh Debian container has is found; what it lacks (pip, npm, node) is not.
    found = await run(
        node_ssh,
        "pct exec 101 -- bash -c 'for c in systemctl ss ip apt-get dpkg hostname python3 "
        "journalctl pip pip3 npm node; do command -v $c || echo no-$c; done'",
    )
    assert found[1].split() == [
        "/bin/systemctl",
        "/bin/ss",
        "/sbin/ip",
        "/bin/apt-get",
        "/bin/dpkg",
        "/bin/hostname",
        "/bin/python3",
        "/bin/journalctl",
        "no-pip",
        "no-pip3",
        "no-npm",
        "no-node",
    ]


async def test_pct_exec_options_after_the_vmid_need_double_dash(
    node_ssh: asyncssh.SSHClientConnection,
) -> None:
    assert await run(node_ssh, "pct exec 101 ls -la /") == (
        255,
        "",
        f"Unknown option: la\n400 unable to parse option\n{EXEC_USAGE}",
    )
    status, out, _ = await run(node_ssh, "pct exec 101 -- ls -a /")
    assert status == 0 and "etc" in out.split()
    # Without a dash nothing needs parsing.
    assert await run(node_ssh, "pct exec 101 echo hi") == (0, "hi\n", "")
    assert (await run(node_ssh, "pct exec abc -- true"))[0] == 255


async def test_pct_push_reports_worker_failures_with_exit_zero(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await node_ssh.run("printf data > /tmp/src", check=True)
    cases = {
        "pct push 101 /tmp/nonexistent /root/x": "failed to open /tmp/nonexistent for reading\n",
        "pct push 101 /tmp/src /root/x --user nosuchuser": "failed to get uid for: nosuchuser\n",
        "pct push 101 /tmp/src /root/x --group nosuchgroup": "failed to get gid for: nosuchgroup\n",
        "pct push 101 /tmp/src /no/such/dir/x": (
            "failed to create file: /no/such/dir/x: No such file or directory\n"
        ),
        "pct push 101 /tmp/src /root/x --perms 0x1g": "invalid mode: '0x1g'\n",
    }
    for command, stderr in cases.items():
        assert await run(node_ssh, command) == (0, "", stderr), command
    await create_container(api, new_vmid)
    assert await run(node_ssh, f"pct push {new_vmid} /tmp/src /root/x") == (
        255,
        "",
        "can only push files to a running CT\n",
    )


async def test_pct_push_modes_and_owners(node_ssh: asyncssh.SSHClientConnection) -> None:
    name = f"/root/push-{uuid.uuid4().hex[:8]}"

    async def stat(path: str) -> str:
        return (await node_ssh.run(f"pct exec 101 -- stat -c '%a %U:%G' {path}", check=True)).stdout

    await node_ssh.run("printf data > /tmp/src", check=True)
    await node_ssh.run(f"pct push 101 /tmp/src {name}", check=True)
    assert await stat(name) == "644 root:root\n"  # 0666 & ~umask, root:root
    await node_ssh.run(f"pct exec 101 -- sh -c 'chmod 600 {name}; chown www-data:www-data {name}'")
    await node_ssh.run(f"pct push 101 /tmp/src {name}", check=True)
    assert await stat(name) == "600 www-data:www-data\n"  # an existing file keeps both
    await node_ssh.run(f"pct push 101 /tmp/src {name} --user daemon", check=True)
    assert await stat(name) == "600 daemon:www-data\n"  # --user alone leaves the group
    await node_ssh.run(f"pct push 101 /tmp/src {name} --group nogroup --perms 640", check=True)
    assert await stat(name) == "640 daemon:nogroup\n"
    # --perms is octal by default (pct prefixes a 0), 0x is hex: strtoul with base 0.
    for perms, mode in (("0644", "644"), ("755", "755"), ("420", "420"), ("0x1a4", "644")):
        await node_ssh.run(f"pct push 101 /tmp/src {name}-{perms} --perms {perms}", check=True)
        assert await stat(f"{name}-{perms}") == f"{mode} root:root\n", perms
    content = await node_ssh.run(f"pct exec 101 -- cat {name}", check=True)
    assert content.stdout == "data"
    # A relative source is relative to the node shell's working directory.
    await node_ssh.run(f"cd /tmp && pct push 101 src {name}-rel", check=True)
    assert (await node_ssh.run(f"pct exec 101 -- cat {name}-rel")).stdout == "data"


async def test_pct_create_and_set_as_root_may_set_feature_flags(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await node_ssh.run("mkdir -p /root/keys && ssh-keygen -q -t ed25519 -N '' -f /root/keys/k")
    create = (
        f"pct create {new_vmid} {TEMPLATE} --rootfs local-lvm:8 --hostname viassh "
        "--net0 name=eth0,bridge=vmbr0,ip=dhcp --features keyctl=1,nesting=1,fuse=1 "
        "--unprivileged 1 --ssh-public-keys /root/keys/k.pub --start 1"
    )
    status, out, err = await run(node_ssh, create)
    assert (status, err) == (0, ""), err
    assert "extracting archive" in out
    config = (await api.get(f"/nodes/pve/lxc/{new_vmid}/config")).json()["data"]
    assert set(config["features"].split(",")) == {"fuse=1", "keyctl=1", "nesting=1"}
    assert config["hostname"] == "viassh"
    assert (await run(node_ssh, f"pct status {new_vmid}"))[1] == "status: running\n"
    keys = await run(node_ssh, f"pct exec {new_vmid} -- cat /root/.ssh/authorized_keys")
    assert keys[1].startswith("ssh-ed25519 ")
    assert await run(node_ssh, f"pct set {new_vmid} --features keyctl=0,nesting=1") == (0, "", "")
    config = (await api.get(f"/nodes/pve/lxc/{new_vmid}/config")).json()["data"]
    assert config["features"] == "keyctl=0,nesting=1"

    privileged = (
        f"pct create {new_vmid + 2000} {TEMPLATE} --rootfs local-lvm:8 --unprivileged 0 "
        "--features nesting=1"
    )
    assert (await run(node_ssh, privileged))[0] == 0
    config = (await api.get(f"/nodes/pve/lxc/{new_vmid + 2000}/config")).json()["data"]
    assert config["features"] == "nesting=1" and "unprivileged" not in config

    again = await run(node_ssh, f"pct create {new_vmid} {TEMPLATE} --rootfs local-lvm:8")
    assert again[0] == 255 and f"CT {new_vmid} already exists" in again[2]
    invalid = await run(node_ssh, f"pct create {new_vmid + 1000} {TEMPLATE} --memory 8")
    assert invalid == (
        255,
        "",
        "400 Parameter verification failed.\nmemory: value must have a minimum value of 16\n"
        "pct create <vmid> <ostemplate> [OPTIONS]\n",
    )
    assert (await run(node_ssh, "pct create 100000"))[2].startswith("400 not enough arguments\n")


async def test_a_closed_pipe_stops_pct_exec(node_ssh: asyncssh.SSHClientConnection) -> None:
    # `yes` would run forever: pct dies of SIGPIPE when head exits, and the command with it.
    result = await node_ssh.run("pct exec 101 -- yes | head -2; echo ${PIPESTATUS[@]}")
    assert (result.exit_status, result.stdout) == (0, "y\ny\n141 0\n")


async def test_unknown_pct_command(node_ssh: asyncssh.SSHClientConnection) -> None:
    assert await run(node_ssh, "pct frobnicate 101") == (
        255,
        "",
        "ERROR: unknown command 'pct frobnicate'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n",
    )
