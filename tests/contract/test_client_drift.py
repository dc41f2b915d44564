"""The committed Python client (`infrahaus_client/`) is what the committed spec generates."""

from __future__ import annotations

from pathlib import Path

from services.api.clientgen import GENERATE_COMMAND, differences, generate


def test_committed_client_matches_the_committed_spec(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    stale = differences(fresh)
    assert not stale, (
        f"infrahaus_client/ differs from what openapi/openapi.json generates in {stale[:10]}"
        f"{' …' if len(stale) > 10 else ''}; regenerate it with: {GENERATE_COMMAND}"
    )


def test_the_client_covers_every_operation() -> None:
    import json

    from services.api.clientgen import PACKAGE_DIR, SPEC_PATH

    spec = json.loads(SPEC_PATH.read_text())
    modules = {p.stem for p in (PACKAGE_DIR / "api").rglob("*.py") if p.stem != "__init__"}
    for path in spec["paths"].values():
        for operation in path.values():
            op_id = operation["operationId"]
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in op_id).lstrip("_")
            assert snake in modules, f"{op_id} has no module in infrahaus_client/api"
