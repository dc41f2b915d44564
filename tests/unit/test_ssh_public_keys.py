"""`check_ssh_public_keys`: what PVE reads passes (options and comments included), the rest is a
422 naming the key's index."""

from __future__ import annotations

import asyncssh
import pytest

from shared.core.errors import Unprocessable
from shared.domain.containers.creation import check_ssh_public_keys

KEY = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()


def test_readable_keys_pass_with_options_and_comments() -> None:
    check_ssh_public_keys([KEY, f"{KEY} alice@laptop", f'from="10.0.0.0/8" {KEY} ops'])


@pytest.mark.parametrize(
    "bad", ["ssh-ed25519 AAAA", "ssh-rsa AAAAB3NzaC1yc2E=", "ssh-ed25519 ////"]
)
def test_unreadable_keys_are_422_naming_the_key(bad: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_ssh_public_keys([KEY, bad])
    assert refused.value.field == "sshPublicKeys[1]"
