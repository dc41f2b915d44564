"""Who may change the shared template library (`TEMPLATE_EDITORS`).

Templates and package buckets are one library for every user of the instance, and a template's
scripts run as root in every container built from it. Reading templates and building from them
is open to every logged-in user; creating, changing and deleting templates and buckets, and
running discovery, is for the users this setting names:

- `user@realm`: that Proxmox user (e.g. `root@pam`), on any host in `PVE_ALLOWED_HOSTS`;
- `@realm`: every user of that realm (e.g. `@admins`);
- `*`: everyone (the library is as open as it was before the setting existed).

The default is `root@pam`: the account that already is root on the nodes.
"""

from __future__ import annotations

import functools


class TemplateEditors:
    def __init__(self, spec: str) -> None:
        self.everyone = False
        self.users: set[str] = set()
        self.realms: set[str] = set()
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            if entry == "*":
                self.everyone = True
            elif entry.startswith("@"):
                self.realms.add(entry[1:])
            else:
                self.users.add(entry)

    def allows(self, userid: str) -> bool:
        """`userid` is PVE's `user@realm` of the session; compared exactly, as PVE does."""
        if self.everyone:
            return True
        return userid.rpartition("@")[2] in self.realms or userid in self.users


@functools.lru_cache(maxsize=8)
def template_editors(spec: str) -> TemplateEditors:
    return TemplateEditors(spec)
