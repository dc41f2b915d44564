"""`python -m shared.pins`: the operator's view of pinned Proxmox host certificates.

    python -m shared.pins list
    python -m shared.pins repin HOST PORT FINGERPRINT

`repin` connects to the host, checks that it presents the certificate with FINGERPRINT (as
the node's web UI shows it, `AA:BB:...`), pins it, and writes an audit row (`auth.repin`,
`by: operator`). Logins never change a pin; this command and `POST /api/auth/repin` do.
Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from sqlalchemy import select

from shared.adapters.proxmox import NodeFailure
from shared.adapters.proxmox.hosts import NonCanonicalHost, canonical_host
from shared.core.errors import DomainError
from shared.core.settings import Settings, SettingsError, load_settings
from shared.db import one_off_session
from shared.db.models import PveHost
from shared.domain.accounts import AccountService


async def _list(settings: Settings) -> int:
    async with one_off_session(settings) as session:
        rows = await session.scalars(select(PveHost).order_by(PveHost.host, PveHost.port))
        for row in rows:
            print(f"{row.host} {row.port} {row.tls_fingerprint} (since {row.updated_at:%F %T})")
    return 0


async def _repin(settings: Settings, host: str, port: int, fingerprint: str) -> int:
    try:
        async with one_off_session(settings) as session:
            previous, new = await AccountService(session, settings).repin(
                host=host,
                port=port,
                fingerprint=fingerprint,
                actor_user_id=None,
                actor=f"operator ({getpass.getuser()})",
                operator=True,
            )
    except (DomainError, NodeFailure) as exc:  # HostNotAllowed is a DomainError
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    if previous == new:
        print(f"{host}:{port} is already pinned to {new}")
    else:
        print(f"{host}:{port} re-pinned: {previous} -> {new}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.pins", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="show every pinned host")
    repin = commands.add_parser("repin", help="pin the certificate a host presents now")
    repin.add_argument("host")
    repin.add_argument("port", type=int)
    repin.add_argument("fingerprint", help="SHA-256 fingerprint, AA:BB:... or 64 hex digits")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.required("DATABASE_URL")
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "list":
        return asyncio.run(_list(settings))
    try:
        host = canonical_host(args.host)
    except NonCanonicalHost as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(_repin(settings, host, args.port, args.fingerprint))


if __name__ == "__main__":
    raise SystemExit(main())
