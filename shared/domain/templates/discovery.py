"""Filesystem discovery: read `TEMPLATES_DIR` and bring the stored templates in line with it.

Layout, one directory per template (see docs/templates.md):

    <template>/template.conf           TEMPLATE_* = value lines (bash syntax, no commands)
    <template>/scripts/NN-name.sh      run in NN order
    <template>/packages/<bucket>.apt   one package per line, `#` comments (.pip, .npm likewise)
    <template>/files/<name>            pushed to the directory in <name>.path,
    <template>/files/<name>.path         with <name>.policy (replace|default|backup),
    <template>/files/<name>.policy       <name>.mode and <name>.owner optional

Reading the directory (`scan`) is pure and synchronous; `sync` writes the result. Each template
is checked whole before anything is written, and written in its own savepoint, so a broken one
is reported and the others still sync. A template is written only when it differs from the
stored one, so running discovery again reports it `unchanged`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import stat
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.core.errors import DomainError
from shared.domain import audit
from shared.domain.templates import rules
from shared.domain.templates.service import BucketService, TemplateService
from shared.domain.templates.specs import (
    BucketSpec,
    FileSpec,
    PackageSpec,
    ScriptSpec,
    TemplateSpec,
)

CONF_FILE = "template.conf"
# Serializes discovery runs across API replicas (a transaction-scoped advisory lock).
_LOCK_KEY = 0x1F_7E_3A_11

_CONF_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_DEFAULT_EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}")
_SCRIPT_FILE = re.compile(r"(\d{1,4})-[A-Za-z0-9][A-Za-z0-9._-]*\.sh")
_BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_FILE_SIDECARS = (".path", ".policy", ".mode", ".owner")


class TemplateError(Exception):
    """What is wrong with one template directory; `str()` names the file and the problem."""


@dataclass
class DiscoveredTemplate:
    directory: str
    spec: TemplateSpec
    buckets: list[BucketSpec] = field(default_factory=list)


@dataclass
class DiscoveryError:
    template: str
    error: str


@dataclass
class Scan:
    discovered: int = 0  # template directories seen, good or broken
    templates: list[DiscoveredTemplate] = field(default_factory=list)
    errors: list[DiscoveryError] = field(default_factory=list)


@dataclass
class DiscoveryReport:
    discovered: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[DiscoveryError] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------


def parse_conf(text: str) -> dict[str, str]:
    """`KEY=value` lines as bash would assign them, without running anything.

    Values may be quoted ('...' or "..."); `${VAR:-default}` (or `${VAR-default}`) stands for
    its default, since discovery has no environment to take VAR from. Any other expansion or
    command substitution is refused rather than guessed.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _CONF_LINE.fullmatch(line)
        if match is None:
            raise TemplateError(f"{CONF_FILE} line {number}: not a KEY=value assignment")
        key, value = match.group(1), _unquote(match.group(2).strip(), number)
        value = _DEFAULT_EXPANSION.sub(lambda m: m.group(2), value)
        if "$" in value or "`" in value:
            raise TemplateError(
                f"{CONF_FILE} line {number}: only ${{VAR:-default}} expansions are supported"
            )
        values[key] = value
    return values


def _unquote(value: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        if end == -1:
            raise TemplateError(f"{CONF_FILE} line {number}: unterminated {quote} quote")
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise TemplateError(f"{CONF_FILE} line {number}: text after the closing quote")
        return value[1:end]
    value = value.split(" #", 1)[0].strip()
    if any(ch.isspace() for ch in value):
        raise TemplateError(f"{CONF_FILE} line {number}: quote values that contain spaces")
    return value


def spec_from_conf(directory: str, conf: dict[str, str]) -> TemplateSpec:
    """The template's own settings from `template.conf`, checked against the API's rules."""

    def text(key: str, default: str) -> str:
        return conf.get(f"TEMPLATE_{key}", default).strip() or default

    def number(key: str, default: int, bounds: tuple[int, int]) -> int:
        raw = text(key, str(default))
        if not raw.isdigit() or not bounds[0] <= int(raw) <= bounds[1]:
            raise TemplateError(
                f"{CONF_FILE}: TEMPLATE_{key}={raw!r} is not a number from "
                f"{bounds[0]} to {bounds[1]}"
            )
        return int(raw)

    def flag(key: str, default: bool) -> bool:
        raw = text(key, "1" if default else "0").lower()
        if raw not in _BOOLEANS:
            raise TemplateError(f"{CONF_FILE}: TEMPLATE_{key}={raw!r} is not 0 or 1")
        return _BOOLEANS[raw]

    name = text("APP", directory)
    if len(name) > rules.NAME_MAX or not rules.matches(rules.TEMPLATE_NAME, name):
        raise TemplateError(
            f"{CONF_FILE}: TEMPLATE_APP must be 1-{rules.NAME_MAX} printable characters"
        )
    description = conf.get("TEMPLATE_DESCRIPTION", "").strip()
    if len(description) > rules.DESCRIPTION_MAX or "\x00" in description:
        raise TemplateError(
            f"{CONF_FILE}: TEMPLATE_DESCRIPTION is longer than {rules.DESCRIPTION_MAX} characters"
        )
    tags = [tag.strip() for tag in conf.get("TEMPLATE_TAGS", "").split(";") if tag.strip()]
    for tag in tags:
        if not rules.matches(rules.TAG, tag):
            raise TemplateError(f"{CONF_FILE}: TEMPLATE_TAGS: {tag!r} is not a valid tag")
    if len(tags) > rules.TAGS_MAX:
        raise TemplateError(f"{CONF_FILE}: more than {rules.TAGS_MAX} tags")
    os_template = f"{text('OS', 'debian')}-{text('VERSION', '12')}-standard"
    if not rules.matches(rules.OS_TEMPLATE, os_template):
        raise TemplateError(
            f"{CONF_FILE}: TEMPLATE_OS/TEMPLATE_VERSION: not an OS name and version"
        )
    memory = number("RAM", 512, rules.MEMORY_MB)
    # A setting without a TEMPLATE_* key here takes the column's default on a new template.
    settings = {
        "description": description,
        "os_template": os_template,
        "cores": number("CPU", 1, rules.CORES),
        "memory": memory,
        "swap": number("SWAP", min(memory, rules.SWAP_MB[1]), rules.SWAP_MB),
        "disk": number("DISK", 8, rules.DISK_GB),
        "storage": "local-lvm",
        "bridge": "vmbr0",
        "unprivileged": flag("UNPRIVILEGED", True),
        "nesting": flag("NESTING", False),
        "keyctl": flag("KEYCTL", False),
        "fuse": flag("FUSE", False),
        "tags": tuple(tags),
    }
    return TemplateSpec(name=name, settings=settings)


def _check_inside(path: Path, root: Path) -> None:
    """No symbolic link on the way from the template's directory to `path`, and nothing that
    resolves outside it: a link in TEMPLATES_DIR would publish any file the service can read
    (its keys, /etc/shadow) as template content."""
    where = path.relative_to(root)
    current = root
    for part in where.parts:
        current = current / part
        if current.is_symlink():
            raise TemplateError(
                f"{current.relative_to(root)}: is a symbolic link; discovery reads no links"
            )
    if not path.resolve().is_relative_to(root.resolve()):
        raise TemplateError(f"{where}: resolves outside the template's directory")


def _read_text(path: Path, root: Path) -> str:
    where = path.relative_to(root)
    _check_inside(path, root)
    try:
        # O_NOFOLLOW: a link swapped in after the check is refused by the kernel, not read
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TemplateError(f"{where}: is a symbolic link; discovery reads no links") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise TemplateError(f"{where}: not a regular file")
        if info.st_size > 4 * rules.CONTENT_MAX:
            raise TemplateError(f"{where}: larger than {rules.CONTENT_MAX} characters")
        raw = handle.read(4 * rules.CONTENT_MAX + 1)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateError(f"{where}: not UTF-8 text") from None
    if len(content) > rules.CONTENT_MAX:
        raise TemplateError(f"{where}: larger than {rules.CONTENT_MAX} characters")
    if "\x00" in content:
        raise TemplateError(f"{where}: contains a NUL character")
    return content


def _entries(directory: Path) -> list[Path]:
    """Files in `directory`, by name; hidden files are ignored. Links are listed (and refused
    when read), and a linked directory is refused outright."""
    if directory.is_symlink():
        raise TemplateError(f"{directory.name}: is a symbolic link; discovery reads no links")
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if (p.is_symlink() or p.is_file()) and not p.name.startswith(".")
    )


def read_scripts(root: Path) -> list[ScriptSpec]:
    scripts = []
    for path in _entries(root / "scripts"):
        if not path.name.endswith(".sh"):
            continue
        match = _SCRIPT_FILE.fullmatch(path.name)
        if match is None or len(path.name) > rules.NAME_MAX:
            raise TemplateError(
                f"scripts/{path.name}: script names look like NN-name.sh "
                "(NN a number, then letters, digits, '.', '_' or '-')"
            )
        content = _read_text(path, root)
        scripts.append(ScriptSpec(name=path.name, order=int(match.group(1)), content=content))
    return scripts


def parse_package_line(manager: str, line: str) -> PackageSpec:
    """`name`, or with a version: `name=1.2` (apt), `name==1.2` (pip), `name@1.2` (npm)."""
    name, version = line, None
    if manager == "apt" and "=" in line:
        name, version = line.split("=", 1)
    elif manager == "pip" and "==" in line:
        name, version = line.split("==", 1)
    elif manager == "npm" and "@" in line[1:]:
        at = line.index("@", 1)
        name, version = line[:at], line[at + 1 :]
    name = name.strip()
    version = version.strip() if version is not None else None
    if len(name) > rules.PACKAGE_NAME_MAX or not rules.matches(rules.PACKAGE_NAME[manager], name):
        raise TemplateError(f"{name!r} is not a valid {manager} package name")
    if version is not None and not rules.matches(rules.PACKAGE_VERSION, version):
        raise TemplateError(f"{version!r} is not a valid version of {name}")
    return PackageSpec(name=name, manager=manager, version=version)


def read_buckets(root: Path, template: str) -> list[BucketSpec]:
    """`packages/<bucket>.<manager>` files; one bucket may span managers (base.apt, base.pip).

    Discovered buckets are named `<template>/<bucket>`: bucket names are global, and two
    templates may both have a `base` list with different contents.
    """
    buckets: dict[str, BucketSpec] = {}
    for path in _entries(root / "packages"):
        stem, _, manager = path.name.rpartition(".")
        if manager not in rules.PACKAGE_MANAGERS:
            continue
        if not rules.matches(rules.SAFE_FILE_NAME, stem):
            raise TemplateError(f"packages/{path.name}: not a valid bucket file name")
        bucket = buckets.setdefault(stem, BucketSpec(name=f"{template}/{stem}"))
        for number, raw in enumerate(_read_text(path, root).splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()  # `#` is in no manager's package names
            if not line:
                continue
            try:
                bucket.packages.append(parse_package_line(manager, line))
            except TemplateError as exc:
                raise TemplateError(f"packages/{path.name} line {number}: {exc}") from None
    for bucket in buckets.values():
        if len(bucket.name) > rules.NAME_MAX:
            raise TemplateError(f"bucket name {bucket.name!r} is too long")
    return list(buckets.values())


def read_files(root: Path) -> list[FileSpec]:
    files_dir = root / "files"
    entries = {p.name: p for p in _entries(files_dir)}
    files = []
    for name, path in entries.items():
        sidecar = next((s for s in _FILE_SIDECARS if name.endswith(s)), None)
        if sidecar is not None:
            if name[: -len(sidecar)] not in entries:
                raise TemplateError(f"files/{name}: there is no file {name[: -len(sidecar)]!r}")
            continue
        if not rules.matches(rules.SAFE_FILE_NAME, name):
            raise TemplateError(f"files/{name}: not a safe file name")

        def sidecar_value(suffix: str, default: str | None, file_name: str = name) -> str | None:
            side = entries.get(file_name + suffix)
            return _read_text(side, root).strip() if side is not None else default

        directory = sidecar_value(".path", None)
        if not directory:
            raise TemplateError(f"files/{name}: {name}.path is missing (the target directory)")
        target = directory.rstrip("/") + "/" + name
        if len(target) > rules.TARGET_PATH_MAX or not rules.matches(rules.TARGET_PATH, target):
            raise TemplateError(
                f"files/{name}.path: {directory!r} is not an absolute, normalized directory"
            )
        policy = sidecar_value(".policy", rules.DEFAULT_POLICY) or rules.DEFAULT_POLICY
        if policy not in rules.FILE_POLICIES:
            raise TemplateError(
                f"files/{name}.policy: {policy!r} is not replace, default or backup"
            )
        mode = sidecar_value(".mode", rules.DEFAULT_MODE) or rules.DEFAULT_MODE
        if not rules.matches(rules.FILE_MODE, mode):
            raise TemplateError(f"files/{name}.mode: {mode!r} is not an octal mode like 0644")
        owner = sidecar_value(".owner", rules.DEFAULT_OWNER) or rules.DEFAULT_OWNER
        if not rules.matches(rules.OWNER, owner):
            raise TemplateError(f"files/{name}.owner: {owner!r} is not user[:group]")
        files.append(
            FileSpec(
                name=name,
                target_path=target,
                content=_read_text(path, root),
                mode=mode,
                owner=owner,
                policy=policy,
            )
        )
    return files


def read_template(root: Path) -> DiscoveredTemplate:
    """One template directory, fully checked; raises `TemplateError` naming the problem."""
    conf_path = root / CONF_FILE
    if not conf_path.is_symlink() and not conf_path.is_file():
        raise TemplateError(f"{CONF_FILE} is missing")
    spec = spec_from_conf(root.name, parse_conf(_read_text(conf_path, root)))
    buckets = read_buckets(root, spec.name)
    scripts = read_scripts(root)
    files = read_files(root)
    for kind, count, limit in (
        ("scripts", len(scripts), rules.ITEMS_MAX),
        ("files", len(files), rules.ITEMS_MAX),
        ("packages", sum(len(b.packages) for b in buckets), rules.PACKAGES_MAX),
    ):
        if count > limit:
            raise TemplateError(f"more than {limit} {kind}")
    packages = tuple(p for bucket in buckets for p in bucket.packages)
    spec = replace(spec, scripts=tuple(scripts), files=tuple(files), packages=packages)
    return DiscoveredTemplate(directory=root.name, spec=spec.normalized(), buckets=buckets)


def scan(templates_dir: Path) -> Scan:
    """Every sub-directory of `templates_dir` is a template; hidden ones are skipped."""
    result = Scan()
    try:
        roots = sorted(p for p in templates_dir.iterdir() if p.is_dir() or p.is_symlink())
    except OSError as exc:
        problem = (
            "is not a directory"
            if isinstance(exc, (FileNotFoundError, NotADirectoryError))
            else f"cannot be read ({exc.strerror})"
        )
        result.errors.append(
            DiscoveryError(template=str(templates_dir), error=f"TEMPLATES_DIR {problem}")
        )
        return result
    for root in roots:
        if root.name.startswith("."):
            continue
        result.discovered += 1
        try:
            if root.is_symlink():
                raise TemplateError(
                    "the template's directory is a symbolic link; discovery reads no links"
                )
            result.templates.append(read_template(root))
        except (TemplateError, OSError) as exc:
            result.errors.append(DiscoveryError(template=root.name, error=str(exc)))
    names: dict[str, str] = {}
    for found in list(result.templates):
        other = names.setdefault(found.spec.name, found.directory)
        if other != found.directory:
            result.templates.remove(found)
            result.errors.append(
                DiscoveryError(
                    template=found.directory,
                    error=f"TEMPLATE_APP {found.spec.name!r} is also used by {other}",
                )
            )
    return result


# -- writing ---------------------------------------------------------------------------------


async def sync(
    session: AsyncSession, found: Scan, actor: uuid.UUID | None = None
) -> DiscoveryReport:
    """Write a scan: create or update each template (and its buckets), then commit once,
    with one audit row naming what changed (`actor`: who ran it; None for the CLI)."""
    report = DiscoveryReport(discovered=found.discovered, errors=list(found.errors))
    await session.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
    templates, buckets = TemplateService(session), BucketService(session)
    for item in found.templates:
        try:
            async with session.begin_nested():
                outcome = await _sync_one(templates, buckets, item)
        except DomainError as exc:
            report.errors.append(DiscoveryError(template=item.directory, error=exc.message))
            continue
        getattr(report, outcome).append(item.spec.name)
    if report.created or report.updated or report.errors:
        audit.record(
            session, user_id=actor, action="template.discover", target_type="template",
            outcome="failure" if report.errors and not (report.created or report.updated)
            else "success",
            created=report.created[:50], updated=report.updated[:50], errors=len(report.errors),
        )  # fmt: skip
    await session.commit()
    report.errors.sort(key=lambda e: e.template)
    return report


async def _sync_one(
    templates: TemplateService, buckets: BucketService, item: DiscoveredTemplate
) -> str:
    # The buckets are kept for reuse by other templates; this template already holds a copy
    # of their packages (`item.spec.packages`).
    for spec in item.buckets:
        bucket = await buckets.find_by_name(spec.name)
        if bucket is None:
            await buckets.create_in_transaction(spec)
        else:
            await buckets.update_in_transaction(
                bucket, {"description": spec.description, "packages": spec.packages}
            )
    existing = await templates.find_by_name(item.spec.name)
    if existing is None:
        await templates.create_in_transaction(item.spec, source="filesystem")
        return "created"
    if existing.source != "filesystem":
        raise DomainError(
            f"a template named {item.spec.name!r} was created through the API; "
            "rename the directory's TEMPLATE_APP or the stored template"
        )
    changed = await templates.update_in_transaction(existing, item.spec.values())
    return "updated" if changed else "unchanged"


async def discover(
    session: AsyncSession, templates_dir: Path, actor: uuid.UUID | None = None
) -> DiscoveryReport:
    """Scan (in a worker thread: it is file I/O) and sync."""
    found = await asyncio.to_thread(scan, templates_dir)
    return await sync(session, found, actor)
