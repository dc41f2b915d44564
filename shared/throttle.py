"""Failed-login throttling in Redis, per client address and per account.

Only failures count. A fixed window per key (`SET NX EX` then `INCR`) is exact across API
replicas and costs one round trip to check and one to record.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, per_account: int, per_client: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.per_account = per_account
        self.per_client = per_client
        self.window = window_seconds

    @staticmethod
    def _keys(client: str, account: str) -> tuple[str, str]:
        digest = hashlib.sha256(account.lower().encode()).hexdigest()[:32]
        return f"login-failures:client:{client}", f"login-failures:account:{digest}"

    async def retry_after(self, client: str, account: str) -> int | None:
        """Seconds until this client or account may try again, or None when allowed."""
        client_key, account_key = self._keys(client, account)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(client_key)
            pipe.ttl(client_key)
            pipe.get(account_key)
            pipe.ttl(account_key)
            client_count, client_ttl, account_count, account_ttl = await pipe.execute()
        waits = []
        if client_count is not None and int(client_count) >= self.per_client:
            waits.append(client_ttl)
        if account_count is not None and int(account_count) >= self.per_account:
            waits.append(account_ttl)
        if not waits:
            return None
        return max(1, max(waits))

    async def record_failure(self, client: str, account: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(client, account):
                pipe.set(key, 0, ex=self.window, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def record_success(self, client: str, account: str) -> None:
        """A good login clears the account's count; the client's count still runs its window."""
        await self.redis.delete(self._keys(client, account)[1])
