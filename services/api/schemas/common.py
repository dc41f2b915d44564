"""Field types shared by several bodies, with the constraints the spec publishes."""

from __future__ import annotations

from typing import Annotated

import msgspec

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A canonical dotted-quad IPv4 address; a name whose last label is not a number (decimal or
# 0x-hex, which resolvers read as an IPv4 address in another spelling); or an IPv6 address.
HOSTNAME_PATTERN = (
    rf"^({_OCTET}(\.{_OCTET}){{3}}"
    rf"|(?!([^.]*\.)*([0-9]+|0[xX][0-9A-Fa-f]*)$){_LABEL}(\.{_LABEL})*"
    r"|\[?[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?)$(?!\n)"
)
Hostname = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=253,
        pattern=HOSTNAME_PATTERN,
        description="Host name or IP address of a Proxmox node. An IPv4 address is four"
        " decimal numbers without leading zeros; a name may not end in a number (resolvers"
        " read `0x7f.1` or `2130706433` as an address).",
        examples=["pve.example.com"],
    ),
]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Fingerprint = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$(?!\n)|^[0-9A-Fa-f]{64}$(?!\n)",
        description="SHA-256 fingerprint of the node's TLS certificate, as PVE shows it.",
    ),
]
