"""An SSH connection that drops mid-command is `SshConnectionLost`: a transient error the
build retries, and the pool is told to reconnect (against the simulator's node SSH)."""

from __future__ import annotations

import asyncio

from services.pvesim.process import RunningSimulator
from services.worker.pipeline import is_transient
from shared.adapters.ssh import NodeSsh, SshConnectionLost, connect


async def test_a_dropped_connection_mid_command_is_a_distinct_retryable_error(
    pve: RunningSimulator,
) -> None:
    info = pve.info
    connection = await connect(
        info["sshHost"], info["sshPorts"]["pve"], info["sshUser"],
        host_key=info["sshHostKey"], password=info["sshPassword"],
    )  # fmt: skip
    dropped: list[bool] = []
    ssh = NodeSsh(connection, on_lost=lambda: dropped.append(True))
    running = asyncio.create_task(ssh.run(["sleep", "5"]))
    await asyncio.sleep(0.5)
    connection.abort()  # the network goes away under the command
    try:
        await running
    except SshConnectionLost as exc:
        lost: BaseException = exc
    else:
        raise AssertionError(f"the command 'finished' on a dropped connection: {running.result()}")
    assert is_transient(lost)
    assert dropped == [True]
