"""Generate the Python client: `python -m services.api.clientgen` (make client).

The committed package `infrahaus_client/` is what openapi-python-client (pinned in the `test`
extra) makes from the committed `openapi/openapi.json`, formatted by `ruff --isolated` so that
the project's lint settings never change it. A test regenerates it into a temporary directory
and fails when the committed package differs (Python files by syntax tree: layout aside).
The package is only rewritten when something differs, so running it twice changes nothing.

`--check` compares instead of writing (exit 1 and the differing files when stale).
"""

from __future__ import annotations

import ast
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi" / "openapi.json"
CONFIG_PATH = ROOT / "openapi" / "client-config.yaml"
PACKAGE_DIR = ROOT / "infrahaus_client"
GENERATE_COMMAND = "make client  (or: .venv/bin/python -m services.api.clientgen)"
# ruff outside the project's configuration: one style for generated code, whatever pyproject says
_RUFF = [sys.executable, "-m", "ruff"]
_RUFF_STYLE = ["--isolated", "--line-length", "100", "--target-version", "py311"]


def _tool(name: str) -> str:
    """The generator next to this interpreter (the venv's), else on PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(
            f"{name} is not installed; install the test extra: pip install -e '.[test]'"
        )
    return found


def generate(out_dir: Path, spec: Path = SPEC_PATH) -> Path:
    """Generate the package into `out_dir/infrahaus_client` and return that path."""
    target = out_dir / "infrahaus_client"
    # fmt: skip: an argv reads as its options and their values, not one word a line
    subprocess.run(
        [_tool("openapi-python-client"), "generate", "--path", str(spec), "--meta", "none",
         "--config", str(CONFIG_PATH), "--output-path", str(target), "--overwrite"],
        check=True, capture_output=True, text=True, cwd=out_dir,
    )  # fmt: skip
    (target / "py.typed").touch()
    # unused imports out, imports sorted, then one formatting pass
    # fmt: skip: an argv reads as its options and their values, not one word a line
    subprocess.run(
        [*_RUFF, "check", *_RUFF_STYLE, "--select", "F401,I", "--fix", "--quiet", "--exit-zero",
         str(target)],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([*_RUFF, "format", *_RUFF_STYLE, "--quiet", str(target)], check=True)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache)
    return target


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _same(a: Path, b: Path) -> bool:
    """Equal files; Python modules are compared by their syntax trees, so a ruff release that
    lays code out differently does not make the committed client "stale"."""
    if filecmp.cmp(a, b, shallow=False):
        return True
    if a.suffix != ".py":
        return False
    try:
        return ast.dump(ast.parse(a.read_text())) == ast.dump(ast.parse(b.read_text()))
    except SyntaxError:
        return False


def differences(generated: Path, committed: Path = PACKAGE_DIR) -> list[str]:
    """Relative paths that are missing, extra or different in `committed`."""
    new, old = _files(generated), _files(committed) if committed.exists() else set()
    changed = [name for name in sorted(new & old) if not _same(generated / name, committed / name)]
    return sorted(new ^ old) + changed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with tempfile.TemporaryDirectory(prefix="infrahaus-client-") as scratch:
        fresh = generate(Path(scratch))
        diff = differences(fresh)
        if "--check" in argv:
            if diff:
                print("infrahaus_client/ is stale:", *diff, sep="\n  ", file=sys.stderr)
                print(f"regenerate it with: {GENERATE_COMMAND}", file=sys.stderr)
                return 1
            return 0
        if not diff:
            print("infrahaus_client/ is up to date", file=sys.stderr)
            return 0
        shutil.rmtree(PACKAGE_DIR, ignore_errors=True)
        shutil.copytree(fresh, PACKAGE_DIR)
        print(f"wrote {PACKAGE_DIR} ({len(diff)} files changed)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
