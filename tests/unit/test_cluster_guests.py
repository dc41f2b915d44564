"""`guests_from`: what a `/cluster/resources?type=vm` answer says of the cluster's guests."""

from __future__ import annotations

import pytest

from shared.adapters.proxmox import ProxmoxError
from shared.adapters.proxmox.resources import ClusterGuest, guests_from


def test_guests_are_read_by_vmid_with_their_descriptive_fields() -> None:
    listing = [
        {"id": "lxc/101", "type": "lxc", "vmid": 101, "node": "pve", "name": "web",
         "status": "running", "template": 0, "maxmem": 536870912},
        {"id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve2", "name": "vm",
         "status": "stopped", "template": 1},
    ]  # fmt: skip
    assert guests_from(listing) == {
        101: ClusterGuest(101, "pve", "lxc", name="web", status="running", template=False),
        100: ClusterGuest(100, "pve2", "qemu", name="vm", status="stopped", template=True),
    }


def test_loose_json_from_the_node_is_read_not_refused() -> None:
    # PVE's JSON encoder sends numbers as strings and digit-only names as numbers
    listing = [{"type": "lxc", "vmid": "205", "node": "pve", "name": 1234, "template": "1"}]
    assert guests_from(listing) == {
        205: ClusterGuest(205, "pve", "lxc", name="1234", status=None, template=True)
    }


def test_entries_that_are_no_guest_are_left_out_and_the_rest_kept() -> None:
    listing = [
        {"type": "node", "node": "pve"},  # not a guest
        {"type": "storage", "node": "pve", "storage": "local"},
        {"type": "lxc", "node": "pve"},  # no VMID
        {"type": "lxc", "vmid": 300},  # no node
        {"type": "lxc", "vmid": "three hundred", "node": "pve"},
        "garbage",
        {"type": "lxc", "vmid": 301, "node": "pve"},
    ]
    assert list(guests_from(listing)) == [301]


@pytest.mark.parametrize("answer", [None, {"data": []}, "nope"])
def test_an_answer_that_is_no_list_is_the_nodes_error(answer: object) -> None:
    with pytest.raises(ProxmoxError, match="unexpected shape"):
        guests_from(answer)
