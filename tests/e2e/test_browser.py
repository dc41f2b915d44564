"""Issue 18 in a real browser: Debian's Chromium, driven by playwright, runs the example
frontend (`examples/frontend/index.html`) served from another site against a real API
process, the worker and the simulator. It logs in, builds the example template, follows the
build through EventSource while the API process is killed and started again, and shows
every event exactly once; a page from an origin that is not allowed is refused (CORS); a
cross-site form POST is refused (Origin check, CSRF token).

The page is served on `localhost` and the API on `127.0.0.1`: two sites, so the session
cookie is a third-party cookie there (`SESSION_COOKIE_CROSS_SITE`). The browser profile
allows third-party cookies, as Chrome's desktop default does; browsers that block them need
a same-site deployment or bearer tokens with stream tickets (README, "Writing a frontend").
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import msgspec
import pytest

from services.pvesim.process import RunningSimulator, start_simulator_process
from shared.core.settings import Settings
from shared.dev.embedded import free_port
from tests.integration.helpers import forget_nodes
from tests.integration.test_pipeline import stored_events
from tests.support import settings_environment, start_process

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("running_worker")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "frontend"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHASES = ["creating", "starting", "deploying", "syncing", "finalizing"]


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        pass
    elif shutil.which("apt-get") is None:
        pytest.skip("no Chromium: this machine has no apt-get to install Debian's chromium")
    elif os.geteuid() != 0:
        pytest.skip("no Chromium: `make browser` installs Debian's chromium only as root")
    else:
        pytest.skip("no Chromium: `make browser` (apt-get install chromium) did not install it")
    pytest.importorskip("playwright.async_api", reason="the playwright package is missing")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def pve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    """A simulator of this module's own: the page's build takes the next free VMID, as a
    user's would, and the session's simulator must keep that VMID free for other tests."""
    simulator = start_simulator_process(tmp_path_factory.mktemp("pvesim-browser"))
    yield simulator
    simulator.stop()


@pytest.fixture
def page_servers() -> Iterator[tuple[int, int]]:
    """The example directory on two ports: the allowed frontend and an origin that is not."""
    servers = [
        ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(EXAMPLE)))
        for _ in range(2)
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers[0].server_port, servers[1].server_port
    for server in servers:
        server.shutdown()
        server.server_close()


# In the page: ask a ticket with the bearer token, read the stream with EventSource until its
# end, then let EventSource try the same URL again (refused: the ticket is used up).
READ_WITH_TICKETS = """async ([api, token, id]) => {
  const asked = await fetch(`${api}/api/containers/${id}/events/ticket`,
    { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  const url = api + (await asked.json()).streamUrl;
  const read = () => new Promise((resolve) => {
    const seqs = [], source = new EventSource(url);
    const end = () => { source.close(); resolve(seqs); };
    for (const type of ['step', 'log', 'complete', 'error']) source.addEventListener(type, (e) => {
      if (!e.data) return end();
      seqs.push(Number(e.lastEventId));
      if (type === 'complete') end();
    });
  });
  return [await read(), await read(), url];
}"""


def _start_api(env: dict[str, str], log: Path, url: str) -> subprocess.Popen[bytes]:
    process = start_process("services.api", env, log)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)


def _profile_allowing_third_party_cookies(path: Path) -> Path:
    (path / "Default").mkdir(parents=True)
    prefs = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
    (path / "Default" / "Preferences").write_text(json.dumps(prefs))
    return path


async def _prepare(api: str, pve: RunningSimulator, settings: Settings) -> dict[str, str]:
    """The user's node and the example template, set up over the API with a bearer token."""
    user, info = pve.info["users"][0], pve.info
    port = httpx.URL(info["apiUrl"]).port
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        login = await http.post("/api/auth/login", json={
            "host": "127.0.0.1", "port": port, "username": user["username"],
            "realm": user["realm"], "password": user["password"]})  # fmt: skip
        assert login.status_code == 200, login.text
        await forget_nodes(settings, login.json()["user"]["id"])
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        node = await http.post("/api/nodes", headers=headers, json={
            "name": "pve3", "host": "127.0.0.1", "port": port, "tokenId": info["tokenId"],
            "tokenSecret": info["tokenSecret"], "sshUser": info["sshUser"],
            "sshPort": info["sshPorts"]["pve3"], "sshPassword": info["sshPassword"]})  # fmt: skip
        assert node.status_code == 201, node.text
        discovered = await http.post("/api/templates/discover", headers=headers)
        assert discovered.status_code == 200, discovered.text
    return {"host": "127.0.0.1", "port": str(port), "token": login.json()["token"], **user}


async def test_the_example_frontend_builds_and_follows_progress_in_chromium(
    pve: RunningSimulator, settings: Settings, page_servers: tuple[int, int], tmp_path: Path
) -> None:
    _chromium_or_skip()
    from playwright.async_api import Request, async_playwright

    allowed_port, other_port = page_servers
    frontend, other = f"http://localhost:{allowed_port}", f"http://localhost:{other_port}"
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = settings_environment(msgspec.structs.replace(
        settings, api_port=port, cors_allowed_origins=frontend, session_cookie_cross_site=True,
    ))  # fmt: skip
    process = _start_api(env, tmp_path / "api-1.log", api)
    try:
        login = await _prepare(api, pve, settings)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch_persistent_context(
                _profile_allowing_third_party_cookies(tmp_path / "profile"),
                executable_path=CHROMIUM, headless=True, viewport={"width": 1100, "height": 900},
            )  # fmt: skip
            page = browser.pages[0]
            streams: list[Request] = []
            page.on("request", lambda r: streams.append(r) if "/events/stream" in r.url else None)
            await page.goto(f"{frontend}/?api={api}")
            for name in ("host", "port", "username", "password"):
                await page.fill(f"#login [name={name}]", login[name])
            await page.click("#login button")
            await page.wait_for_selector("#status:text('logged in')")
            await page.fill("#create [name=hostname]", "browser-01")
            await page.select_option("#create [name=templateId]", label="web-basic")
            await page.click("#create button")

            # the API goes away mid-build: EventSource reconnects by itself once it is back
            await page.wait_for_selector("#events li:nth-child(3)")
            seen_before = await page.locator("#events li").all_inner_texts()
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            process = _start_api(env, tmp_path / "api-2.log", api)
            await page.wait_for_selector("#status:text('build complete')", timeout=90_000)
            shown = await page.locator("#events li").all_inner_texts()
            screenshot = tmp_path / "frontend.png"
            await page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot of the finished page: {screenshot}")

            assert not any(" complete " in line for line in seen_before), "killed too late"
            seqs = [int(line.split(" ", 1)[0]) for line in shown]
            assert seqs == list(range(1, len(seqs) + 1)), shown  # each event exactly once
            assert len(seqs) > len(seen_before)
            assert shown[-1].split(" ")[1] == "complete"
            assert {line.split(" ")[2] for line in shown} >= set(PHASES)
            assert len(streams) >= 2, "EventSource never reconnected"
            headers = [await r.all_headers() for r in streams]
            resumed_from = int(headers[-1].get("last-event-id", "0"))
            assert resumed_from >= len(seen_before), headers
            # the page shows what the database holds, in order
            detail = await page.evaluate(
                "async (u) => (await fetch(u, {credentials: 'include'})).json()",
                f"{api}/api/containers",
            )
            container = next(c for c in detail["items"] if c["hostname"] == "browser-01")
            rows = await stored_events(settings, container["id"])
            assert [r.seq for r in rows] == seqs
            assert await page.locator("#containers li").all_inner_texts() == [
                f"{c['hostname']} {c['lifecycle']}" for c in detail["items"]
            ]

            # a bearer client: EventSource opens the stream with a ticket, which works once
            first, reused, ticket_url = await page.evaluate(READ_WITH_TICKETS, [
                api, login["token"], container["id"]])  # fmt: skip
            assert first == seqs and reused == []
            logged = "".join((tmp_path / n).read_text() for n in ("api-1.log", "api-2.log"))
            assert "/events/stream" in logged  # the stream requests are logged, not the ticket
            assert ticket_url.split("ticket=")[1] not in logged

            # a page from an origin that is not allowed: the browser refuses it (CORS)
            stranger = await browser.new_page()
            await stranger.goto(f"{other}/?api={api}")
            for name in ("host", "port", "username", "password"):
                await stranger.fill(f"#login [name={name}]", login[name])
            await stranger.click("#login button")
            await stranger.wait_for_selector("#status:text('Failed to fetch')")

            # cross-site form POSTs carry the cookie (SameSite=None) but are refused: from
            # another origin by the Origin check, from the allowed one for the missing token
            refusals = []
            for origin in (other, frontend):
                await stranger.goto(f"{origin}/?api={api}")
                async with stranger.expect_navigation() as navigation:
                    await stranger.evaluate(
                        """(action) => { const f = document.createElement('form');
                        f.method = 'post'; f.action = action; document.body.append(f);
                        f.submit(); }""",
                        f"{api}/api/auth/logout",
                    )
                answer = await navigation.value
                assert answer is not None
                refusals.append((answer.status, (await answer.json())["detail"]))
            assert refusals[0][0] == 403 and "origin is not allowed" in refusals[0][1]
            assert refusals[1][0] == 403 and "X-CSRF-Token" in refusals[1][1]
            still = await page.evaluate(
                "async (u) => (await fetch(u, {credentials: 'include'})).status",
                f"{api}/api/auth/me",
            )
            assert still == 200  # the session survived both
            await browser.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
