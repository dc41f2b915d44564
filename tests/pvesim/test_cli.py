"""The simulator started as a process, the way `make` targets and humans run it."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
async def test_cli_writes_info_file_and_serves_curl(tmp_path: Path) -> None:
    info_file = tmp_path / "pvesim.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.pvesim",
        "--api-port",
        "0",
        "--ssh-port",
        "0",
        "--admin-port",
        "0",
        "--info-file",
        str(info_file),
        "--data-dir",
        str(tmp_path / "data"),
        "--task-speed",
        "0.05",
        "--seed",
        "7",
        "--fault",
        "pve:latency_ms=1",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(20):
            while not await asyncio.to_thread(info_file.exists):
                assert process.returncode is None, await process.stdout.read()
                await asyncio.sleep(0.1)
        info = json.loads(info_file.read_text())
        assert info["tokenId"] == "root@pam!infrahaus"
        assert len(info["users"]) >= 2 and info["nodes"] == ["pve"]
        assert info["sshHostKey"].startswith("ssh-ed25519 ")
        assert len(info["tlsFingerprint"].split(":")) == 32
        assert info["tlsFingerprint"] == info["tlsFingerprint"].upper()
        curl = await asyncio.create_subprocess_exec(
            "curl",
            "-sk",
            "-H",
            f"Authorization: PVEAPIToken={info['tokenId']}={info['tokenSecret']}",
            f"{info['apiUrl']}/version",
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await curl.communicate()
        assert json.loads(output)["data"]["release"] == "9.1"
        faults = await asyncio.create_subprocess_exec(
            "curl", "-s", f"{info['adminUrl']}/faults", stdout=asyncio.subprocess.PIPE
        )
        assert json.loads((await faults.communicate())[0])["data"]["pve"]["latency_ms"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await process.wait()
    assert process.returncode == 0
