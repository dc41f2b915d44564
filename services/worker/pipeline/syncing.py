"""Phase 4: packages by manager, then the template's scripts in order.

- apt: `DEBIAN_FRONTEND=noninteractive`, one `update`, waits for dpkg's lock and tries again
  when another apt holds it.
- pip: Debian 12 and Ubuntu 24.04 refuse a system-wide `pip install` (PEP 668), so pip
  packages go into one virtual environment, `/opt/infrahaus/venv` (python3-venv comes from apt);
  scripts find its programs under `/opt/infrahaus/venv/bin`.
- npm: `npm install -g` (npm comes from apt).
- Scripts: the helper library is pushed first and loaded into every script through
  `BASH_ENV`; each output line is a `log` event naming the script; a non-zero exit fails the
  build, naming the script and its exit code.
"""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from typing import Any

from services.worker.pipeline.build import Build, BuildFailed
from shared.core.lifecycle import EventType, Phase
from shared.domain import events
from shared.domain.templates.specs import PackageSpec

LIBRARY_PATH = "/usr/local/lib/infrahaus/build-lib.sh"
SCRIPTS_DIR = "/var/lib/infrahaus/scripts"
VENV = "/opt/infrahaus/venv"
_APT_LOCK_TRIES = 3
_APT_LOCK_WAIT_SECONDS = 5.0
_PACKAGE_LIMIT_SECONDS = 1800.0
_SCRIPT_LIMIT_SECONDS = 3600.0

_APT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=120 update -q
apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends "$@"
"""
_PIP = rf"""
set -eu
[ -x {VENV}/bin/pip ] || python3 -m venv {VENV}
{VENV}/bin/pip install --disable-pip-version-check --no-input -q "$@"
"""
_NPM = r"""
set -eu
npm install -g --no-fund --no-audit "$@"
"""


def _pinned(package: PackageSpec) -> str:
    if not package.version:
        return package.name
    separator = {"apt": "=", "pip": "==", "npm": "@"}[package.manager]
    return f"{package.name}{separator}{package.version}"


def package_plan(packages: list[PackageSpec]) -> dict[str, list[str]]:
    """Arguments per manager, with what pip and npm themselves need added to apt's list."""
    by_manager: dict[str, list[str]] = {"apt": [], "pip": [], "npm": []}
    for package in packages:
        by_manager[package.manager].append(_pinned(package))
    if by_manager["pip"]:
        by_manager["apt"] += [n for n in ("python3", "python3-venv") if n not in by_manager["apt"]]
    if by_manager["npm"] and "npm" not in by_manager["apt"]:
        by_manager["apt"].append("npm")
    return by_manager


async def run(build: Build) -> None:
    assert build.plan is not None
    plan = package_plan(build.plan.packages)
    total = sum(len(v) for v in plan.values())
    await build.step(f"Installing {total} package(s)")
    for manager, script in (("apt", _APT), ("pip", _PIP), ("npm", _NPM)):
        if plan[manager]:
            await build.check_cancel()
            await _install(build, manager, script, plan[manager])
    await run_scripts(build)
    await build.checkpoint(Phase.SYNCING, "Packages and scripts done")


async def _install(build: Build, manager: str, script: str, names: list[str]) -> None:
    await build.step(f"{manager}: installing {', '.join(names)}", 0.1, manager=manager)
    for attempt in range(1, _APT_LOCK_TRIES + 1):
        sink = build.lines(manager=manager)
        status = await build.pct().stream(
            script, *names, on_line=sink, limit_seconds=_PACKAGE_LIMIT_SECONDS
        )
        if status == 0:
            return
        locked = "Could not get lock" in sink.last_lines()
        if manager == "apt" and locked and attempt < _APT_LOCK_TRIES:
            await build.log(f"apt is busy (another apt holds its lock); trying again ({attempt})")
            await asyncio.sleep(_APT_LOCK_WAIT_SECONDS)
            continue
        raise BuildFailed(
            f"{manager} install {_ended(status, _PACKAGE_LIMIT_SECONDS)}:"
            f" {sink.last_lines() or 'no output'}"
        )


def _scripts(build: Build) -> list[Any]:
    template = build.plan.template if build.plan else None
    if template is None:
        return []
    chosen = [s for s in template.scripts if s.enabled]
    if build.request.scripts is not None:
        wanted = set(build.request.scripts)
        unknown = wanted - {s.name for s in template.scripts}
        if unknown:
            raise BuildFailed(f"the template has no script named {', '.join(sorted(unknown))}")
        chosen = [s for s in template.scripts if s.name in wanted]
    return chosen


async def run_scripts(build: Build) -> None:
    scripts = _scripts(build)
    if not scripts:
        return
    pct = build.pct()
    library = resources.files(__package__).joinpath("build-lib.sh").read_bytes()
    await pct.push(library, LIBRARY_PATH, mode="0644", user="root", group="root")
    total = len(scripts)
    for index, script in enumerate(scripts, start=1):
        await build.check_cancel()
        path = f"{SCRIPTS_DIR}/{_file_name(index, script.name)}"
        await build.emit(
            _script_step(
                build, f"Running script {index}/{total}: {script.name}", index, total, script.name
            )
        )
        await pct.push(script.content.encode(), path, mode="0700", user="root", group="root")
        sink = build.lines(name=script.name, index=index, total=total)
        status = await pct.stream(
            'exec bash "$1"',
            path,
            on_line=sink,
            limit_seconds=_SCRIPT_LIMIT_SECONDS,
            env={"BASH_ENV": LIBRARY_PATH, "INFRAHAUS_SCRIPT": script.name},
        )
        if status != 0:
            raise BuildFailed(
                f"script {script.name!r} ({index}/{total}) {_ended(status, _SCRIPT_LIMIT_SECONDS)}"
                + (f": {sink.last_lines()}" if sink.last_lines() else "")
            )


def _script_step(
    build: Build, message: str, index: int, total: int, name: str
) -> events.EventDraft:
    low, high = Phase.SYNCING.percent_range
    percent = round(low + (high - low) * (0.3 + 0.7 * (index - 1) / total))
    return events.EventDraft(
        type=EventType.STEP,
        step=Phase.SYNCING,
        percent=percent,
        message=message,
        script_name=name,
        script_index=index,
        script_total=total,
    )


def _ended(status: int, limit_seconds: float) -> str:
    """How a command ended, in words: the node's `timeout` exits 124 (137 after its SIGKILL)."""
    if status in (124, 137):
        return f"timed out after {limit_seconds:g} s"
    return f"failed with exit code {status}"


def _file_name(index: int, name: str) -> str:
    # Script names are already safe file names (templates' rules); keep them readable anyway.
    return f"{index:03d}-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)
