"""Templates and buckets as plain values: what the API and the discovery hand to the services.

A `TemplateSpec` is the whole of a template except its identity and bookkeeping; two specs are
equal exactly when the stored templates would be the same, which is how an update (or a
discovery run) knows whether anything changed and the revision must move. Its settings are not
listed here: they are the columns of the `Template` model (see `SETTINGS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import inspect as sa_inspect

from shared.db.models import Template
from shared.domain.templates import rules


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


# Of the `Template` columns, these are its identity and bookkeeping (and `name`, a field of the
# spec of its own); every other column is one of the template's settings. A new column is a new
# setting without being listed anywhere else.
_NOT_SETTINGS = frozenset({"id", "name", "revision", "source", "created_at", "updated_at"})
SETTINGS: tuple[str, ...] = tuple(
    column.key for column in sa_inspect(Template).column_attrs if column.key not in _NOT_SETTINGS
)
_SUB_LISTS = ("scripts", "files", "packages")


def settings_of(row: Any) -> dict[str, Any]:
    """A template row's settings (the model's columns named in `SETTINGS`)."""
    return {name: getattr(row, name) for name in SETTINGS}


@dataclass(frozen=True)
class TemplateSpec:
    """`settings` holds the template's own values (cores, memory, tags, ...) by column name; a
    setting left out keeps the stored value, or the column's default on a new template."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    scripts: tuple[ScriptSpec, ...] = ()
    files: tuple[FileSpec, ...] = ()
    packages: tuple[PackageSpec, ...] = ()

    def values(self) -> dict[str, Any]:
        """Every value by field name (`name`, each setting, the sub-lists): what `with_values`
        takes."""
        return {
            "name": self.name,
            **self.settings,
            **{sub_list: getattr(self, sub_list) for sub_list in _SUB_LISTS},
        }

    def with_values(self, values: Mapping[str, Any]) -> TemplateSpec:
        """This spec with `values` (by field name, as `values()` gives them) replaced."""
        own = {key: value for key, value in values.items() if key == "name" or key in _SUB_LISTS}
        settings = {key: value for key, value in values.items() if key not in own}
        unknown = sorted(settings.keys() - set(SETTINGS))
        if unknown:
            raise ValueError(f"not a template setting: {', '.join(unknown)}")
        return replace(self, **own, settings={**self.settings, **settings})

    def normalized(self) -> TemplateSpec:
        """Canonical form: lists as tuples, tags de-duplicated, modes four digits, sub-lists in a
        fixed order."""
        settings = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in self.settings.items()
        }
        if "tags" in settings:
            settings["tags"] = tuple(dict.fromkeys(settings["tags"]))
        return replace(
            self,
            settings=settings,
            scripts=tuple(sorted(self.scripts, key=lambda s: (s.order, s.name))),
            files=tuple(
                sorted(
                    (replace(f, mode=rules.normalize_mode(f.mode)) for f in self.files),
                    key=lambda f: f.name,
                )
            ),
            packages=tuple(sorted(merge_packages(self.packages), key=lambda p: p.key)),
        )


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
