"""Which Proxmox hosts this service may contact (`PVE_ALLOWED_HOSTS`).

Login and node registration take a host from the client, so an open service could be used to
probe any address it can reach. Operators narrow that with a comma-separated list of IP networks
(`10.0.0.0/8`), exact names (`pve1.example.com`) and name suffixes (`*.pve.example.com`); `*`
(the default) allows everything. Names are matched as written, without DNS.
"""

from __future__ import annotations

import ipaddress

from shared.core.errors import Forbidden
from shared.core.settings import SettingsError


class HostNotAllowed(Forbidden):
    """The host is outside `PVE_ALLOWED_HOSTS` (403)."""


class HostPolicy:
    def __init__(self, spec: str | None) -> None:
        spec = "*" if spec is None else spec  # unset: any host (refused beyond loopback)
        self.allow_all = False
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        for entry in (part.strip().lower() for part in spec.split(",")):
            if not entry:
                continue
            if entry == "*":
                self.allow_all = True
            elif entry.startswith("*."):
                self.suffixes.append(entry[1:])
            else:
                try:
                    self.networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    if not entry.replace("-", "").replace(".", "").isalnum():
                        raise SettingsError(
                            "PVE_ALLOWED_HOSTS", f"{entry!r} is not a network or host name"
                        ) from None
                    self.names.add(entry)

    def allows(self, host: str) -> bool:
        if self.allow_all:
            return True
        host = host.lower().strip("[]")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host in self.names or any(host.endswith(s) for s in self.suffixes)
        return any(address in network for network in self.networks)

    def check(self, host: str) -> None:
        """`HostNotAllowed` unless the host may be contacted."""
        if not self.allows(host):
            raise HostNotAllowed(f"{host} is not in PVE_ALLOWED_HOSTS")


class NonCanonicalHost(ValueError):
    """A host spelled in a form that names an address ambiguously (`0x7f.1`, `2130706433`,
    `127.000.000.001`): refused, so one host cannot hide behind many spellings."""


def canonical_host(host: str) -> str:
    """The one spelling of `host` every comparison and key uses.

    IPv6 addresses compressed and lower-case (an IPv4-mapped one as its IPv4 address), names
    lower-case without a trailing dot, IPv4 as four decimal numbers without leading zeros. A
    name whose last label is a number is an IPv4 address to resolvers (`inet_aton` reads
    `0x7f.1` and `2130706433` as 127.0.0.1); anything but the dotted-quad form is refused.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return text.lower()  # not an address at all: nothing will answer to it
        mapped = address.ipv4_mapped
        return str(mapped) if mapped is not None else str(address)
    text = text.lower()
    if text.endswith("."):
        text = text[:-1]
    last = text.rsplit(".", 1)[-1]
    if last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:])):
        try:
            address4 = ipaddress.IPv4Address(text)
        except ValueError:
            address4 = None
        if address4 is None or str(address4) != text:
            raise NonCanonicalHost(
                f"{host!r} is not a canonical IPv4 address: write it as four decimal numbers"
                " without leading zeros (e.g. 192.0.2.10), or use the host name"
            )
    return text
