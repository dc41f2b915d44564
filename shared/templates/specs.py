"""Templates and buckets as plain values: what the API and the discovery hand to the services.

A `TemplateSpec` is the whole of a template except its identity and bookkeeping; two specs are
equal exactly when the stored templates would be the same, which is how an update (or a
discovery run) knows whether anything changed and the revision must move.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from shared.templates import rules


@dataclass(frozen=True)
class ScriptSpec:
    name: str
    order: int
    content: str
    enabled: bool = True


@dataclass(frozen=True)
class FileSpec:
    name: str
    target_path: str
    content: str
    mode: str = rules.DEFAULT_MODE
    owner: str = rules.DEFAULT_OWNER
    policy: str = rules.DEFAULT_POLICY


@dataclass(frozen=True)
class PackageSpec:
    name: str
    manager: str
    version: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.manager, self.name)


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    description: str = ""
    os_template: str = "debian-12-standard"
    cores: int = 1
    memory: int = 512
    swap: int = 512
    disk: int = 8
    storage: str = "local-lvm"
    bridge: str = "vmbr0"
    unprivileged: bool = True
    nesting: bool = False
    keyctl: bool = False
    fuse: bool = False
    tags: tuple[str, ...] = ()
    scripts: tuple[ScriptSpec, ...] = ()
    files: tuple[FileSpec, ...] = ()
    packages: tuple[PackageSpec, ...] = ()

    def normalized(self) -> TemplateSpec:
        """Canonical form: tags de-duplicated, modes four digits, sub-lists in a fixed order."""
        return replace(
            self,
            tags=tuple(dict.fromkeys(self.tags)),
            scripts=tuple(sorted(self.scripts, key=lambda s: (s.order, s.name))),
            files=tuple(
                sorted(
                    (replace(f, mode=rules.normalize_mode(f.mode)) for f in self.files),
                    key=lambda f: f.name,
                )
            ),
            packages=tuple(sorted(merge_packages(self.packages), key=lambda p: p.key)),
        )


# The template's own values (not its sub-lists), read off TemplateSpec itself: a new field is
# declared on TemplateSpec (and the model and the API schema), never listed again here.
_SUB_LISTS = frozenset({"scripts", "files", "packages"})
SCALAR_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(TemplateSpec) if f.name not in _SUB_LISTS
)


def scalar_values(source: object) -> dict[str, Any]:
    """The TemplateSpec scalars of anything that has them as attributes (a Template row, an
    API body), tags as a tuple."""
    values = {name: getattr(source, name) for name in SCALAR_FIELDS}
    values["tags"] = tuple(values["tags"])
    return values


def merge_packages(*groups: Iterable[PackageSpec]) -> list[PackageSpec]:
    """One package per (manager, name); the first occurrence wins, so a template's own entry
    (with its version) beats the same package coming from a bucket."""
    merged: dict[tuple[str, str], PackageSpec] = {}
    for group in groups:
        for package in group:
            merged.setdefault(package.key, package)
    return list(merged.values())


@dataclass
class BucketSpec:
    name: str
    description: str = ""
    packages: list[PackageSpec] = field(default_factory=list)
