"""Where the CLI keeps its login: `<config dir>/infrahaus/config.json`, mode 600.

The config dir is `$INFRAHAUS_CONFIG_DIR` when set, else `$XDG_CONFIG_HOME/infrahaus`, else
`~/.config/infrahaus`. The file holds the API URL and the bearer token of the last login.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_API_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    explicit = os.environ.get("INFRAHAUS_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "infrahaus"


def config_path() -> Path:
    return config_dir() / "config.json"


def load() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(data: dict[str, Any]) -> Path:
    """Write the file readable by its owner only; it is created with mode 600, never wider."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.chmod(scratch, 0o600)  # an existing scratch file may have had another mode
    os.replace(scratch, path)
    return path


def forget_token() -> bool:
    data = load()
    if "token" not in data:
        return False
    data.pop("token", None)
    data.pop("user", None)
    save(data)
    return True


def api_url(explicit: str | None) -> str:
    """--api-url, else INFRAHAUS_URL, else the URL of the last login, else the local default."""
    url = explicit or os.environ.get("INFRAHAUS_URL") or load().get("apiUrl") or DEFAULT_API_URL
    return str(url).rstrip("/")
