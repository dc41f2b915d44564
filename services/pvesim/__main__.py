"""Command line entry point: ``python -m services.pvesim --help``."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import structlog

from services.pvesim.faults import FaultRegistry, parse_fault_option
from services.pvesim.simulator import (
    DEFAULT_RRD_LAG,
    SimulatorConfig,
    node_names,
    start_simulator,
)

log = structlog.get_logger()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.pvesim",
        description="Simulated Proxmox VE cluster (HTTPS API + SSH with pct).",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1", help="listen address (default %(default)s)"
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=8006,
        help="HTTPS API port, 0 = pick a free one (default %(default)s)",
    )
    parser.add_argument(
        "--ssh-port",
        type=int,
        default=2222,
        help="SSH port of the first node; node N uses port+N-1; 0 = free ports "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=8007,
        help="admin/fault-injection HTTP port, 0 = free (default %(default)s)",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="number of nodes, named pve, pve2, ... (default %(default)s)",
    )
    parser.add_argument(
        "--task-speed",
        type=float,
        default=1.0,
        help="multiplier for task durations and lock timeouts; 0.05 = 20x faster "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for secrets, MACs, addresses and fault decisions",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where container roots live (default: a temporary directory that is removed on exit)",
    )
    parser.add_argument(
        "--info-file",
        type=Path,
        default=None,
        help="write connection details as JSON here once listening",
    )
    parser.add_argument("--cert", type=Path, default=None, help="PEM certificate to serve")
    parser.add_argument("--key", type=Path, default=None, help="PEM private key for --cert")
    parser.add_argument(
        "--auth-failure-delay",
        type=float,
        default=3.0,
        help="seconds every 401 is delayed, as pveproxy does (default %(default)s)",
    )
    parser.add_argument(
        "--rrd-lag",
        type=float,
        default=DEFAULT_RRD_LAG,
        help="seconds /cluster/resources lags behind live guest status, like "
        "pvestatd's cache (default %(default)s; 0 = no lag)",
    )
    parser.add_argument(
        "--ssh-authorized-key",
        type=Path,
        action="append",
        default=[],
        help="file with OpenSSH public keys allowed to log in (repeatable)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NODE:KEY=VALUE[,...]",
        help="initial fault, e.g. pve:latency_ms=200,error_rate=0.1 (repeatable)",
    )
    return parser


async def _serve(config: SimulatorConfig) -> None:
    handle = await start_simulator(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"pvesim listening: {handle.info['apiUrl']} (fingerprint "
        f"{handle.info['tlsFingerprint']}), ssh {handle.info['sshPorts']}, admin "
        f"{handle.info['adminUrl']}",
        flush=True,
    )
    await stop.wait()
    await handle.stop()


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    faults: dict[str, dict[str, str]] = {}
    for option in args.fault:
        try:
            node, changes = parse_fault_option(option)
            if node not in node_names(args.nodes):
                raise ValueError(f"unknown node {node!r} in --fault {option!r}")
            FaultRegistry([node], None).update(node, changes)
        except KeyError as exc:
            parser.error(str(exc.args[0]))
        except ValueError as exc:
            parser.error(f"invalid --fault {option!r}: {exc}")
        faults.setdefault(node, {}).update(changes)
    keys = [
        line.strip()
        for path in args.ssh_authorized_key
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    config = SimulatorConfig(
        host=args.listen,
        api_port=args.api_port,
        ssh_port=args.ssh_port,
        admin_port=args.admin_port,
        nodes=args.nodes,
        task_speed=args.task_speed,
        seed=args.seed,
        data_dir=args.data_dir,
        info_file=args.info_file,
        cert_file=args.cert,
        key_file=args.key,
        auth_failure_delay=args.auth_failure_delay,
        rrd_lag=args.rrd_lag,
        ssh_authorized_keys=keys,
        faults=faults,
    )
    asyncio.run(_serve(config))


if __name__ == "__main__":
    main()
