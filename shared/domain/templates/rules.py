"""The rules a template and a package bucket obey, in one place.

The API schemas publish these limits and patterns (so the OpenAPI spec states them) and the
filesystem discovery checks the same ones, so a template is valid the same way whichever door
it came in through. Patterns are anchored and ECMA-compatible; `matches` applies them with
`re.fullmatch`, so a trailing newline never slips through.
"""

from __future__ import annotations

import re
from typing import Final

NAME_MAX: Final = 100
DESCRIPTION_MAX: Final = 500
CORES: Final = (1, 64)
MEMORY_MB: Final = (128, 131072)
SWAP_MB: Final = (0, 131072)
DISK_GB: Final = (1, 10000)
SCRIPT_ORDER: Final = (0, 9999)
CONTENT_MAX: Final = 1_048_576  # characters of one script or file
TAGS_MAX: Final = 32
ITEMS_MAX: Final = 200  # scripts, files per template
PACKAGES_MAX: Final = 1000  # packages per template or bucket, or per bulk call

# Printable text without control characters (also keeps NUL away from PostgreSQL).
TEMPLATE_NAME: Final = r"^[^\x00-\x1f\x7f]+$(?!\n)"
TEXT: Final = r"^[^\x00]*$(?!\n)"
# Either a volume id (`local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`) or the start of
# one's file name (`debian-12-standard`), which the creation pipeline resolves on the node.
OS_TEMPLATE: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,254}$(?!\n)"
STORAGE: Final = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$(?!\n)"
BRIDGE: Final = r"^[A-Za-z][A-Za-z0-9._-]{0,15}$(?!\n)"
TAG: Final = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$(?!\n)"  # PVE's tag syntax
# A file name: no path separators, no leading dot (so never `.` or `..`), no spaces.
SAFE_FILE_NAME: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$(?!\n)"
# Absolute and normalized: `/`-separated segments, none empty, `.` or `..`.
_C = r"[^/\x00-\x1f\x7f]"  # a character of a path segment
_SEGMENT = rf"([^/\x00-\x1f\x7f.]{_C}*|\.[^/\x00-\x1f\x7f.]{_C}*|\.\.{_C}+)"
TARGET_PATH: Final = rf"^(/{_SEGMENT})+$(?!\n)"
TARGET_PATH_MAX: Final = 1024
FILE_MODE: Final = r"^[0-7]{3,4}$(?!\n)"
_ACCOUNT = r"([a-z_][a-z0-9_.-]{0,31}|[0-9]{1,10})"
OWNER: Final = rf"^{_ACCOUNT}(:{_ACCOUNT})?$(?!\n)"

FILE_POLICIES: Final[tuple[str, ...]] = ("replace", "default", "backup")
PACKAGE_MANAGERS: Final[tuple[str, ...]] = ("apt", "pip", "npm")

# Package names as each manager accepts them: Debian policy, PEP 508 names, npm's rules.
PACKAGE_NAME: Final[dict[str, str]] = {
    "apt": r"^[a-z0-9][a-z0-9+.-]{1,99}$(?!\n)",
    "pip": r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$(?!\n)",
    # npm: lower-case and URL-safe, no leading `.` or `_`; nor a leading `-` or `~`, which
    # would reach `npm install` as an option (`--unsafe-perm`) or a home directory path.
    "npm": r"^(@[a-z0-9][a-z0-9._~-]{0,99}/)?[a-z0-9][a-z0-9._~-]{0,99}$(?!\n)",
}
PACKAGE_NAME_MAX: Final = 214
# An exact version (`1.2.3`, `2:1.18.0-6+deb12u1`, `4.*`), not a range expression.
PACKAGE_VERSION: Final = r"^[A-Za-z0-9][A-Za-z0-9.+~:_*-]{0,63}$(?!\n)"

DEFAULT_MODE: Final = "0644"
DEFAULT_OWNER: Final = "root:root"
DEFAULT_POLICY: Final = "replace"


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def normalize_mode(mode: str) -> str:
    """`644` and `0644` are the same mode; store four digits."""
    return mode.rjust(4, "0")
