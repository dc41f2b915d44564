"""The exception every simulated API handler raises to produce a PVE error response."""

from __future__ import annotations


class PveError(Exception):
    """An error PVE reports as ``status`` with ``message``; ``errors`` is the 400 detail map.

    Plain ``die`` in PVE becomes HTTP 500, so that is the default status.
    """

    def __init__(self, message: str, status: int = 500, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message if message.endswith("\n") else message + "\n"
        self.status = status
        self.errors = errors


def param_error(errors: dict[str, str]) -> PveError:
    """``raise_param_exc``: HTTP 400 ``Parameter verification failed.`` with per-key messages."""
    return PveError("Parameter verification failed.", 400, errors)


def permission_error(detail: str | None = None) -> PveError:
    """``raise_perm_exc``: HTTP 403 with the detail wrapped in parentheses."""
    return PveError(
        f"Permission check failed ({detail})" if detail else "Permission check failed", 403
    )


def missing_config(node: str, vmid: int) -> PveError:
    return PveError(f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist")
