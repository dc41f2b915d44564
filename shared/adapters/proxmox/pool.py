"""Kept-alive API clients, one per node configuration, shared by a process's requests.

A TLS handshake with a Proxmox node costs both sides real CPU and a round trip; a container
list that asks ten nodes should not pay ten of them on every call. Clients are keyed by
everything that decides how they connect (host, port, pinned certificate, token), so an edited
node simply gets a new client. Idle connections are dropped after a few seconds
(`KEEPALIVE_SECONDS`), well before Proxmox drops them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Hashable

from shared.adapters.proxmox.client import ProxmoxClient

# Time to let work that still holds an evicted client finish before it is closed: longer than
# the longest task we await (shared.adapters.proxmox.tasks.TASK_LIMIT_SECONDS, 900 s).
_CLOSE_GRACE_SECONDS = 1200.0


class ProxmoxClientPool:
    def __init__(self, max_clients: int = 256) -> None:
        self.max_clients = max_clients
        self._clients: OrderedDict[Hashable, ProxmoxClient] = OrderedDict()
        self._closing: dict[asyncio.Task[None], ProxmoxClient] = {}

    def get(self, key: Hashable, create: Callable[[], ProxmoxClient]) -> ProxmoxClient:
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = create()
            while len(self._clients) > self.max_clients:
                _, evicted = self._clients.popitem(last=False)
                self._close_later(evicted)
        self._clients.move_to_end(key)
        return client

    def _close_later(self, client: ProxmoxClient) -> None:
        async def close() -> None:
            await asyncio.sleep(_CLOSE_GRACE_SECONDS)
            await client.aclose()

        task = asyncio.get_running_loop().create_task(close())
        self._closing[task] = client
        task.add_done_callback(lambda done: self._closing.pop(done, None))

    async def aclose(self) -> None:
        """Close every client now, the evicted ones still waiting for their grace period too."""
        clients = list(self._clients.values())
        for task, evicted in list(self._closing.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            clients.append(evicted)
        self._clients.clear()
        for client in clients:
            await client.aclose()
