"""Extract the schema entries of the simulated endpoints from the official ``apidata.json``.

The simulator validates request parameters exactly like PVE does, so it needs the official
parameter definitions. The full schema is 2 MB; this script keeps only the methods the simulator
serves and writes them to ``services/pvesim/schema.json``. Re-run it when the schema is updated:

    python -m services.pvesim.tools.extract_schema ../shared/pve-api/apidata.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SIMULATED_METHODS: dict[str, tuple[str, ...]] = {
    "/version": ("GET",),
    "/access/ticket": ("POST",),
    "/nodes": ("GET",),
    "/nodes/{node}/status": ("GET",),
    "/nodes/{node}/network": ("GET",),
    "/nodes/{node}/storage": ("GET",),
    "/nodes/{node}/storage/{storage}/content": ("GET",),
    "/nodes/{node}/tasks": ("GET",),
    "/nodes/{node}/tasks/{upid}": ("DELETE",),
    "/nodes/{node}/tasks/{upid}/status": ("GET",),
    "/nodes/{node}/tasks/{upid}/log": ("GET",),
    "/nodes/{node}/lxc": ("GET", "POST"),
    "/nodes/{node}/lxc/{vmid}": ("GET", "DELETE"),
    "/nodes/{node}/lxc/{vmid}/config": ("GET", "PUT"),
    "/nodes/{node}/lxc/{vmid}/interfaces": ("GET",),
    "/nodes/{node}/lxc/{vmid}/status/current": ("GET",),
    "/nodes/{node}/lxc/{vmid}/status/start": ("POST",),
    "/nodes/{node}/lxc/{vmid}/status/stop": ("POST",),
    "/nodes/{node}/lxc/{vmid}/status/shutdown": ("POST",),
    "/nodes/{node}/lxc/{vmid}/status/reboot": ("POST",),
    "/cluster/resources": ("GET",),
    "/cluster/nextid": ("GET",),
    "/access/permissions": ("GET",),
    "/pools": ("GET", "POST"),
    "/pools/{poolid}": ("GET",),
}

# Documentation-only keys that the validator never reads; dropping them keeps the file small.
_DROPPED_KEYS = {"description", "verbose_description", "typetext", "format_description"}

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "schema.json"


def _strip(value: object, names_map: bool = False) -> object:
    """Drop documentation keys from schema objects; ``names_map`` marks a name -> schema map
    (``properties`` or a property-string ``format``) whose keys are parameter names to keep."""
    if isinstance(value, dict):
        if names_map:
            return {k: _strip(v) for k, v in value.items()}
        return {
            k: _strip(v, names_map=k in ("properties", "format") and isinstance(v, dict))
            for k, v in value.items()
            if k not in _DROPPED_KEYS
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _index_paths(nodes: list[dict], index: dict[str, dict]) -> None:
    for node in nodes:
        index[node["path"]] = node
        _index_paths(node.get("children", []), index)


def extract(apidata: list[dict]) -> dict[str, dict]:
    """Return ``{"METHOD /path": {parameters, permissions, allowtoken, protected}}``."""
    index: dict[str, dict] = {}
    _index_paths(apidata, index)
    result: dict[str, dict] = {}
    for path, methods in SIMULATED_METHODS.items():
        for method in methods:
            info = index[path]["info"][method]
            result[f"{method} {path}"] = {
                "parameters": _strip(info.get("parameters", {})),
                "permissions": info.get("permissions", {}),
                "allowtoken": info.get("allowtoken", 1),
                "protected": info.get("protected", 0),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apidata", type=Path, help="path to apidata.json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    extracted = extract(json.loads(args.apidata.read_text()))
    args.output.write_text(json.dumps(extracted, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(extracted)} method entries to {args.output}")


if __name__ == "__main__":
    main()
