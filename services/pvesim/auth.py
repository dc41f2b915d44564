"""Users, API tokens, tickets and CSRF tokens with PVE's formats and lifetimes.

Tickets are ``PVE:<userid>:<HEXTIME>::<signature>`` and CSRF tokens ``<HEXTIME>:<43 chars>`` as
in ``PVE::Ticket``; the signature is an HMAC instead of RSA because nobody but the simulator
verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import unquote

from services.pvesim.errors import permission_error
from services.pvesim.tasks import Clock

TICKET_LIFETIME = 2 * 3600
CLOCK_SKEW_GRACE = 300

# Privilege names per category and level, as pve-access-control defines them; the built-in
# roles (PVEAdmin, PVEVMUser, PVEAuditor, ...) are derived from this table the same way.
_PRIVILEGE_GROUPS: dict[str, dict[str, tuple[str, ...]]] = {
    "VM": {
        "root": (),
        "admin": (
            "VM.Config.Disk",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Allocate",
            "VM.Clone",
            "VM.GuestAgent.Unrestricted",
            "VM.Migrate",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        ),
        "user": (
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            "VM.Backup",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.FileWrite",
            "VM.PowerMgmt",
        ),
        "audit": ("VM.Audit", "VM.GuestAgent.Audit"),
    },
    "Sys": {
        "root": ("Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"),
        "admin": ("Sys.Console", "Sys.Syslog"),
        "user": (),
        "audit": ("Sys.Audit",),
    },
    "Datastore": {
        "root": (),
        "admin": ("Datastore.Allocate", "Datastore.AllocateTemplate"),
        "user": ("Datastore.AllocateSpace",),
        "audit": ("Datastore.Audit",),
    },
    "SDN": {
        "root": (),
        "admin": ("SDN.Allocate", "SDN.Audit"),
        "user": ("SDN.Use",),
        "audit": ("SDN.Audit",),
    },
    "User": {
        "root": ("Realm.Allocate",),
        "admin": ("User.Modify", "Group.Allocate", "Realm.AllocateUser"),
        "user": (),
        "audit": (),
    },
    "Pool": {
        "root": (),
        "admin": ("Pool.Allocate",),
        "user": ("Pool.Audit",),
        "audit": ("Pool.Audit",),
    },
    "Mapping": {
        "root": (),
        "admin": ("Mapping.Modify",),
        "user": ("Mapping.Use",),
        "audit": ("Mapping.Audit",),
    },
}


def _builtin_roles() -> dict[str, frozenset[str]]:
    every = {"Permissions.Modify"}
    roles: dict[str, set[str]] = {"NoAccess": set(), "PVEAdmin": set(), "PVEAuditor": set()}
    for category, levels in _PRIVILEGE_GROUPS.items():
        every.update(*levels.values())
        roles[f"PVE{category}Admin"] = {*levels["admin"], *levels["user"], *levels["audit"]}
        roles["PVEAdmin"].update(roles[f"PVE{category}Admin"])
        if levels["user"]:
            roles[f"PVE{category}User"] = {*levels["user"], *levels["audit"]}
        roles["PVEAuditor"].update(levels["audit"])
    roles["PVEAdmin"].discard("Mapping.Modify")
    roles["PVETemplateUser"] = {"VM.Clone", "VM.Audit"}
    roles["Administrator"] = every
    return {name: frozenset(privs) for name, privs in roles.items()}


ROLES = _builtin_roles()
ALL_PRIVILEGES = ROLES["Administrator"]
AUDITOR_PRIVILEGES = ROLES["PVEAuditor"]
# A custom role (``pveum role add``) for the limited token: deploy containers, but no
# VM.Config.CPU, and no SDN.Use or datastore rights of its own.
LIMITED_ROLE = "InfrahausDeploy"
LIMITED_ROLE_PRIVILEGES = frozenset(
    {
        "VM.Allocate",
        "VM.Audit",
        "VM.Console",
        "VM.PowerMgmt",
        "VM.Config.Disk",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
    }
)


@dataclass(frozen=True)
class User:
    userid: str
    password: str
    # The role this user has on ``/`` (propagated); shown in the info file.
    role: str = "NoAccess"

    @property
    def username(self) -> str:
        return self.userid.split("@", 1)[0]

    @property
    def realm(self) -> str:
        return self.userid.split("@", 1)[1]


@dataclass(frozen=True)
class Token:
    """``user@realm!name``; with ``privsep`` its privileges are the user's ∩ its own ACLs."""

    tokenid: str
    secret: str
    privsep: bool

    @property
    def userid(self) -> str:
        return self.tokenid.split("!", 1)[0]


@dataclass(frozen=True)
class AclEntry:
    path: str
    ugid: str  # a userid or a full token id
    role: str
    propagate: bool = True


@dataclass
class Pool:
    comment: str | None = None
    vms: set[int] = field(default_factory=set)
    storage: set[str] = field(default_factory=set)


def normalise_acl_path(path: str) -> str:
    parts = [part for part in path.split("/") if part]
    return "/" + "/".join(parts)


class AccessControl:
    """user.cfg: users, tokens, roles, ACLs and pools, with ``PVE::RPCEnvironment``'s rules."""

    def __init__(self, users: list[User], tokens: list[Token]):
        self.users = {user.userid: user for user in users}
        self.tokens = {token.tokenid: token for token in tokens}
        self.roles: dict[str, frozenset[str]] = dict(ROLES)
        self.acl: list[AclEntry] = [
            AclEntry("/", user.userid, user.role)
            for user in users
            if user.userid != "root@pam" and user.role != "NoAccess"
        ]
        self.pools: dict[str, Pool] = {}

    def pool_of(self, vmid: int) -> str | None:
        return next((name for name, pool in self.pools.items() if vmid in pool.vms), None)

    def _roles(self, ugid: str, path: str) -> dict[str, bool]:
        """``PVE::AccessControl::roles``: the deepest ACL on the way down wins; entries above
        the final path count only if they propagate."""
        parts = [part for part in path.split("/") if part]
        prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        roles: dict[str, bool] = {}
        for depth, prefix in enumerate(prefixes):
            final = depth == len(prefixes) - 1
            here = {
                entry.role: entry.propagate
                for entry in self.acl
                if entry.ugid == ugid and entry.path == prefix and (final or entry.propagate)
            }
            if here:
                roles = here
        return roles

    def _compile(self, ugid: str, path: str) -> dict[str, bool]:
        roles = self._roles(ugid, path)
        if path.startswith("/vms/") and "NoAccess" not in roles:
            vmid = path.removeprefix("/vms/")
            pool = self.pool_of(int(vmid)) if vmid.isdigit() else None
            if pool is not None:
                for role in self._roles(ugid, f"/pool/{pool}"):
                    roles.setdefault(role, False)
        privileges: dict[str, bool] = {}
        for role, propagate in roles.items():
            for privilege in self.roles.get(role, frozenset()):
                privileges[privilege] = privileges.get(privilege, False) or propagate
        return privileges

    def permissions(self, authid: str, path: str) -> dict[str, bool]:
        """``RPCEnvironment::permissions``: privilege -> propagate flag on ``path``."""
        path = normalise_acl_path(path)
        if authid == "root@pam":
            return dict.fromkeys(self.roles["Administrator"], True)
        if "!" in authid:
            token = self.tokens.get(authid)
            if token is None:
                return {}
            user_privileges = self.permissions(token.userid, path)
            if not token.privsep:
                return user_privileges
            own = self._compile(authid, path)
            if token.userid == "root@pam":
                return own
            return {
                priv: user_privileges[priv] and flag
                for priv, flag in own.items()
                if priv in user_privileges
            }
        if authid not in self.users:
            return {}
        return self._compile(authid, path)

    def effective_permissions(self, authid: str) -> dict[str, dict[str, bool]]:
        """``get_effective_permissions``: top-level paths, ACL paths and pool member paths."""
        paths = {"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"}
        paths.update(entry.path for entry in self.acl)
        for pool in self.pools.values():
            paths.update(f"/vms/{vmid}" for vmid in pool.vms)
            paths.update(f"/storage/{storage}" for storage in pool.storage)
        result = {}
        for path in sorted(paths):
            privileges = self.permissions(authid, path)
            if privileges:
                result[path] = privileges
        return result


class Caller:
    """The permission checks of one request (the RPC environment of ``authid``).

    ``Caller.root()`` is ``root@pam`` as ``pct`` on the node runs: every check passes.
    """

    def __init__(self, authid: str, access: AccessControl | None):
        self.authid = authid
        self._access = access

    @classmethod
    def root(cls) -> Caller:
        return cls("root@pam", None)

    @property
    def is_root(self) -> bool:
        return self.authid == "root@pam"

    def permissions(self, path: str) -> dict[str, bool]:
        if self.is_root or self._access is None:
            return dict.fromkeys(ALL_PRIVILEGES, True) if self.is_root else {}
        return self._access.permissions(self.authid, path)

    def check(
        self, path: str, privileges: list[str] | tuple[str, ...], noerr: bool = False
    ) -> bool:
        """All of ``privileges`` on ``path``; else 403 naming the first missing one."""
        granted = self.permissions(path)
        for privilege in privileges:
            if privilege not in granted:
                if noerr:
                    return False
                raise permission_error(f"{path}, {privilege}")
        return True

    def check_any(
        self, path: str, privileges: list[str] | tuple[str, ...], noerr: bool = False
    ) -> bool:
        granted = self.permissions(path)
        if any(privilege in granted for privilege in privileges):
            return True
        if noerr:
            return False
        raise permission_error(f"{path}, {'|'.join(privileges)}")

    def check_vm_perm(
        self, vmid: int, pool: str | None, privileges: list[str] | tuple[str, ...]
    ) -> bool:
        if pool and self.check(f"/pool/{pool}", privileges, noerr=True):
            return True
        return self.check(f"/vms/{vmid}", privileges)


@dataclass(frozen=True)
class Identity:
    """Who made a request: ``authid`` is ``user@realm`` or ``user@realm!tokenid``."""

    authid: str
    via_ticket: bool
    access: AccessControl | None = None

    @property
    def is_token(self) -> bool:
        return "!" in self.authid

    @property
    def is_root(self) -> bool:
        """True only for ``root@pam`` itself; PVE's root-only paths reject its tokens."""
        return self.authid == "root@pam"

    @property
    def caller(self) -> Caller:
        return Caller(self.authid, self.access)


class AuthFailure(Exception):
    """401 with the reason phrase given as the message (body stays empty)."""


class Authenticator:
    """Verifies credentials from the ``Authorization`` header or the ``PVEAuthCookie``."""

    def __init__(self, clock: Clock, access: AccessControl, key: bytes):
        self._clock = clock
        self.access = access
        self.users = access.users
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
        token = self.access.tokens.get(tokenid)
        if token is None or token.userid not in self.users:
            raise AuthFailure("Authentication failed!")
        if not hmac.compare_digest(token.secret.encode(), secret.encode()):
            raise AuthFailure("Authentication failed!")
        return Identity(tokenid, via_ticket=False, access=self.access)

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
        return Identity(userid, via_ticket=True, access=self.access)
