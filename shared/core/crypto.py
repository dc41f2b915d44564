"""Secrets at rest: AES-256-GCM with key ids and associated data bound to row and column.

A stored value looks like `v1.<key id>.<base64url(nonce || ciphertext)>`. The associated data
(e.g. `nodes:<uuid>:token_secret`) is authenticated but not stored, so a ciphertext copied to
another row or column fails to decrypt instead of leaking there.

Keys come from `SECRET_KEYS`: comma-separated `<id>:<base64url 32 bytes>`, the first one
encrypts, all of them decrypt. Rotation: put a new key first, run
`python -m shared.keys rotate`, then drop the old key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.core.settings import SettingsError

_VERSION = "v1"
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class DecryptionError(Exception):
    """The value is not ours, was tampered with, or belongs to another row, column or key."""


def generate_key(key_id: str | None = None) -> str:
    """A fresh `SECRET_KEYS` entry."""
    key_id = key_id or secrets.token_hex(4)
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """`SECRET_KEYS` as (key id, key) pairs, current key first; raises `SettingsError`."""
    keys: list[tuple[str, bytes]] = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise SettingsError("SECRET_KEYS", "each entry must be <id>:<base64 key>")
        try:
            key = _b64decode(encoded)
        except (binascii.Error, ValueError):
            raise SettingsError("SECRET_KEYS", f"key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise SettingsError("SECRET_KEYS", f"key {key_id!r} must be 32 bytes")
        if any(existing == key_id for existing, _ in keys):
            raise SettingsError("SECRET_KEYS", f"key id {key_id!r} appears twice")
        keys.append((key_id, key))
    if not keys:
        raise SettingsError("SECRET_KEYS", "is empty")
    return keys


class SecretBox:
    """Encrypts and decrypts small secrets (tokens, passwords, private keys)."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        self._current_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def from_spec(cls, spec: str) -> SecretBox:
        return cls(parse_keys(spec))

    @property
    def current_key_id(self) -> str:
        return self._current_id

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current_id].encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._current_id}.{body}"

    def decrypt(self, stored: str, context: str) -> str:
        version, _, rest = stored.partition(".")
        key_id, _, body = rest.partition(".")
        cipher = self._ciphers.get(key_id)
        if version != _VERSION or cipher is None or not body:
            raise DecryptionError(f"unknown format or key id {key_id!r}")
        try:
            raw = _b64decode(body)
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError("ciphertext does not authenticate for this context") from None

    def needs_rotation(self, stored: str) -> bool:
        return stored.split(".", 2)[1:2] != [self._current_id]

    def rotate(self, stored: str, context: str) -> str:
        """Re-encrypt under the current key (no-op for values already under it)."""
        if not self.needs_rotation(stored):
            return stored
        return self.encrypt(self.decrypt(stored, context), context)
