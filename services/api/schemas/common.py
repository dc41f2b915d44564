"""Field types shared by several bodies, with the constraints the spec publishes."""

from __future__ import annotations

from typing import Annotated

import msgspec

Hostname = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=253,
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
        r"[A-Za-z0-9])?)*|\[?[0-9A-Fa-f:.]+\]?)$(?!\n)",
        description="Host name or IP address of a Proxmox node.",
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
