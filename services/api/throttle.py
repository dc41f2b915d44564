"""Login throttling in Redis: failures counted per (account, client), per client, per account.

Only failures count (a wrong password; a host that cannot be reached counts for the client
only). What each limit does:

- **per (account, client)**, `LOGIN_MAX_FAILURES`: that client may not try that account again
  until the window ends (429), whatever the password. A client guessing one account is stopped
  there, and nobody else is.
- **per client**, `LOGIN_MAX_FAILURES_PER_CLIENT`: across all accounts (and unreachable hosts,
  so login is no port scanner) (429).
- **per account**, `LOGIN_MAX_FAILURES` from all clients together: a slowdown, never a lockout.
  Beyond it, attempts on the account run one at a time, each after a pause that grows with the
  failures (at most `MAX_SLOWDOWN_SECONDS`); the account holder still gets in, just slower.

Attempts in flight are not failures, so correct logins are never refused in bursts. They are
counted as pending, though: an attempt that could still push a limit over if everything in
flight failed waits for those to finish (`BUSY`) instead of slipping past the check, so parallel
guesses cannot pass together. Exact across API replicas, one round trip per step.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from redis.asyncio import Redis

MAX_SLOWDOWN_SECONDS = 5
# A pending mark outlives any login attempt (connect + read timeouts), and dies with a crash.
PENDING_TTL_SECONDS = 120
BUSY = -1

# KEYS: failures pair, client, account; pending pair, client, account.
# ARGV: pair limit, client limit, account limit, pending ttl, max slowdown.
# Returns {0, delay} to go ahead after `delay` s, {1, seconds} when refused, {2, 0} when busy.
_RESERVE = """
local function num(key) return tonumber(redis.call('GET', key) or '0') end
local fp, fc, fa = num(KEYS[1]), num(KEYS[2]), num(KEYS[3])
local pair_limit, client_limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local account_limit = tonumber(ARGV[3])
if fp >= pair_limit then return {1, math.max(redis.call('TTL', KEYS[1]), 1)} end
if fc >= client_limit then return {1, math.max(redis.call('TTL', KEYS[2]), 1)} end
local pp, pc, pa = num(KEYS[4]), num(KEYS[5]), num(KEYS[6])
if fp + pp >= pair_limit or fc + pc >= client_limit then return {2, 0} end
local slow = fa >= account_limit
if slow and pa >= 1 then return {2, 0} end
for i = 4, 6 do
    redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ARGV[4])
end
local delay = 0
if slow then delay = math.min(fa - account_limit + 1, tonumber(ARGV[5])) end
return {0, delay}
"""

# KEYS: as above. ARGV: outcome (failure | client | success | none), window seconds.
_FINISH = """
for i = 4, 6 do
    if redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
end
local outcome = ARGV[1]
local counted = {}
if outcome == 'failure' then counted = {1, 2, 3} elseif outcome == 'client' then counted = {2} end
for _, i in ipairs(counted) do
    if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2]) end
end
if outcome == 'success' then redis.call('DEL', KEYS[1], KEYS[3]) end
return 0
"""

Outcome = Literal["failure", "client", "success", "none"]


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str,
        per_account: int,
        per_client: int,
        window_seconds: int,
    ) -> None:
        """`namespace` (the deployment's queue name) keeps the counters of two deployments that
        share one Redis database apart: the keys name clients and accounts, not random ids."""
        self.redis = redis
        self.prefix = f"{namespace}:login-attempts"
        self.per_account = per_account
        self.per_client = per_client
        self.window = window_seconds
        self._reserve = redis.register_script(_RESERVE)
        self._finish = redis.register_script(_FINISH)

    def _keys(self, client: str, account: str) -> list[str]:
        digest = hashlib.sha256(account.lower().encode()).hexdigest()[:32]
        pair = f"{digest}:{client}"
        scopes = (f"pair:{pair}", f"client:{client}", f"account:{digest}")
        return [f"{self.prefix}:{scope}" for scope in scopes] + [
            f"{self.prefix}:pending:{scope}" for scope in scopes
        ]

    async def reserve(self, client: str, account: str) -> tuple[int, int]:
        """(0, delay): go ahead after `delay` seconds (the account is under attack); (1, s):
        refused, retry after s seconds; (BUSY, 0): attempts in flight could still reach a
        limit, ask again shortly. A (0, _) must be followed by exactly one `finish`."""
        status, value = await self._reserve(
            keys=self._keys(client, account),
            args=[
                self.per_account,
                self.per_client,
                self.per_account,
                PENDING_TTL_SECONDS,
                MAX_SLOWDOWN_SECONDS,
            ],
        )
        return (BUSY, 0) if int(status) == 2 else (int(status), int(value))

    async def finish(self, client: str, account: str, outcome: Outcome) -> None:
        """The attempt is over: `failure` (a wrong password) counts everywhere, `client` (an
        unreachable host, not Proxmox VE) for the client only, `success` clears the account's
        failures, `none` counts nothing."""
        await self._finish(keys=self._keys(client, account), args=[outcome, self.window])
