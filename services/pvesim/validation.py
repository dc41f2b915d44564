"""Request parameter validation that mirrors ``PVE::JSONSchema::validate``.

The rules and messages come from the official schema (``schema.json``, extracted from
``apidata.json``) and from pve-common's ``JSONSchema.pm``, so a client sees the same ``400``
``errors`` object a real node would send.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.json"

# Upper bounds of the indexed keys that ``api_dump`` collapses into ``x[n]`` (LXC Config.pm).
INDEXED_KEY_LIMITS = {"net": 32, "mp": 256, "unused": 256, "dev": 256}
_INDEXED_KEY = re.compile(r"^([a-z]+)(\d+)$")

_NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)
_MISSING = "property is missing and it is not optional"

_DNS_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
_DNS_NAME = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_STORAGE_CONTENT = {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none"}


@cache
def load_schema() -> dict[str, dict]:
    """Schema entries keyed by ``"METHOD /path/{template}"``."""
    return json.loads(SCHEMA_FILE.read_text())


class FormatError(ValueError):
    """A named format validator rejected the value; the text is PVE's message."""


def _perl_pattern(pattern: str) -> re.Pattern[str]:
    # Perl's ``(?^:...)`` (default flags group) becomes a plain non-capturing group.
    return re.compile(r"^(?:" + pattern.replace("(?^:", "(?:") + r")$")


def _is_cidr(value: str, version: int, max_prefix: int) -> bool:
    """``pve_verify_cidrv4``/``v6``: an address and a prefix of 8 up to ``max_prefix``."""
    address, sep, prefix = value.partition("/")
    if not sep or not prefix.isdigit() or not 7 < int(prefix) <= max_prefix:
        return False
    try:
        return ipaddress.ip_address(address).version == version
    except ValueError:
        return False


def _check_ipv4_config(value: str) -> None:
    if value not in ("dhcp", "manual") and not _is_cidr(value, 4, 32):
        raise FormatError("value does not look like a valid ipv4 network configuration")


def _check_ipv6_config(value: str) -> None:
    if value not in ("auto", "dhcp", "manual") and not _is_cidr(value, 6, 128):
        raise FormatError("value does not look like a valid ipv6 network configuration")


def _check_mac(value: str) -> None:
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", value) or int(value[1], 16) & 1:
        raise FormatError("value does not look like a valid unicast MAC address")


def _check_ip(value: str, version: int) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise FormatError(f"value does not look like a valid IPv{version} address") from None
    if ipaddress.ip_address(value).version != version:
        raise FormatError(f"value does not look like a valid IPv{version} address")


def _split_list(value: str) -> list[str]:
    return [item for item in re.split(r"[,;\s]+", value) if item]


def _check_named_format(name: str, value: str) -> None:
    """Named formats from ``JSONSchema.pm``; unknown format names are accepted."""
    checks: dict[str, tuple[str, str]] = {
        "pve-vmid": (r"[1-9][0-9]{2,8}", "value does not look like a valid VM ID"),
        "pve-node": (
            r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?",
            "value does not look like a valid node name",
        ),
        "pve-storage-id": (
            r"[a-z][a-z0-9\-_.]*[a-z0-9]",
            f"storage ID '{value}' contains illegal characters",
        ),
        "pve-configid": (r"[a-z][a-z0-9_-]+", f"invalid configuration ID '{value}'"),
        "pve-realm": (r"[A-Za-z][A-Za-z0-9.\-_]+", "value does not look like a valid realm"),
        "pve-poolid": (r"[A-Za-z0-9.\-_/]+", f"invalid pool ID '{value}'"),
        "pve-volume-id": (
            r"([a-z][a-z0-9\-_.]*[a-z0-9]:.+|/.+)",
            f"unable to parse volume ID '{value}'",
        ),
        "disk-size": (r"\d+(\.\d+)?[KMGT]?", f"unable to parse size '{value}'"),
        "pve-ct-timezone": (
            r"host|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*",
            f"invalid time zone '{value}'",
        ),
        "pve-startup-order": (
            r"(order=)?\d+(,up=\d+)?(,down=\d+)?",
            "value does not look like a valid startup order",
        ),
        "pve-lxc-dev-string": (r"/dev/[^,]+", f"not a valid device path '{value}'"),
    }
    if name in checks:
        pattern, message = checks[name]
        if not re.fullmatch(pattern, value, flags=re.IGNORECASE if name == "pve-configid" else 0):
            raise FormatError(message)
    elif name == "dns-name":
        if not _DNS_NAME.match(value):
            raise FormatError("value does not look like a valid DNS name")
    elif name == "dns-name-list":
        for item in _split_list(value):
            _check_named_format("dns-name", item)
    elif name == "pve-configid-list":
        for item in _split_list(value):
            _check_named_format("pve-configid", item)
    elif name == "pve-tag-list":
        for tag in _split_list(value):
            if not re.fullmatch(r"[a-z0-9_][a-z0-9_\-+.]*", tag, flags=re.IGNORECASE):
                raise FormatError(f"invalid characters in tag '{tag}'")
    elif name in ("pve-storage-content", "pve-storage-content-list"):
        for item in _split_list(value) if name.endswith("list") else [value]:
            if item not in _STORAGE_CONTENT:
                raise FormatError(f"invalid content type '{item}'")
    elif name == "lxc-ip-with-ll-iface-list":
        for item in _split_list(value):
            try:
                ipaddress.ip_address(item.split("%", 1)[0])
            except ValueError:
                raise FormatError(f"unable to parse IP address '{item}'") from None
    elif name == "pve-ipv4-config":
        _check_ipv4_config(value)
    elif name == "pve-ipv6-config":
        _check_ipv6_config(value)
    elif name == "mac-addr":
        _check_mac(value)
    elif name == "ipv4":
        _check_ip(value, 4)
    elif name == "ipv6":
        _check_ip(value, 6)
    elif name == "pve-lxc-mp-string" and re.search(r"(^|/)\.\.?(/|$)", value):
        raise FormatError("invalid path")


def parse_property_string(value: str, fmt: dict[str, dict]) -> dict[str, str]:
    """Split ``key=value,...`` with the optional positional ``default_key`` (raises FormatError)."""
    default_key = next((k for k, v in fmt.items() if v.get("default_key")), None)
    result: dict[str, str] = {}
    for part in value.split(","):
        if not part:
            continue
        if "=" in part:
            key, _, item = part.partition("=")
        elif default_key and default_key not in result:
            key, item = default_key, part
        else:
            raise FormatError(
                f"value without key, but schema does not define a default key: '{part}'"
            )
        if key not in fmt:
            raise FormatError(f"invalid key in comma-separated list property: {key}")
        if key in result:
            raise FormatError(f"duplicate key in comma-separated list property: {key}")
        if fmt[key].get("type") == "boolean":
            item = parse_boolean(item)
        result[key] = item
    return result


def parse_boolean(value: str) -> str:
    """``JSONSchema::parse_boolean`` as property strings use it: 1/on/yes/true and
    0/off/no/false (any case) become ``1``/``0``; anything else is left for the type check."""
    lowered = value.lower()
    if lowered in ("1", "on", "yes", "true"):
        return "1"
    if lowered in ("0", "off", "no", "false"):
        return "0"
    return value


def _check_property_string(key: str, value: str, fmt: dict[str, dict]) -> None:
    try:
        parsed = parse_property_string(value, fmt)
    except FormatError as exc:
        raise FormatError(f"format error\n{exc}") from None
    sub_errors: list[str] = []
    for sub_key, sub_schema in fmt.items():
        if sub_key not in parsed:
            if not sub_schema.get("optional"):
                sub_errors.append(f"{key}.{sub_key}: {_MISSING}")
            continue
        message = _check_value(parsed[sub_key], sub_schema)
        if message:
            sub_errors.append(f"{key}.{sub_key}: {message.rstrip()}")
    if sub_errors:
        raise FormatError("format error\n" + "\n".join(sub_errors))


_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _check_type(value: Any, type_name: str) -> str | None:
    if isinstance(value, list | dict) and type_name not in ("array", "object"):
        kind = "ARRAY" if isinstance(value, list) else "HASH"
        return f"type check ('{type_name}') failed - got {kind}"
    text = value if isinstance(value, str) else json.dumps(value)
    if type_name == "integer" and not (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and _INTEGER.match(value))
    ):
        return f"type check ('integer') failed - got '{text}'"
    if type_name == "number" and not (
        (isinstance(value, int | float) and not isinstance(value, bool))
        or (isinstance(value, str) and _NUMBER.match(value))
    ):
        return f"type check ('number') failed - got '{text}'"
    if type_name == "boolean" and value not in ("0", "1", 0, 1, True, False):
        return f"type check ('boolean') failed - got '{text}'"
    return None


def _check_value(value: Any, schema: dict) -> str | None:
    """Return PVE's message for the first rule ``value`` breaks, or None."""
    type_name = schema.get("type", "string")
    message = _check_type(value, type_name)
    if message:
        return message
    text = value if isinstance(value, str) else str(value)
    fmt = schema.get("format")
    try:
        if isinstance(fmt, str):
            _check_named_format(fmt, text)
        elif isinstance(fmt, dict):
            _check_property_string("", text, fmt)
    except FormatError as exc:
        return f"invalid format - {exc}\n"
    if type_name in ("integer", "number"):
        number = float(text)
        if "minimum" in schema and number < float(schema["minimum"]):
            return f"value must have a minimum value of {schema['minimum']}"
        if "maximum" in schema and number > float(schema["maximum"]):
            return f"value must have a maximum value of {schema['maximum']}"
    if type_name == "string":
        if "maxLength" in schema and len(text) > int(schema["maxLength"]):
            return f"value may only be {schema['maxLength']} characters long"
        if "minLength" in schema and len(text) < int(schema["minLength"]):
            return f"value must be at least {schema['minLength']} characters long"
        if "pattern" in schema and not _perl_pattern(schema["pattern"]).match(text):
            return "value does not match the regex pattern"
    if "enum" in schema and text not in [str(v) for v in schema["enum"]]:
        return (
            f"value '{text}' does not have a value in the enumeration '{', '.join(schema['enum'])}'"
        )
    return None


def schema_for_key(properties: dict[str, dict], key: str) -> dict | None:
    """Look up ``key``, mapping ``net0`` to ``net[n]`` within PVE's index limits."""
    if key in properties:
        return properties[key]
    match = _INDEXED_KEY.match(key)
    if match and f"{match[1]}[n]" in properties:
        if int(match[2]) < INDEXED_KEY_LIMITS.get(match[1], 0):
            return properties[f"{match[1]}[n]"]
    return None


def validate(parameters_schema: dict, params: dict[str, Any]) -> dict[str, str]:
    """Validate ``params`` in place of ``JSONSchema::validate``; returns the ``errors`` map."""
    properties: dict[str, dict] = parameters_schema.get("properties", {})
    errors: dict[str, str] = {}
    for key, value in params.items():
        schema = schema_for_key(properties, key)
        if schema is None:
            if not parameters_schema.get("additionalProperties", 1) == 0:
                continue
            errors[key] = _NOT_IN_SCHEMA
            continue
        if value is None:  # ``key`` or ``key=`` in a form body: undefined, as if not sent
            continue
        if isinstance(schema.get("format"), dict) and isinstance(value, str):
            try:
                _check_property_string(key, value, schema["format"])
            except FormatError as exc:
                errors[key] = f"invalid format - {exc}\n"
                continue
            message = None
        else:
            message = _check_value(value, schema)
        if message:
            errors[key] = message
        requires = schema.get("requires")
        if requires and requires not in params and key not in errors:
            errors[requires] = f"missing property - '{key}' requires this property"
    for key, schema in properties.items():
        if key.endswith("[n]") or schema.get("optional") or params.get(key) is not None:
            continue
        errors[key] = _MISSING
    return errors


def to_bool(value: Any) -> bool:
    """Interpret a validated boolean parameter."""
    return value in ("1", 1, True)
