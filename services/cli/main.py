"""`infrahaus`: the command line. Exit codes: 0 ok, 1 failed, 2 usage."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from services.cli import config
from services.cli.api import Api, ApiError, CliError
from services.cli.follow import JsonLines, PlainLines, ProgressBars, Stream

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _console(*, stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:  # a pipe or a file: never cut lines at 80 columns
        console = Console(stderr=stderr, highlight=False, width=512, soft_wrap=True)
    return console


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.api_url: str | None = getattr(args, "api_url", None)
        # rich finds out by itself whether stdout is a terminal (no colours, no bars if not)
        # and honours NO_COLOR
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api.from_config(self.api_url)
        return self._api

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            human()

    def table(self, columns: list[str], rows: list[list[Any]]) -> None:
        table = Table(*columns, box=None, pad_edge=False, header_style="bold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        self.out.print(table)


# --- login ---


def cmd_login(ctx: Context) -> int:
    a = ctx.args
    password = _password(a)
    api = Api(config.api_url(ctx.api_url), None)
    body = {
        "host": a.host,
        "port": a.port,
        "username": a.user,
        "realm": a.realm,
        "password": password,
    }
    if a.fingerprint:
        body["fingerprint"] = a.fingerprint
    answer = api.post("/api/auth/login", json=body)
    path = config.save({"apiUrl": api.base_url, "token": answer["token"], "user": answer["user"]})
    user = answer["user"]
    result = {
        "user": user,
        "apiUrl": api.base_url,
        "configFile": str(path),
        "tlsFingerprint": answer.get("tlsFingerprint"),
    }
    ctx.emit(
        result,
        lambda: ctx.out.print(
            f"Logged in as {user['userid']} on {user['host']}:{user['port']} at {api.base_url}"
        ),
    )
    return EXIT_OK


def _password(a: argparse.Namespace) -> str:
    if a.password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    elif a.password_env:
        value = os.environ.get(a.password_env, "")
        if not value:
            raise CliError("No password", f"The environment variable {a.password_env} is empty.")
    elif os.environ.get("INFRAHAUS_PASSWORD"):
        value = os.environ["INFRAHAUS_PASSWORD"]
    elif sys.stdin.isatty():
        value = getpass.getpass(f"Password for {a.user}@{a.realm} on {a.host}: ")
    else:
        raise CliError(
            "No password",
            "stdin is not a terminal: pass --password-stdin, --password-env NAME or set "
            "INFRAHAUS_PASSWORD.",
            code=EXIT_USAGE,
        )
    if not value:
        raise CliError("No password", "The password is empty.", code=EXIT_USAGE)
    return value


def cmd_logout(ctx: Context) -> int:
    stored = config.load()
    if stored.get("token"):
        try:
            # to the API that issued the token, whatever --api-url says
            url = str(stored.get("apiUrl") or config.api_url(ctx.api_url))
            Api(url, stored["token"]).request("POST", "/api/auth/logout")
        except ApiError as exc:
            if exc.status != 401:  # an expired session is logged out already
                raise
        except CliError:
            pass  # the API is gone: forgetting the token is all we can do
    forgot = config.forget_token()
    ctx.emit(
        {"loggedOut": forgot}, lambda: ctx.out.print("Logged out." if forgot else "Not logged in.")
    )
    return EXIT_OK


def cmd_whoami(ctx: Context) -> int:
    me = ctx.api.get("/api/auth/me")
    user = me["user"]
    ctx.emit(me, lambda: ctx.out.print(f"{user['userid']} on {user['host']}:{user['port']}"))
    return EXIT_OK


# --- nodes ---


def cmd_nodes_list(ctx: Context) -> int:
    nodes = ctx.api.get("/api/nodes")
    ctx.emit(
        nodes,
        lambda: ctx.table(
            ["ID", "NAME", "HOST", "TOKEN", "SSH", "DEFAULT"],
            [
                [
                    n["id"],
                    n["name"],
                    f"{n['host']}:{n['port']}",
                    n["tokenId"],
                    f"{n['sshUser']}@:{n['sshPort']}" if n.get("sshUser") else "-",
                    "yes" if n["isDefault"] else "",
                ]
                for n in nodes
            ],
        ),
    )
    return EXIT_OK


def cmd_nodes_add(ctx: Context) -> int:
    a = ctx.args
    body: dict[str, Any] = {
        "name": a.name,
        "host": a.host,
        "port": a.port,
        "tokenId": a.token_id,
        "tokenSecret": _secret(a.token_secret_env, "token secret"),
    }
    if a.fingerprint:
        body["fingerprint"] = a.fingerprint
    if a.ssh_user:
        body.update(sshUser=a.ssh_user, sshPort=a.ssh_port)
        if a.ssh_key:
            with open(a.ssh_key) as handle:
                body["sshPrivateKey"] = handle.read()
        else:
            body["sshPassword"] = _secret(a.ssh_password_env, "SSH password")
    node = ctx.api.post("/api/nodes", json=body)
    ctx.emit(
        node,
        lambda: ctx.out.print(
            f"Added node {node['name']} ({node['id']})"
            + (" as the default" if node["isDefault"] else "")
        ),
    )
    return EXIT_OK


def _secret(env_name: str | None, what: str) -> str:
    if env_name:
        value = os.environ.get(env_name, "")
        if value:
            return value
        raise CliError(f"No {what}", f"The environment variable {env_name} is empty.")
    if sys.stdin.isatty():
        return getpass.getpass(f"{what[0].upper()}{what[1:]}: ")
    raise CliError(
        f"No {what}",
        f"stdin is not a terminal: name a variable that holds the {what}.",
        code=EXIT_USAGE,
    )


def cmd_nodes_test(ctx: Context) -> int:
    node_id = ctx.api.node_id(ctx.args.node)
    result = ctx.api.post(f"/api/nodes/{node_id}/test")
    ctx.emit(
        result,
        lambda: ctx.out.print(
            f"ok: PVE {result.get('pveVersion')} in {result.get('latencyMs')} ms"
            if result["ok"]
            else f"failed: {result.get('error')}"
        ),
    )
    return EXIT_OK if result["ok"] else EXIT_FAILED


def cmd_nodes_rm(ctx: Context) -> int:
    node_id = ctx.api.node_id(ctx.args.node)
    ctx.api.delete(f"/api/nodes/{node_id}")
    ctx.emit({"id": node_id, "deleted": True}, lambda: ctx.out.print(f"Removed node {node_id}"))
    return EXIT_OK


# --- templates ---


def cmd_templates_list(ctx: Context) -> int:
    params: dict[str, Any] = {"limit": 100}
    if ctx.args.search:
        params["search"] = ctx.args.search
    if ctx.args.tag:
        params["tag"] = ctx.args.tag
    page = ctx.api.get("/api/templates", params=params)
    ctx.emit(
        page,
        lambda: ctx.table(
            ["ID", "NAME", "OS TEMPLATE", "CORES", "MEMORY", "REV", "DESCRIPTION"],
            [
                [
                    t["id"],
                    t["name"],
                    t["osTemplate"],
                    t["cores"],
                    t["memory"],
                    t["revision"],
                    t["description"],
                ]
                for t in page["items"]
            ],
        ),
    )
    return EXIT_OK


def cmd_templates_show(ctx: Context) -> int:
    template = ctx.api.get(f"/api/templates/{ctx.api.template_id(ctx.args.template)}")

    def human() -> None:
        t = template
        ctx.out.print(f"{t['name']} (revision {t['revision']}, {t['id']})")
        if t.get("description"):
            ctx.out.print(f"  {t['description']}")
        ctx.out.print(f"  os template  {t['osTemplate']}")
        ctx.out.print(
            f"  resources    {t['cores']} cores, {t['memory']} MiB memory, "
            f"{t['swap']} MiB swap, {t['disk']} GiB disk on {t['storage']}"
        )
        ctx.out.print(f"  network      {t['bridge']}")
        packages = [f"{p['manager']}:{p['name']}" for p in t.get("packages", [])]
        ctx.out.print(f"  packages     {', '.join(packages) or '-'}")
        for f in t.get("files", []):
            ctx.out.print(
                f"  file         {f['targetPath']} ({f['mode']} {f['owner']}, {f['policy']})",
                markup=False,
            )
        for s in t.get("scripts", []):
            enabled = "" if s.get("enabled", True) else " (disabled)"
            ctx.out.print(f"  script       {s['order']}: {s['name']}{enabled}", markup=False)

    ctx.emit(template, human)
    return EXIT_OK


def cmd_templates_discover(ctx: Context) -> int:
    result = ctx.api.post("/api/templates/discover")

    def human() -> None:
        ctx.out.print(
            f"{result['discovered']} discovered: {len(result['created'])} created, "
            f"{len(result['updated'])} updated, {len(result['unchanged'])} unchanged"
        )
        for error in result["errors"]:
            ctx.out.print(f"  {error['template']}: {error['error']}")

    ctx.emit(result, human)
    return EXIT_FAILED if result["errors"] else EXIT_OK


# --- VMIDs ---


def cmd_vmid_check(ctx: Context) -> int:
    node_id = ctx.api.node_id(ctx.args.node)
    result = ctx.api.get(f"/api/nodes/{node_id}/vmids/{ctx.args.vmid}")
    if result["status"] == "unknown":
        ctx.api.post(f"/api/nodes/{node_id}/vmids/refresh")
        result = ctx.api.get(f"/api/nodes/{node_id}/vmids/{ctx.args.vmid}")
    ctx.emit(result, lambda: ctx.out.print(f"{result['vmid']}: {result['status']}"))
    return EXIT_OK if result["status"] == "available" else EXIT_FAILED


def cmd_vmid_next(ctx: Context) -> int:
    node_id = ctx.api.node_id(ctx.args.node)
    params = {"from": ctx.args.start} if ctx.args.start else {}
    result = ctx.api.get(f"/api/nodes/{node_id}/vmids/next", params=params)
    ctx.emit(result, lambda: ctx.out.print(str(result["vmid"])))
    return EXIT_OK


# --- containers ---


def cmd_containers_list(ctx: Context) -> int:
    params = {
        k: v
        for k, v in (("node", ctx.args.node), ("lifecycle", ctx.args.lifecycle), ("q", ctx.args.q))
        if v
    }
    listing = ctx.api.get("/api/containers", params=params)

    def human() -> None:
        ctx.table(
            ["ID", "NODE", "VMID", "HOSTNAME", "LIFECYCLE", "STATUS", "IP"],
            [
                [
                    c["id"],
                    c["nodeName"],
                    c["vmid"],
                    c["hostname"],
                    c["lifecycle"],
                    "unknown" if c["statusUnknown"] else (c.get("live") or {}).get("status"),
                    c.get("ipAddress"),
                ]
                for c in listing["items"]
            ],
        )
        for error in listing.get("nodeErrors", []):
            ctx.err.print(f"node {error['nodeName']}: {error['error']}", markup=False)

    ctx.emit(listing, human)
    return EXIT_OK


def cmd_containers_show(ctx: Context) -> int:
    c = ctx.api.get(f"/api/containers/{ctx.api.container_id(ctx.args.container)}")

    def human() -> None:
        live = c.get("live") or {}
        ctx.out.print(f"{c['hostname']} (VMID {c['vmid']} on {c['nodeName']}, {c['id']})")
        ctx.out.print(f"  lifecycle  {c['lifecycle']}")
        ctx.out.print(f"  status     {'unknown' if c['statusUnknown'] else live.get('status')}")
        ctx.out.print(f"  ip         {c.get('ipAddress') or '-'}")
        if c.get("failedPhase") or c.get("failureReason"):
            ctx.out.print(
                f"  failed     {c.get('failedPhase')}: {c.get('failureReason')}", markup=False
            )
        if c.get("lastCompletedPhase"):
            ctx.out.print(f"  completed  {c['lastCompletedPhase']}")

    ctx.emit(c, human)
    return EXIT_OK


def cmd_containers_action(ctx: Context) -> int:
    action = ctx.args.action
    container_id = ctx.api.container_id(ctx.args.container)
    params = {"timeout": ctx.args.timeout} if getattr(ctx.args, "timeout", None) else None
    result = ctx.api.post(
        f"/api/containers/{container_id}/{action}",
        params=params,
        timeout=max(120, (ctx.args.timeout or 0) + 60) if params else 120,
    )
    ctx.emit(
        result,
        lambda: ctx.out.print(
            f"{action}: {result['exitStatus']}" + (" (forced)" if result.get("forced") else "")
        ),
    )
    return EXIT_OK if result["exitStatus"] == "OK" else EXIT_FAILED


def cmd_containers_rm(ctx: Context) -> int:
    container_id = ctx.api.container_id(ctx.args.container)
    accepted = ctx.api.delete(f"/api/containers/{container_id}")
    if ctx.args.no_wait:
        ctx.emit(accepted, lambda: ctx.out.print(f"Deleting {container_id}"))
        return EXIT_OK
    deadline = time.monotonic() + ctx.args.wait_timeout
    while time.monotonic() < deadline:
        try:
            current = ctx.api.get(f"/api/containers/{container_id}")
        except ApiError as exc:
            if exc.status == 404:
                ctx.emit(
                    {"id": container_id, "deleted": True},
                    lambda: ctx.out.print(f"Deleted {container_id}"),
                )
                return EXIT_OK
            raise
        if current["lifecycle"] == "error":
            raise CliError("Delete failed", current.get("error") or current.get("failureReason"))
        time.sleep(1)
    raise CliError(
        "Still deleting", f"{container_id} was not gone after {ctx.args.wait_timeout} s."
    )


def cmd_create(ctx: Context) -> int:
    a = ctx.args
    api = ctx.api
    if not a.template and not a.os_template:
        raise CliError(
            "Nothing to build", "Give --template NAME or --os-template VOLID.", code=EXIT_USAGE
        )
    body: dict[str, Any] = {}
    if a.template:
        body["templateId"] = api.template_id(a.template)
    if a.os_template:
        body["osTemplate"] = a.os_template
    body["hostname"] = a.hostname or (a.template or "ct").replace("_", "-")
    if a.node:
        body["nodeId"] = api.node_id(a.node)
    for name, key in (
        ("vmid", "vmid"),
        ("cores", "cores"),
        ("memory", "memory"),
        ("swap", "swap"),
        ("disk", "diskSize"),
        ("storage", "storage"),
        ("bridge", "bridge"),
        ("ip", "ip"),
        ("gateway", "gateway"),
        ("nameserver", "nameserver"),
    ):
        value = getattr(a, name)
        if value is not None:
            body[key] = value
    if a.tag:
        body["tags"] = a.tag
    if a.ssh_key:
        body["sshPublicKeys"] = [open(path).read().strip() for path in a.ssh_key]
    if a.keep_on_failure:
        body["cleanupOnFailure"] = False
    accepted = api.post("/api/containers", json=body)
    try:
        if ctx.json:
            sys.stdout.write(json.dumps(accepted) + "\n")
            sys.stdout.flush()
        else:
            ctx.out.print(
                f"Building {body['hostname']} as VMID {accepted['vmid']} ({accepted['id']})"
            )
        if a.detach:
            return EXIT_OK
    except KeyboardInterrupt:  # before the stream was opened: the build runs all the same
        return _detached(ctx, accepted["id"], chosen=False)
    return follow_build(ctx, accepted["id"])


def cmd_containers_retry(ctx: Context) -> int:
    container_id = ctx.api.container_id(ctx.args.container)
    # where the stream stands now: the retry's events come after it
    page = ctx.api.get(f"/api/containers/{container_id}/events", params={"limit": 1000})
    after = page["items"][-1]["seq"] if page["items"] else 0
    while page.get("nextAfter"):
        page = ctx.api.get(
            f"/api/containers/{container_id}/events",
            params={"after": page["nextAfter"], "limit": 1000},
        )
        after = page["items"][-1]["seq"] if page["items"] else after
    accepted = ctx.api.post(f"/api/containers/{container_id}/retry")
    if ctx.json:
        sys.stdout.write(json.dumps(accepted) + "\n")
        sys.stdout.flush()
    else:
        ctx.out.print(f"Retrying {container_id}")
    if ctx.args.detach:
        return EXIT_OK
    return follow_build(ctx, container_id, after=after)


def cmd_containers_cancel(ctx: Context) -> int:
    container_id = ctx.api.container_id(ctx.args.container)
    state = ctx.api.post(f"/api/containers/{container_id}/cancel")
    ctx.emit(state, lambda: ctx.out.print(f"Cancel requested for {container_id}"))
    return EXIT_OK


def cmd_containers_watch(ctx: Context) -> int:
    return follow_build(ctx, ctx.api.container_id(ctx.args.container), after=ctx.args.after)


def follow_build(ctx: Context, container_id: str, after: int = 0) -> int:
    """Show the build to its end. Ctrl-C asks whether to cancel the build or only detach."""

    def reconnecting(reason: str, last: int) -> None:
        ctx.err.print(f"stream interrupted ({reason}); resuming after event {last}", markup=False)

    stream = Stream(ctx.api, container_id, after=after, on_reconnect=reconnecting)
    if ctx.json:
        renderer: JsonLines | PlainLines | ProgressBars = JsonLines()
    elif ctx.out.is_terminal:
        renderer = ProgressBars(ctx.out)
    else:
        renderer = PlainLines(ctx.out)
    cancelled = False
    while True:
        try:
            for event in stream.events():
                renderer.show(event)
            break
        except KeyboardInterrupt:
            renderer.pause()
            interactive = sys.stdin.isatty()
            if cancelled or not interactive or _ask_detach(ctx):
                return _detached(ctx, container_id, chosen=interactive)
            ctx.api.post(f"/api/containers/{container_id}/cancel")
            cancelled = True
            ctx.err.print("Cancel requested; the build stops at its next step.")
        finally:
            renderer.close()
    final = stream.terminal
    if final is None:  # 204: the build had already ended; say how
        detail = ctx.api.get(f"/api/containers/{container_id}")
        if not ctx.json:
            ctx.out.print(f"The build has ended: {detail['lifecycle']}")
        return EXIT_OK if detail["lifecycle"] == "ready" else EXIT_FAILED
    if final["type"] == "complete":
        if not ctx.json and ctx.out.is_terminal:
            ctx.out.print("[green]Ready[/green]: ", end="")
            ctx.out.print(final["message"], markup=False)
        return EXIT_OK
    if not ctx.json:
        if ctx.out.is_terminal:
            ctx.err.print(f"[red]Build failed[/red] during {final.get('step')}: ", end="")
            ctx.err.print(final["message"], markup=False)
        ctx.err.print(
            f"Retry from the failed phase with: infrahaus containers retry {container_id}",
            markup=False,
        )
    return EXIT_FAILED


def _detached(ctx: Context, container_id: str, *, chosen: bool) -> int:
    ctx.err.print(
        f"Detached. Follow the build again with: infrahaus containers watch {container_id}"
    )
    # a chosen detach is a success; an interrupt nobody could answer is not
    return EXIT_OK if chosen else EXIT_FAILED


def _ask_detach(ctx: Context) -> bool:
    """True: detach; False: cancel the build."""
    # on stderr: with --json, stdout carries only JSON
    sys.stderr.write("\nCancel the build, or detach and let it run? [c]ancel / [d]etach (d): ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        return True
    return not answer.strip().lower().startswith("c")


# --- services ---


def cmd_services(ctx: Context) -> int:
    container_id = ctx.api.container_id(ctx.args.container)
    if ctx.args.refresh:
        listing = ctx.api.post(f"/api/containers/{container_id}/services/refresh", timeout=120)
    else:
        listing = ctx.api.get(f"/api/containers/{container_id}/services")

    def human() -> None:
        items = [s for s in listing["items"] if ctx.args.all or not s["isSystem"]]
        ctx.table(
            ["SERVICE", "STATUS", "PORTS", "URL", "CREDENTIALS"],
            [
                [
                    s["name"],
                    s["status"],
                    ",".join(str(p) for p in s["ports"]) or "-",
                    s.get("webUrl") or "-",
                    ",".join(s["credentialKeys"]) or "-",
                ]
                for s in items
            ],
        )
        if listing.get("error"):
            ctx.err.print(f"last discovery failed: {listing['error']}", markup=False)

    ctx.emit(listing, human)
    return EXIT_OK


def cmd_credentials(ctx: Context) -> int:
    container_id = ctx.api.container_id(ctx.args.container)
    result = ctx.api.get(f"/api/containers/{container_id}/services/{ctx.args.service}/credentials")
    ctx.emit(
        result,
        lambda: [
            ctx.out.print(f"{k}={v}", markup=False, highlight=False)
            for k, v in result["values"].items()
        ],
    )
    return EXIT_OK


# --- the parser ---


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage problems: title + detail, exit code 2
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Usage error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> Parser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--api-url",
        default=argparse.SUPPRESS,
        help="the Infrahaus API (default: $INFRAHAUS_URL, else the last login's)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )

    parser = Parser(
        prog="infrahaus",
        parents=[common],
        description="Build and manage Proxmox LXC containers through Infrahaus.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    def add(group: Any, name: str, handler: Callable[[Context], int], help: str) -> Parser:
        sub: Parser = group.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    p = add(commands, "login", cmd_login, "log in with your Proxmox account; stores a token")
    p.add_argument("--host", required=True, help="the Proxmox host you log in to")
    p.add_argument("--port", type=int, default=8006)
    p.add_argument("--user", required=True, help="user name, without the realm")
    p.add_argument("--realm", default="pam")
    p.add_argument("--fingerprint", help="expected TLS certificate fingerprint of the host")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument(
        "--password-env", metavar="NAME", help="read the password from this environment variable"
    )
    add(commands, "logout", cmd_logout, "end the session and forget the token")
    add(commands, "whoami", cmd_whoami, "who is logged in")

    nodes = commands.add_parser("nodes", help="Proxmox nodes").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=Parser, required=True
    )
    add(nodes, "list", cmd_nodes_list, "list your nodes")
    p = add(nodes, "add", cmd_nodes_add, "register a node (checks its token and SSH first)")
    p.add_argument("name", help="the node's PVE name")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=8006)
    p.add_argument("--token-id", required=True, help="user@realm!name")
    p.add_argument(
        "--token-secret-env",
        metavar="NAME",
        help="environment variable holding the token secret (else prompted)",
    )
    p.add_argument("--fingerprint")
    p.add_argument("--ssh-user")
    p.add_argument("--ssh-port", type=int, default=22)
    p.add_argument("--ssh-password-env", metavar="NAME")
    p.add_argument("--ssh-key", metavar="FILE", help="SSH private key file")
    p = add(nodes, "test", cmd_nodes_test, "test a node's connection")
    p.add_argument("node", help="node name or id")
    p = add(nodes, "rm", cmd_nodes_rm, "remove a node")
    p.add_argument("node", help="node name or id")

    templates = commands.add_parser("templates", help="templates").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=Parser, required=True
    )
    p = add(templates, "list", cmd_templates_list, "list templates")
    p.add_argument("--search")
    p.add_argument("--tag")
    p = add(templates, "show", cmd_templates_show, "show a template")
    p.add_argument("template", help="template name or id")
    add(templates, "discover", cmd_templates_discover, "load the server's templates directory")

    vmid = commands.add_parser("vmid", help="VMIDs").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=Parser, required=True
    )
    p = add(vmid, "check", cmd_vmid_check, "is a VMID free? (exit 1 when not)")
    p.add_argument("vmid", type=int)
    p.add_argument("--node", help="node name or id (default: your default node)")
    p = add(vmid, "next", cmd_vmid_next, "the next free VMID")
    p.add_argument("--from", dest="start", type=int)
    p.add_argument("--node", help="node name or id (default: your default node)")

    def create_options(p: Parser) -> None:
        p.add_argument("--template", help="template name or id")
        p.add_argument("--os-template", help="an OS template volume, without a template")
        p.add_argument("--hostname")
        p.add_argument("--node", help="node name or id (default: your default node)")
        p.add_argument("--vmid", type=int)
        p.add_argument("--cores", type=int)
        p.add_argument("--memory", type=int, help="MiB")
        p.add_argument("--swap", type=int, help="MiB")
        p.add_argument("--disk", type=int, help="GiB")
        p.add_argument("--storage")
        p.add_argument("--bridge")
        p.add_argument("--ip", help="dhcp or a CIDR address")
        p.add_argument("--gateway")
        p.add_argument("--nameserver")
        p.add_argument("--tag", action="append")
        p.add_argument("--ssh-key", action="append", metavar="FILE", help="public key file")
        p.add_argument(
            "--keep-on-failure",
            action="store_true",
            help="keep a container whose build failed (for a retry)",
        )
        p.add_argument("--detach", action="store_true", help="do not follow the build")

    create_options(add(commands, "create", cmd_create, "build a container, with live progress"))

    containers = commands.add_parser("containers", help="containers").add_subparsers(
        dest="sub", metavar="ACTION", parser_class=Parser, required=True
    )
    p = add(containers, "list", cmd_containers_list, "list your containers on all nodes")
    p.add_argument("--node")
    p.add_argument("--lifecycle")
    p.add_argument("-q", dest="q", help="part of a hostname or VMID")
    p = add(containers, "show", cmd_containers_show, "show a container")
    p.add_argument("container", help="id, VMID or hostname")
    create_options(add(containers, "create", cmd_create, "build a container (as: create)"))
    for action in ("start", "stop", "shutdown", "reboot"):
        p = add(containers, action, cmd_containers_action, f"{action} a container")
        p.add_argument("container", help="id, VMID or hostname")
        p.set_defaults(action=action, timeout=None)
        if action == "shutdown":
            p.add_argument("--timeout", type=int, help="seconds before it is stopped (30)")
    p = add(containers, "rm", cmd_containers_rm, "delete a container (waits until it is gone)")
    p.add_argument("container", help="id, VMID or hostname")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--wait-timeout", type=float, default=300)
    p = add(containers, "retry", cmd_containers_retry, "resume a failed build, and follow it")
    p.add_argument("container", help="id, VMID or hostname")
    p.add_argument("--detach", action="store_true", help="do not follow the build")
    p = add(containers, "cancel", cmd_containers_cancel, "stop a running build at its next step")
    p.add_argument("container", help="id, VMID or hostname")
    p = add(containers, "watch", cmd_containers_watch, "follow a running build")
    p.add_argument("container", help="id, VMID or hostname")
    p.add_argument("--after", type=int, default=0, help="skip events up to this seq")

    p = add(commands, "services", cmd_services, "services found inside a container")
    p.add_argument("container", help="id, VMID or hostname")
    p.add_argument("--refresh", action="store_true", help="look again now")
    p.add_argument("--all", action="store_true", help="include system units")
    p = add(commands, "credentials", cmd_credentials, "reveal a service's credentials (audited)")
    p.add_argument("container", help="id, VMID or hostname")
    p.add_argument("service")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context(args)
    try:
        return int(args.handler(ctx))
    except CliError as exc:
        if ctx.json:
            problem = exc.problem or {"title": exc.title, "detail": exc.detail}
            sys.stdout.write(json.dumps({"error": problem}) + "\n")
        ctx.err.print(f"Error: {exc.title}", markup=False, highlight=False)
        if exc.detail:
            ctx.err.print(exc.detail, markup=False, highlight=False)
        return exc.code
    except KeyboardInterrupt:
        ctx.err.print("Interrupted.")
        return EXIT_FAILED
    except OSError as exc:
        ctx.err.print(f"Error: {exc.strerror or exc}", markup=False)
        if exc.filename:
            ctx.err.print(str(exc.filename), markup=False)
        return EXIT_FAILED
    finally:
        if ctx._api is not None:
            ctx._api.close()


if __name__ == "__main__":
    raise SystemExit(main())
