"""`make demo` is not tied to fixed ports: taken ones are replaced, said, and kept."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.run import DEMO_NODES, DemoPorts, demo_ports
from shared.dev.embedded import free_port


def _consecutive_free(count: int) -> int:
    while True:
        base = free_port()
        if all(_free(base + i) for i in range(count)):
            return base


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_free_wanted_ports_are_used_as_given(tmp_path: Path) -> None:
    env = {
        "PVESIM_API_PORT": str(free_port()),
        "PVESIM_SSH_PORT": str(_consecutive_free(DEMO_NODES)),
        "PVESIM_ADMIN_PORT": str(free_port()),
    }
    ports = demo_ports(tmp_path, env)
    assert ports == DemoPorts(
        int(env["PVESIM_API_PORT"]), int(env["PVESIM_SSH_PORT"]), int(env["PVESIM_ADMIN_PORT"])
    )
    assert not (tmp_path / "pvesim-ports.json").exists()


def test_a_taken_port_gives_free_ones_that_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = busy.getsockname()[1]
        env = {
            "PVESIM_API_PORT": str(taken),
            "PVESIM_SSH_PORT": str(_consecutive_free(DEMO_NODES)),
            "PVESIM_ADMIN_PORT": str(free_port()),
        }
        first = demo_ports(tmp_path, env)
        assert taken not in first.all() and all(_free(port) for port in first.all())
        said = capsys.readouterr().out
        assert f"Port(s) {taken} taken" in said and f"API {first.api}" in said
        # The next run finds the same ports (a node registered against them keeps working).
        assert demo_ports(tmp_path, env) == first
