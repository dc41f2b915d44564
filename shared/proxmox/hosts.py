"""Which Proxmox hosts this service may contact (`PVE_ALLOWED_HOSTS`).

Login and node registration take a host from the client, so an open service could be used to
probe any address it can reach. Operators narrow that with a comma-separated list of IP networks
(`10.0.0.0/8`), exact names (`pve1.example.com`) and name suffixes (`*.pve.example.com`); `*`
(the default) allows everything. Names are matched as written, without DNS.
"""

from __future__ import annotations

import ipaddress

from shared.settings import SettingsError


class HostPolicy:
    def __init__(self, spec: str) -> None:
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
