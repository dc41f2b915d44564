"""The node side over real SSH: pct exec/push/status, stand-ins and isolation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import uuid
from pathlib import Path

import asyncssh
import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.testing import ssh_connect
from tests.pvesim.helpers import create_container, run_task

SERVICE_SCRIPT = r"""
set -euo pipefail
apt-get update -q
apt-get install -y --no-install-recommends python3-venv redis-server
python3 -m venv /opt/app/venv
/opt/app/venv/bin/pip install "fastapi==0.115.0" uvicorn
mkdir -p /etc/infrahaus/credentials /opt/app
printf 'token=%s\n' s3cret > /etc/infrahaus/credentials/x
chmod 600 /etc/infrahaus/credentials/x
cat > /etc/systemd/system/app.service <<'UNIT'
[Unit]
Description=Infrahaus demo app

[Service]
ExecStart=/opt/app/venv/bin/uvicorn main:app --host 0.0.0.0 --port 8080
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now app.service
echo done
"""


@pytest.fixture(autouse=True)
def _needs_isolation(pvesim: SimulatorHandle) -> None:
    if pvesim.cluster.sandbox.problem:
        pytest.skip(f"pct exec needs unshare+chroot: {pvesim.cluster.sandbox.problem}")


@pytest.fixture
async def node_ssh(pvesim: SimulatorHandle):
    conn = await ssh_connect(pvesim.info)
    yield conn
    conn.close()


async def pct_exec(
    conn: asyncssh.SSHClientConnection, vmid: int, command: str, **kwargs
) -> asyncssh.SSHCompletedProcess:
    return await conn.run(f"pct exec {vmid} -- bash -c {shlex.quote(command)}", **kwargs)


async def test_password_and_key_auth(pvesim: SimulatorHandle) -> None:
    async with await ssh_connect(pvesim.info, use_key=True) as conn:
        result = await conn.run("pct status 101", check=True)
        assert result.stdout == "status: running\n"
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            pvesim.info["sshHost"],
            pvesim.info["sshPort"],
            username="root",
            password="wrong",
            client_keys=None,
            known_hosts=None,
        )


async def test_pct_errors_match_pct(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid)
    not_running = await node_ssh.run(f"pct exec {new_vmid} -- true")
    assert not_running.exit_status == 255
    assert not_running.stderr == f"container '{new_vmid}' not running!\n"
    missing = await node_ssh.run("pct status 999999")
    assert missing.stderr == "Configuration file 'nodes/pve/lxc/999999.conf' does not exist\n"
    push = await node_ssh.run(f"pct push {new_vmid} /etc/hostname /root/x")
    assert push.stderr == "can only push files to a running CT\n"
    assert (await node_ssh.run(f"pct status {new_vmid}")).stdout == "status: stopped\n"


async def test_exec_passes_stdio_and_exit_status(node_ssh: asyncssh.SSHClientConnection) -> None:
    result = await node_ssh.run(
        "pct exec 101 -- sh -c 'cat > /root/in.txt; echo out; echo err >&2; exit 7'", input="hello"
    )
    assert (result.exit_status, result.stdout, result.stderr) == (7, "out\n", "err\n")
    read_back = await node_ssh.run("sudo pct exec 101 -- cat /root/in.txt", check=True)
    assert read_back.stdout == "hello"


async def test_service_script_state_is_visible_later(
    node_ssh: asyncssh.SSHClientConnection,
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    new_vmid: int,
) -> None:
    await create_container(api, new_vmid, start=1)
    async with node_ssh.start_sftp_client() as sftp:
        async with sftp.open("/tmp/setup.sh", "w") as handle:
            await handle.write(SERVICE_SCRIPT)
    await node_ssh.run(f"pct push {new_vmid} /tmp/setup.sh /root/setup.sh --perms 0700", check=True)
    result = await node_ssh.run(f"pct exec {new_vmid} -- bash /root/setup.sh", check=True)
    assert result.stdout.endswith("done\n")

    units = await pct_exec(node_ssh, new_vmid, "systemctl list-units --type=service --no-pager")
    assert "app.service" in units.stdout and "redis-server.service" in units.stdout
    assert "loaded active running Infrahaus demo app" in units.stdout
    sockets = await pct_exec(node_ssh, new_vmid, "ss -tlnp")
    assert "0.0.0.0:8080" in sockets.stdout and '"uvicorn"' in sockets.stdout
    assert "127.0.0.1:6379" in sockets.stdout and "[::1]:6379" in sockets.stdout
    secret = await pct_exec(node_ssh, new_vmid, "cat /etc/infrahaus/credentials/x")
    assert secret.stdout == "token=s3cret\n"
    enabled = await pct_exec(
        node_ssh, new_vmid, "systemctl is-enabled app; systemctl is-active app"
    )
    assert enabled.stdout == "enabled\nactive\n"
    journal = await pct_exec(node_ssh, new_vmid, "journalctl -u app --no-pager -o cat")
    assert "Started app.service - Infrahaus demo app." in journal.stdout
    assert "Listening on 0.0.0.0:8080" in journal.stdout
    address = await pct_exec(node_ssh, new_vmid, "hostname -I")
    interfaces = (await api.get(f"/nodes/pve/lxc/{new_vmid}/interfaces")).json()["data"]
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert address.stdout.split() == [eth0["inet"].split("/")[0]]

    state = (await admin.get(f"/containers/{new_vmid}")).json()["data"]
    assert {"python3-venv", "redis-server"} <= set(state["packages"]["apt"])
    assert "fastapi==0.115.0" in state["packages"]["pip"]
    assert "app.service" in state["enabledUnits"]

    # Enabled units come back after a restart; nothing is active while stopped.
    await run_task(api, f"/nodes/pve/lxc/{new_vmid}/status/stop")
    after_stop = (await admin.get(f"/containers/{new_vmid}")).json()["data"]
    assert after_stop["activeUnits"] == []
    await run_task(api, f"/nodes/pve/lxc/{new_vmid}/status/start")
    restarted = await pct_exec(node_ssh, new_vmid, "ss -tln")
    assert "0.0.0.0:8080" in restarted.stdout


async def test_failed_package_install_reports_apt_error(
    node_ssh: asyncssh.SSHClientConnection,
) -> None:
    result = await node_ssh.run("pct exec 101 -- apt-get install -y nonexistent-pkg")
    assert result.exit_status == 100
    assert result.stderr == "E: Unable to locate package nonexistent-pkg\n"


def _read(path: Path) -> str:
    return path.read_text()


def _digest(path: Path) -> str:
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a file"


async def test_writes_stay_inside_the_container_root(
    node_ssh: asyncssh.SSHClientConnection, pvesim: SimulatorHandle
) -> None:
    data_dir = pvesim.data_dir
    root = pvesim.cluster.sandbox.container_root(101)
    marker = f"pvesim-escape-{uuid.uuid4().hex}"
    hosts_before = _digest(Path("/etc/hosts"))
    outside_files = {p for p in data_dir.rglob("*") if root not in p.parents and p != root}
    script = (
        f"echo pwned >> /etc/hosts; echo x > ../../{marker}; echo x > /../../../{marker}; "
        f"cd /tmp; echo x > ../../../../tmp/{marker}; ln -sf /etc/passwd /root/link; "
        f"echo y > /usr/bin/{marker} 2>/dev/null; mount -o remount,rw /usr 2>/dev/null; "
        "chroot / true 2>/dev/null; echo ok"
    )
    result = await node_ssh.run(f"pct exec 101 -- bash -c {shlex.quote(script)}")
    assert result.stdout == "ok\n"
    assert _digest(Path("/etc/hosts")) == hosts_before
    for outside in (Path("/"), Path("/tmp"), Path("/usr/bin"), data_dir, root.parent):
        assert _digest(outside / marker) == "missing"
    assert {p for p in data_dir.rglob("*") if root not in p.parents and p != root} == outside_files
    assert "pwned" in _read(root / "etc/hosts")
    assert _read(root / marker) == "x\n"
    assert _read(root / "tmp" / marker) == "x\n"
    assert os.readlink(root / "root/link") == "/etc/passwd"


async def test_pct_pull_and_node_shell(node_ssh: asyncssh.SSHClientConnection) -> None:
    await node_ssh.run("pct exec 101 -- sh -c 'echo pulled > /root/report.txt'", check=True)
    await node_ssh.run("pct pull 101 /root/report.txt /tmp/report.txt", check=True)
    assert (await node_ssh.run("cat /tmp/report.txt", check=True)).stdout == "pulled\n"
    listing = await node_ssh.run("pct list", check=True)
    assert "101" in listing.stdout and "legacy-ct" in listing.stdout


async def test_pct_runs_root_only_changes_and_power_actions(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid)
    await node_ssh.run(f"pct set {new_vmid} --features keyctl=1,nesting=1 -memory 1024", check=True)
    config = (await api.get(f"/nodes/pve/lxc/{new_vmid}/config")).json()["data"]
    assert config["features"] == "keyctl=1,nesting=1" and config["memory"] == 1024
    invalid = await node_ssh.run(f"pct set {new_vmid} --memory 8")
    assert invalid.exit_status == 255
    assert invalid.stderr.startswith(
        "400 Parameter verification failed.\nmemory: value must have a minimum value of 16\n"
    )
    await node_ssh.run(f"pct start {new_vmid}", check=True)
    assert (await node_ssh.run(f"pct status {new_vmid}")).stdout == "status: running\n"
    again = await node_ssh.run(f"pct start {new_vmid}")
    assert again.stderr == f"CT {new_vmid} already running\n"
    await node_ssh.run(f"pct destroy {new_vmid} --force --purge", check=True)
    gone = await api.get(f"/nodes/pve/lxc/{new_vmid}/status/current")
    assert gone.status_code == 500


async def test_hangup_kills_the_command(pvesim: SimulatorHandle) -> None:
    marker = f"sleep 30; echo {uuid.uuid4().hex}"
    async with await ssh_connect(pvesim.info) as conn:
        with pytest.raises(asyncssh.TimeoutError):
            await conn.run(f"pct exec 101 -- sh -c {shlex.quote(marker)}", timeout=0.3)
    async with asyncio.timeout(5):
        while True:
            leftovers = await asyncio.create_subprocess_exec(
                "pgrep", "-f", marker, stdout=asyncio.subprocess.PIPE
            )
            if (await leftovers.communicate())[0] == b"":
                break
            await asyncio.sleep(0.1)
