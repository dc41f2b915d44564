"""Users, API tokens, tickets and CSRF tokens with PVE's formats and lifetimes.

Tickets are ``PVE:<userid>:<HEXTIME>::<signature>`` and CSRF tokens ``<HEXTIME>:<43 chars>`` as
in ``PVE::Ticket``; the signature is an HMAC instead of RSA because nobody but the simulator
verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import unquote

from services.pvesim.tasks import Clock

TICKET_LIFETIME = 2 * 3600
CLOCK_SKEW_GRACE = 300

ALL_PRIVILEGES = frozenset(
    {
        "VM.Allocate",
        "VM.Audit",
        "VM.PowerMgmt",
        "VM.Console",
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.Config.HWType",
        "Sys.Audit",
        "Sys.Modify",
        "Sys.Console",
        "Datastore.Audit",
        "Datastore.AllocateSpace",
        "Datastore.AllocateTemplate",
        "Pool.Audit",
    }
)
AUDITOR_PRIVILEGES = frozenset({"VM.Audit", "Sys.Audit", "Datastore.Audit", "Pool.Audit"})


@dataclass(frozen=True)
class User:
    userid: str
    password: str
    privileges: frozenset[str]

    @property
    def username(self) -> str:
        return self.userid.split("@", 1)[0]

    @property
    def realm(self) -> str:
        return self.userid.split("@", 1)[1]


@dataclass(frozen=True)
class Identity:
    """Who made a request: ``authid`` is ``user@realm`` or ``user@realm!tokenid``."""

    authid: str
    privileges: frozenset[str]
    via_ticket: bool

    @property
    def is_token(self) -> bool:
        return "!" in self.authid

    @property
    def is_root(self) -> bool:
        """True only for ``root@pam`` itself; PVE's root-only paths reject its tokens."""
        return self.authid == "root@pam"


class AuthFailure(Exception):
    """401 with the reason phrase given as the message (body stays empty)."""


class Authenticator:
    """Verifies credentials from the ``Authorization`` header or the ``PVEAuthCookie``."""

    def __init__(self, clock: Clock, users: list[User], tokens: dict[str, str], key: bytes):
        self._clock = clock
        self.users = {user.userid: user for user in users}
        self.tokens = tokens
        self._key = key

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode().rstrip("=")

    def create_ticket(self, userid: str) -> tuple[str, str]:
        """Return ``(ticket, CSRFPreventionToken)`` for ``userid``."""
        stamp = f"{int(self._clock.now()):08X}"
        plain = f"PVE:{userid}:{stamp}"
        ticket = f"{plain}::{self._sign(plain)}"
        csrf = f"{stamp}:{self._sign(f'{stamp}:{userid}')}"
        return ticket, csrf

    def _within_lifetime(self, stamp: str) -> bool:
        try:
            age = self._clock.now() - int(stamp, 16)
        except ValueError:
            return False
        return -CLOCK_SKEW_GRACE <= age <= TICKET_LIFETIME

    def verify_ticket(self, ticket: str) -> str | None:
        """The userid a valid, unexpired ticket belongs to, else None."""
        plain, sep, signature = unquote(ticket).rpartition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE":
            return None
        if not hmac.compare_digest(self._sign(plain), signature):
            return None
        if not self._within_lifetime(parts[2]) or parts[1] not in self.users:
            return None
        return parts[1]

    def verify_csrf(self, token: str, userid: str) -> bool:
        stamp, _, signature = token.partition(":")
        return hmac.compare_digest(
            self._sign(f"{stamp}:{userid}"), signature
        ) and self._within_lifetime(stamp)

    def check_password(self, username: str, realm: str | None, password: str) -> str | None:
        """``POST /access/ticket``: the userid on success (a valid ticket counts as password)."""
        userid = username if "@" in username or realm is None else f"{username}@{realm}"
        if "@" not in userid:
            return None
        user = self.users.get(userid)
        if user is None:
            return None
        if hmac.compare_digest(user.password.encode(), password.encode()):
            return userid
        if password.startswith("PVE:") and self.verify_ticket(password) == userid:
            return userid
        return None

    def _token_identity(self, value: str) -> Identity:
        tokenid, sep, secret = value.partition("=")
        if not sep:
            raise AuthFailure("Authentication failed!")
        expected = self.tokens.get(tokenid)
        userid = tokenid.split("!", 1)[0]
        if expected is None or userid not in self.users:
            raise AuthFailure("Authentication failed!")
        if not hmac.compare_digest(expected.encode(), secret.encode()):
            raise AuthFailure("Authentication failed!")
        return Identity(tokenid, self.users[userid].privileges, via_ticket=False)

    def identify(self, method: str, headers: dict[str, str], cookies: dict[str, str]) -> Identity:
        """Authenticate a request or raise :class:`AuthFailure` with PVE's reason phrase."""
        authorization = headers.get("authorization", "").strip()
        for prefix in ("PVEAPIToken=", "PVEAPIToken "):
            if authorization.startswith(prefix):
                return self._token_identity(authorization[len(prefix) :].strip())
        ticket = None
        if authorization.startswith("PVEAuthCookie="):
            ticket = authorization[len("PVEAuthCookie=") :]
        elif "PVEAuthCookie" in cookies:
            ticket = cookies["PVEAuthCookie"]
        if not ticket:
            raise AuthFailure("No ticket")
        userid = self.verify_ticket(ticket)
        if userid is None:
            raise AuthFailure("Authentication failed!")
        if method != "GET":
            csrf = headers.get("csrfpreventiontoken", "")
            if not csrf or not self.verify_csrf(csrf, userid):
                raise AuthFailure("Permission denied - invalid csrf token")
        return Identity(userid, self.users[userid].privileges, via_ticket=True)


def new_token_secret(randbytes: bytes | None = None) -> str:
    """A UUID-shaped secret like ``pveum user token add`` prints."""
    raw = (randbytes or secrets.token_bytes(16)).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"
