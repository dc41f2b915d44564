"""Inside containers: networking as the guest has it, systemd/ss output, pip and PEP 668."""

from __future__ import annotations

import asyncio
import json
import shlex

import asyncssh
import httpx
import pytest

from services.pvesim import SimulatorHandle
from services.pvesim.testing import ssh_connect
from tests.pvesim.helpers import create_container

UBUNTU = "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"


@pytest.fixture(autouse=True)
def _needs_isolation(pvesim: SimulatorHandle) -> None:
    if pvesim.cluster.sandbox.problem:
        pytest.skip(f"containers need unshare+overlay+chroot: {pvesim.cluster.sandbox.problem}")


@pytest.fixture
async def node_ssh(pvesim: SimulatorHandle):
    conn = await ssh_connect(pvesim.info)
    yield conn
    conn.close()


async def inside(
    conn: asyncssh.SSHClientConnection, vmid: int, script: str
) -> tuple[int, str, str]:
    result = await conn.run(f"pct exec {vmid} -- bash -c {shlex.quote(script)}")
    return result.exit_status, result.stdout, result.stderr


async def eth0_inet(api: httpx.AsyncClient, vmid: int) -> str | None:
    interfaces = (await api.get(f"/nodes/pve/lxc/{vmid}/interfaces")).json()["data"]
    return next(i for i in interfaces if i["name"] == "eth0").get("inet")


async def test_dhcp_lease_arrives_late_or_never(
    node_ssh: asyncssh.SSHClientConnection,
    api: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    new_vmid: int,
) -> None:
    late, never, static = new_vmid, new_vmid + 1000, new_vmid + 2000
    await admin.put("/faults/pve", json={"dhcp_delay": 3.0})
    await create_container(
        api, static, start=1, net0="name=eth0,bridge=vmbr0,ip=10.20.0.5/24,gw=10.20.0.1"
    )
    await create_container(api, late, start=1)
    # Started, but the DHCP client has no lease yet: no IPv4 anywhere.
    assert await eth0_inet(api, late) is None
    assert await inside(node_ssh, late, "ip -4 -o addr show dev eth0; hostname -I") == (0, "\n", "")
    assert await inside(node_ssh, late, "ip -4 -j addr show scope global") == (0, "[]\n", "")
    assert await eth0_inet(api, static) == "10.20.0.5/24"  # static addresses are there at once
    async with asyncio.timeout(10):
        while await eth0_inet(api, late) is None:
            await asyncio.sleep(0.1)
    inet = await eth0_inet(api, late)
    _, out, _ = await inside(node_ssh, late, "ip -4 -o addr show dev eth0 | awk '{print $4}'")
    assert out == f"{inet}\n"

    await admin.put("/faults/pve", json={"dhcp_delay": 0, "dhcp_no_lease": True})
    await create_container(api, never, start=1)
    await asyncio.sleep(1.2)
    assert await eth0_inet(api, never) is None
    _, out, _ = await inside(node_ssh, never, "ip -j -4 addr show dev eth0")
    assert json.loads(out) == []
    # The fault only decides at start: with it gone, a restart gets the lease.
    await admin.delete("/faults/pve")
    await node_ssh.run(f"pct reboot {never}", check=True)
    assert (await eth0_inet(api, never) or "").startswith("10.10.")


async def test_ip_standin_speaks_iproute2(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient
) -> None:
    inet = await eth0_inet(api, 101)
    assert inet is not None
    address, prefix = inet.split("/")
    _, out, _ = await inside(node_ssh, 101, "ip -4 -o addr show dev eth0")
    assert out.startswith(f"2: eth0    inet {inet} brd ")
    assert "scope global dynamic eth0\\       valid_lft" in out
    _, out, _ = await inside(node_ssh, 101, "ip -4 -o addr")
    assert [line.split()[1] for line in out.splitlines()] == ["lo", "eth0"]
    _, out, _ = await inside(node_ssh, 101, "ip -j addr show dev eth0")
    (eth0,) = json.loads(out)
    assert eth0["ifname"] == "eth0"
    families = {info["family"]: info for info in eth0["addr_info"]}
    assert families["inet"]["local"] == address and families["inet"]["prefixlen"] == int(prefix)
    interfaces = (await api.get("/nodes/pve/lxc/101/interfaces")).json()["data"]
    api_eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert f"{families['inet6']['local']}/64" == api_eth0["inet6"]
    assert eth0["address"] == api_eth0["hwaddr"]
    _, out, _ = await inside(node_ssh, 101, "ip -4 -j addr show scope global")
    (only,) = json.loads(out)
    assert [i["local"] for i in only["addr_info"]] == [address]
    _, out, _ = await inside(node_ssh, 101, "ip -o addr show scope host")
    assert [line.split()[3] for line in out.splitlines()] == ["127.0.0.1/8", "::1/128"]
    _, out, _ = await inside(node_ssh, 101, "ip --json -4 addr show lo")
    assert [i["ifname"] for i in json.loads(out)] == ["lo"]
    _, out, _ = await inside(node_ssh, 101, "ip -4 addr show dev eth0")
    assert out.splitlines()[0].endswith("link-netnsid 0") and "link/ether" not in out
    assert await inside(node_ssh, 101, "ip addr show dev eth9") == (
        1,
        "",
        'Device "eth9" does not exist.\n',
    )
    _, out, _ = await inside(node_ssh, 101, "ip -j route")
    assert json.loads(out)[0]["dst"] == "default"


async def test_systemctl_show_and_list_units_print_as_systemd(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, start=1)
    await inside(node_ssh, new_vmid, "apt-get install -y nginx >/dev/null")
    # Debian's nginx has a SysV script too: enable always syncs it, and says so on stderr.
    assert await inside(node_ssh, new_vmid, "systemctl enable nginx") == (
        0,
        "",
        "Synchronizing state of nginx.service with SysV service script with "
        "/lib/systemd/systemd-sysv-install.\n"
        "Executing: /lib/systemd/systemd-sysv-install enable nginx\n",
    )
    assert await inside(node_ssh, new_vmid, "systemctl show -p ActiveState,SubState nginx") == (
        0,
        "ActiveState=active\nSubState=running\n",
        "",
    )
    _, out, _ = await inside(
        node_ssh, new_vmid, "systemctl show -p SubState -p ActiveState --value nginx.service"
    )
    assert out == "active\nrunning\n"  # systemd's property order, not the -p order
    _, out, _ = await inside(node_ssh, new_vmid, "systemctl show -p MainPID,UnitFileState ssh")
    pid_line, state_line = out.splitlines()
    assert pid_line.startswith("MainPID=") and int(pid_line.split("=")[1]) > 0
    assert state_line == "UnitFileState=enabled"
    assert await inside(node_ssh, new_vmid, "systemctl show -p LoadState,ActiveState nosuch") == (
        0,
        "LoadState=not-found\nActiveState=inactive\n",
        "",
    )
    _, out, _ = await inside(
        node_ssh, new_vmid, "systemctl stop nginx; systemctl list-units --no-legend --plain --all"
    )
    rows = [line.split(None, 4) for line in out.splitlines()]
    assert ["nginx.service", "loaded", "inactive", "dead"] in [row[:4] for row in rows]
    assert all(not line.startswith(" ") for line in out.splitlines())
    await inside(node_ssh, new_vmid, "systemctl start nginx")
    _, out, _ = await inside(
        node_ssh,
        new_vmid,
        "systemctl list-units --type=service --state=running --no-legend --plain",
    )
    assert sorted(line.split()[0] for line in out.splitlines()) == ["nginx.service", "ssh.service"]
    assert all(line.split()[1:4] == ["loaded", "active", "running"] for line in out.splitlines())
    _, out, _ = await inside(node_ssh, new_vmid, "systemctl list-units --type=service")
    assert out.splitlines()[0].split() == ["UNIT", "LOAD", "ACTIVE", "SUB", "DESCRIPTION"]
    assert "2 loaded units listed." in out


async def test_ss_lists_ipv6_listeners(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, start=1)
    await inside(node_ssh, new_vmid, "apt-get install -y nginx redis-server >/dev/null")
    _, out, _ = await inside(node_ssh, new_vmid, "ss -tlnpH")
    local = {line.split()[3] for line in out.splitlines()}
    assert {"0.0.0.0:80", "[::]:80", "0.0.0.0:22", "[::]:22"} <= local
    assert {"127.0.0.1:6379", "[::1]:6379"} <= local
    _, out, _ = await inside(node_ssh, new_vmid, "ss -tln")
    assert out.splitlines()[0].split()[:3] == ["State", "Recv-Q", "Send-Q"]
    assert "[::]:80" in out and "users:" not in out
    _, out, _ = await inside(node_ssh, new_vmid, "ss -tlnH -4")
    assert "[::]" not in out and "0.0.0.0:80" in out


async def test_pip_and_npm_come_from_apt_and_pep_668_applies(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, start=1)
    status, out, _ = await inside(node_ssh, new_vmid, "command -v pip pip3 npm node")
    assert (status, out) == (1, "")
    assert await inside(node_ssh, new_vmid, "python3 -m pip --version") == (
        1,
        "",
        "/bin/python3: No module named pip\n",  # sys.executable, found via PATH,
    )
    await inside(node_ssh, new_vmid, "apt-get install -y python3-pip npm >/dev/null")
    _, out, _ = await inside(node_ssh, new_vmid, "command -v pip pip3 npm node")
    assert out.split() == ["/bin/pip", "/bin/pip3", "/bin/npm", "/bin/node"]
    status, out, _ = await inside(node_ssh, new_vmid, "npm install -g pm2 && npm ls -g && node -v")
    assert status == 0 and "pm2@" in out and out.endswith("v18.19.0\n")
    assert (await inside(node_ssh, new_vmid, "test -f /usr/lib/python3.11/EXTERNALLY-MANAGED"))[
        0
    ] == 0
    for command in ("pip install requests", "pip3 install requests", "python3 -m pip install x"):
        status, out, err = await inside(node_ssh, new_vmid, command)
        assert status == 1 and out == "", command
        assert err.startswith("error: externally-managed-environment\n\n\u00d7 This environment")
        assert "hint: See PEP 668 for the detailed specification.\n" in err
    assert (await inside(node_ssh, new_vmid, "pip install --break-system-packages requests"))[
        0
    ] == 0

    # A venv needs python3-venv (Debian), then its pip installs and remembers packages.
    status, out, _ = await inside(node_ssh, new_vmid, "python3 -m venv /opt/novenv")
    assert status == 1 and "ensurepip is not" in out and "apt install python3.11-venv" in out
    await inside(node_ssh, new_vmid, "apt-get install -y python3-venv >/dev/null")
    script = (
        "python3 -m venv /opt/app/venv && /opt/app/venv/bin/pip install -q 'fastapi==0.115.0' "
        "Uvicorn && printf 'httpx==0.27.0\\n' > /tmp/req.txt && "
        "/opt/app/venv/bin/python -m pip install -r /tmp/req.txt"
    )
    status, out, err = await inside(node_ssh, new_vmid, script)
    assert status == 0, err
    assert out.splitlines()[-1] == "Successfully installed httpx-0.27.0"
    _, out, _ = await inside(node_ssh, new_vmid, "/opt/app/venv/bin/pip freeze")
    assert out == "fastapi==0.115.0\nhttpx==0.27.0\nuvicorn==1.0.0\n"
    _, out, _ = await inside(node_ssh, new_vmid, "/opt/app/venv/bin/pip install fastapi==0.115.0")
    assert out.startswith("Requirement already satisfied: fastapi in /opt/app/venv/lib/python3.11")
    assert await inside(node_ssh, new_vmid, "/opt/app/venv/bin/pip install -q rich") == (0, "", "")
    _, out, _ = await inside(
        node_ssh, new_vmid, ". /opt/app/venv/bin/activate && command -v pip && pip show fastapi"
    )
    assert out.startswith("/opt/app/venv/bin/pip\nName: fastapi\nVersion: 0.115.0\n")
    status, _, err = await inside(node_ssh, new_vmid, "/opt/app/venv/bin/pip install nonexistent-x")
    assert status == 1 and "No matching distribution found for nonexistent-x" in err


async def test_ubuntu_carries_its_own_externally_managed_marker(
    node_ssh: asyncssh.SSHClientConnection, api: httpx.AsyncClient, new_vmid: int
) -> None:
    await create_container(api, new_vmid, start=1, ostemplate=UBUNTU)
    _, out, _ = await inside(node_ssh, new_vmid, "ls /usr/lib/python3.12/EXTERNALLY-MANAGED")
    assert out == "/usr/lib/python3.12/EXTERNALLY-MANAGED\n"
    await inside(node_ssh, new_vmid, "apt-get install -y python3-pip >/dev/null")
    status, _, err = await inside(node_ssh, new_vmid, "pip install requests")
    assert status == 1 and "/usr/share/doc/python3.12/README.venv" in err


def test_dhcp_faults_from_the_command_line() -> None:
    from services.pvesim.faults import FaultRegistry, parse_fault_option

    registry = FaultRegistry(["pve"], seed=1)
    node, changes = parse_fault_option("pve:dhcp_delay=2.5,dhcp_no_lease=1")
    faults = registry.update(node, changes)
    assert (faults.dhcp_delay, faults.dhcp_no_lease) == (2.5, True)
