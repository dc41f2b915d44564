"""Login throttling in Redis, per client address and per account.

Each attempt reserves a slot in both counters before the password is checked, atomically (one
Lua script): parallel guesses cannot all slip past a check-then-count. Only a wrong password
keeps its slot until the window ends; every other outcome gives it back. Exact across API
replicas, one round trip per attempt.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

# KEYS: client counter, account counter. ARGV: client limit, account limit, window seconds.
# Returns 0 when the attempt may go ahead, else the seconds until it may.
_RESERVE = """
local over = 0
local counts = {}
for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCR', key)
    if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[3]) end
end
local wait = 0
for i, key in ipairs(KEYS) do
    if counts[i] > tonumber(ARGV[i]) then
        wait = math.max(wait, redis.call('TTL', key), 1)
    end
end
if wait > 0 then
    for _, key in ipairs(KEYS) do redis.call('DECR', key) end
end
return wait
"""

_REFUND = """
for _, key in ipairs(KEYS) do
    if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0
"""


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, per_account: int, per_client: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.per_account = per_account
        self.per_client = per_client
        self.window = window_seconds
        self._reserve = redis.register_script(_RESERVE)
        self._refund = redis.register_script(_REFUND)

    @staticmethod
    def _keys(client: str, account: str) -> list[str]:
        digest = hashlib.sha256(account.lower().encode()).hexdigest()[:32]
        return [f"login-attempts:client:{client}", f"login-attempts:account:{digest}"]

    async def reserve(self, client: str, account: str) -> int | None:
        """Count this attempt, or return the seconds to wait when a limit is reached."""
        wait = await self._reserve(
            keys=self._keys(client, account),
            args=[self.per_client, self.per_account, self.window],
        )
        return int(wait) or None

    async def succeeded(self, client: str, account: str) -> None:
        """A good login gives its slot back and clears the account's earlier failures."""
        keys = self._keys(client, account)
        await self._refund(keys=keys[:1])
        await self.redis.delete(keys[1])

    async def give_back(self, client: str, account: str) -> None:
        """The attempt was not a wrong password: it does not count."""
        await self._refund(keys=self._keys(client, account))

    async def give_back_account(self, client: str, account: str) -> None:
        """The attempt says nothing about the account's password, but it made us contact a
        host (an unreachable one, or one that is not Proxmox VE): it counts for the client
        only, so login cannot be used to scan ports without limit."""
        await self._refund(keys=self._keys(client, account)[1:])
