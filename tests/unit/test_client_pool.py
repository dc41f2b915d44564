"""The kept-alive client pool: one client per node configuration, bounded, closed at the end."""

from __future__ import annotations

from shared.adapters.proxmox import PinnedCertificate, ProxmoxClient
from shared.adapters.proxmox.pool import ProxmoxClientPool

PIN = PinnedCertificate(pem="", fingerprint="00")


def _factory(made: list[ProxmoxClient]):
    def create() -> ProxmoxClient:
        client = ProxmoxClient.__new__(ProxmoxClient)  # no network: only identity matters here
        client.closed = False  # type: ignore[attr-defined]

        async def aclose() -> None:
            client.closed = True  # type: ignore[attr-defined]

        client.aclose = aclose  # type: ignore[method-assign]
        made.append(client)
        return client

    return create


async def test_same_configuration_same_client_changed_configuration_new_client() -> None:
    pool, made = ProxmoxClientPool(max_clients=2), []
    first = pool.get(("node-1", "token-v1"), _factory(made))
    assert pool.get(("node-1", "token-v1"), _factory(made)) is first
    rotated = pool.get(("node-1", "token-v2"), _factory(made))
    assert rotated is not first and len(made) == 2
    await pool.aclose()
    assert all(client.closed for client in made)  # type: ignore[attr-defined]


async def test_the_pool_is_bounded() -> None:
    pool, made = ProxmoxClientPool(max_clients=2), []
    for node in ("a", "b", "c"):
        pool.get(node, _factory(made))
    assert pool.get("c", _factory(made)) is made[2]
    assert pool.get("a", _factory(made)) is not made[0]  # evicted, made anew
    await pool.aclose()
    assert all(client.closed for client in made)  # evicted ones too  # type: ignore[attr-defined]
