"""HTTP to the Infrahaus API: one httpx client, problems turned into `ApiError`."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from services.cli import config

USER_AGENT = "infrahaus-cli/0.1"


class CliError(Exception):
    """A failure to report as title + detail, exit code 1 (or `code`)."""

    def __init__(
        self,
        title: str,
        detail: str | None = None,
        *,
        code: int = 1,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.title = title
        self.detail = detail
        self.code = code
        self.problem = problem


class ApiError(CliError):
    """The API answered with a problem document (or another error status)."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "title" not in body:
            body = {
                "title": response.reason_phrase or f"HTTP {response.status_code}",
                "status": response.status_code,
                "detail": response.text[:300] or None,
            }
        detail = body.get("detail")
        errors = body.get("errors") or []
        lines = [str(detail)] if detail else []
        for item in errors:
            if isinstance(item, dict):
                where = item.get("field") or item.get("key") or item.get("source") or ""
                lines.append(f"{where}: {item.get('message', item)}" if where else str(item))
        if response.status_code == 401:
            lines.append("Log in with: infrahaus login")
        super().__init__(str(body["title"]), "\n".join(lines) or None, problem=body)
        self.status = response.status_code


class Api:
    def __init__(self, base_url: str, token: str | None, timeout: float = 60) -> None:
        self.base_url = base_url
        self.token = token
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    @classmethod
    def from_config(cls, api_url: str | None, *, need_login: bool = True) -> Api:
        stored = config.load()
        url = config.api_url(api_url)
        token = stored.get("token") if stored.get("apiUrl", url).rstrip("/") == url else None
        if need_login and not token:
            raise CliError(
                "Not logged in",
                f"No login stored for {url}. Log in with: infrahaus login --host <pve host> "
                "--user <user>",
            )
        return cls(url, token)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError("The API did not answer in time", f"{method} {path}: {exc}") from exc
        except httpx.TransportError as exc:
            raise CliError(f"Cannot reach the API at {self.base_url}", str(exc)) from exc
        if response.status_code >= 400:
            raise ApiError(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        response = self.request("POST", path, **kwargs)
        return response.json() if response.content else None

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs).json()

    def delete(self, path: str) -> Any:
        response = self.request("DELETE", path)
        return response.json() if response.content else None

    # --- names people type, resolved to ids ---

    def node_id(self, ref: str | None) -> str:
        """A node's id from its id or name; None: the default node."""
        nodes = self.get("/api/nodes")
        items = nodes["items"] if isinstance(nodes, dict) else nodes
        if ref is None:
            for node in items:
                if node.get("isDefault"):
                    return str(node["id"])
            raise CliError("No node", "Register one with: infrahaus nodes add …")
        for node in items:
            if ref in (node["id"], node["name"]):
                return str(node["id"])
        raise CliError("Node not found", f"No node named or with id {ref!r}.")

    def template_id(self, ref: str) -> str:
        if _is_uuid(ref):
            return ref
        page = self.get("/api/templates", params={"search": ref, "limit": 100})
        for template in page["items"]:
            if template["name"] == ref:
                return str(template["id"])
        raise CliError(
            "Template not found",
            f"No template named {ref!r}. List them with: infrahaus templates list "
            "(or load templates/ with: infrahaus templates discover)",
        )

    def container_id(self, ref: str) -> str:
        """A container's id from its id, VMID or hostname."""
        if _is_uuid(ref):
            return ref
        listing = self.get("/api/containers")
        matches = [
            c
            for c in listing["items"]
            if (ref.isdigit() and c["vmid"] == int(ref)) or c["hostname"] == ref
        ]
        if not matches:
            raise CliError(
                "Container not found", f"No container with id, VMID or hostname {ref!r}."
            )
        if len(matches) > 1:
            where = ", ".join(f"{c['nodeName']}/{c['vmid']} ({c['id']})" for c in matches)
            raise CliError("Ambiguous container", f"{ref!r} matches {where}; give the id.")
        return str(matches[0]["id"])


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[0-9a-fA-F-]{32,36}", value))
