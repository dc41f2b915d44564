"""What a node reports about a guest is checked before it is answered: an odd number from one
guest (a float, a string, NaN) must not fail the whole container list with a 500."""

from __future__ import annotations

import msgspec

from services.api.schemas import from_row
from services.api.schemas.containers import LiveStatus
from shared.domain.containers.inventory import _live_from


def test_odd_numbers_from_a_node_become_numbers_or_nothing() -> None:
    live = _live_from({
        "status": "running", "cpu": "0.5", "mem": 1.2e9, "maxmem": "nope", "disk": float("nan"),
        "maxdisk": True, "uptime": 12.7,
    })  # fmt: skip
    assert (live.cpu, live.mem, live.maxmem, live.disk, live.maxdisk, live.uptime) == (
        0.5, 1_200_000_000, None, None, None, 12,
    )  # fmt: skip
    answer = from_row(live, LiveStatus)  # would raise (a 500) on the raw values
    assert msgspec.json.decode(msgspec.json.encode(answer))["mem"] == 1_200_000_000


def test_ordinary_numbers_pass_unchanged() -> None:
    live = _live_from({"status": "stopped", "cpu": 0, "mem": 0, "maxmem": 536870912})
    assert (live.status, live.cpu, live.mem, live.maxmem, live.uptime) == (
        "stopped", 0.0, 0, 536870912, None,
    )  # fmt: skip
