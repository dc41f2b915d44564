"""The import rule of `shared/` (docs/architecture.md, "shared/ layout"), checked on the source.

Each group of `shared/` may import only the groups below it, `shared/` never imports `services`,
and the development helpers stay out of the product processes. A module that breaks the rule
fails here with its name and the import, so the layout cannot drift silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# group -> the groups it may import (itself included)
ALLOWED = {
    "shared.core": {"shared.core"},
    "shared.db": {"shared.core", "shared.db"},
    "shared.adapters": {"shared.core", "shared.adapters"},
    "shared.domain": {"shared.core", "shared.db", "shared.adapters", "shared.domain"},
    "shared.dev": {"shared.core", "shared.dev"},
}
# the operator commands at the top of shared/ (`python -m shared.<name>`)
COMMANDS = {"shared.keys", "shared.pins", "shared.templates"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def group(name: str) -> str | None:
    """The group of a module: `shared.core`, ..., a command, or None outside `shared`."""
    parts = name.split(".")
    if parts[0] != "shared" or len(parts) == 1:
        return None
    top = ".".join(parts[:2])
    return top if top in ALLOWED or top in COMMANDS else f"shared.{parts[1]}"


def sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


def test_the_top_of_shared_holds_only_the_groups_and_the_commands() -> None:
    entries = {
        p.stem if p.suffix == ".py" else p.name
        for p in (ROOT / "shared").iterdir()
        if p.name != "__pycache__" and p.name != "__init__.py"
    }
    groups = {g.split(".")[1] for g in ALLOWED}
    commands = {c.split(".")[1] for c in COMMANDS}
    assert entries == groups | commands


def test_each_group_of_shared_imports_only_what_lies_below_it() -> None:
    broken = []
    for path in sources("shared"):
        me = group(module_name(path))
        for name in imports(path):
            if name.startswith("services"):
                broken.append(f"{module_name(path)} imports {name} (shared never imports services)")
            theirs = group(name)
            if me is None or theirs is None or me in COMMANDS:
                continue
            if theirs not in ALLOWED.get(me, set()):
                broken.append(f"{module_name(path)} ({me}) imports {name} ({theirs})")
    assert broken == []


def test_the_api_and_the_worker_never_import_the_dev_helpers_or_the_commands() -> None:
    broken = [
        f"{module_name(path)} imports {name}"
        for path in sources("services/api", "services/worker", "shared")
        for name in imports(path)
        if (group(name) == "shared.dev" and group(module_name(path)) != "shared.dev")
        or (group(name) in COMMANDS and group(module_name(path)) != group(name))
    ]
    assert broken == []
