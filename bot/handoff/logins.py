"""Failed console logins, counted in Redis per account and per client address, so guessing stops early.

Each attempt is counted *before* its password is checked, in one Lua script with the lock check,
so guessers running in parallel cannot all slip past the count while the first hashes are still
being checked: at most ``account_tries`` passwords are checked for an account before it is locked,
and after each lock only one more at a time (past the allowance, an attempt waits until no other
check of that account or address is under way). A lock starts at ``lock_s`` and doubles with each
further failure, up to ``lock_max_s``; failures are remembered for twice that. A successful login
clears its account's count, and takes only its own attempt off the address's (so a guesser who
owns an account cannot wipe the count of their other guesses). Everything is in Redis with an
expiry: every console process sees the same counts, and nothing is left behind.

A refused attempt is answered late (``delay_s``, growing with the failures, at most
``MAX_DELAY_S``): the guesser waits on an idle coroutine, which costs no CPU, instead of a hash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Iterable, Optional

from bot.storage.stores import RedisClient

MAX_DELAY_S = 2.0  # the longest a refused login's answer is held
CHECKING_MS = 30_000  # a check under way is forgotten after this (if its process died)
IPV6_BLOCK = 64  # an IPv6 client usually has a whole /64: it is counted as one address
ACCOUNT, ADDRESS = "account", "address"

# KEYS: for the account then the address: failures, lock, checks under way.
# ARGV: account tries, address tries, remember ms, checking ms.
# Returns {verdict, account failures, address failures, account lock ms, address lock ms}:
# verdict 1 check the password, 0 locked, 2 past the allowance while another check is under way.
_ATTEMPT = """
local lock_a, lock_b = redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[5])
if lock_a > 0 or lock_b > 0 then return {0, 0, 0, lock_a, lock_b} end
local a = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local b = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
local busy_a = a > tonumber(ARGV[1]) and tonumber(redis.call('GET', KEYS[3]) or '0') > 0
local busy_b = b > tonumber(ARGV[2]) and tonumber(redis.call('GET', KEYS[6]) or '0') > 0
if busy_a or busy_b then
  redis.call('DECR', KEYS[1])
  redis.call('DECR', KEYS[4])
  return {2, a - 1, b - 1, 0, 0}
end
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('INCR', KEYS[6])
redis.call('PEXPIRE', KEYS[6], ARGV[4])
return {1, a, b, 0, 0}
"""
# KEYS: as _ATTEMPT's. ARGV: account lock ms, address lock ms (0: none), 1 if the password was right
# (then the account starts afresh, and the address forgets this attempt).
_DONE = """
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[2], 1, 'PX', ARGV[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[5], 1, 'PX', ARGV[2]) end
for _, key in ipairs({KEYS[3], KEYS[6]}) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
  if tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then redis.call('DECR', KEYS[4]) end
end
return 1
"""


@dataclass(frozen=True)
class LoginPolicy:
    """How many failures are allowed before a lock, and how long locks last (bot.wiring.settings)."""

    account_tries: int = 5
    address_tries: int = 30
    lock_s: int = 60
    lock_max_s: int = 900

    def lock_for(self, failures: int, tries: int) -> int:
        """Seconds of lock after ``failures`` failures when ``tries`` are allowed (0: no lock yet)."""
        if failures < tries:
            return 0
        return min(self.lock_max_s, self.lock_s << min(failures - tries, 30))

    def delay_for(self, account_failures: int, address_failures: int) -> float:
        """How long a wrong password's answer is held: grows with the share of the allowance used."""
        used = max(account_failures / self.account_tries, address_failures / self.address_tries)
        return round(min(MAX_DELAY_S, MAX_DELAY_S * used), 3)


@dataclass(frozen=True)
class Verdict:
    """May this attempt's password be checked? If not: for how long, and whose lock it is."""

    allowed: bool
    retry_after_s: int = 0  # > 0: locked (or busy) for this long
    locked: str = ""  # ACCOUNT or ADDRESS
    delay_s: float = 0.0  # how long to hold the answer
    account_failures: int = 0
    address_failures: int = 0


def _locked(kind: str, remaining_ms: int, delay_s: float) -> Verdict:
    """A refusal for a lock with ``remaining_ms`` to go: held for ``delay_s`` at most, and never past a second
    before the lock lifts, so that the time to retry it gives, counted from the answer, is true."""
    remaining = remaining_ms / 1000
    delay = round(max(0.0, min(delay_s, remaining - 1)), 3)
    return Verdict(False, max(1, math.ceil(remaining - delay)), kind, delay)


def refusal(locked: str, seconds: int) -> str:
    """What a refused login is told: why, and when to try again."""
    wait = f"{seconds} second{'s' * (seconds != 1)}" if seconds < 90 else f"{math.ceil(seconds / 60)} minutes"
    why = {
        ACCOUNT: "Too many failed logins for this account.",
        ADDRESS: "Too many failed logins from your address.",
    }.get(locked, "Too many logins are being checked right now.")
    return f"{why} Try again in {wait}."


def address_key(address: str) -> str:
    """The client address as counted: an IPv4 address, or an IPv6 address's /64 (one client's block)."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if parsed.version == 6:
        mapped = parsed.ipv4_mapped
        return str(mapped) if mapped else str(ip_network(f"{parsed}/{IPV6_BLOCK}", strict=False))
    return str(parsed)


def client_address(peer: str, forwarded_for: Optional[str], proxies: Iterable[IPv4Network | IPv6Network]) -> str:
    """Who is logging in: the peer, unless the peer is one of our ``proxies``; then the nearest address in
    X-Forwarded-For that is not one of them (the addresses further left are the client's to write)."""
    trusted = tuple(proxies)

    def is_proxy(address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in trusted)

    if not is_proxy(peer) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_proxy(hop):
            return hop
    return hops[0] if hops else peer


class LoginThrottle:
    """Counts under ``<prefix>login-fail:<kind>:<name>``, locks under ``login-lock:...``, the checks under
    way under ``login-checking:...`` (kind: account or address)."""

    def __init__(self, client: RedisClient, prefix: str, policy: LoginPolicy = LoginPolicy()) -> None:
        self._redis, self._prefix, self.policy = client, prefix, policy
        self._attempt, self._done = client.register_script(_ATTEMPT), client.register_script(_DONE)

    def _keys(self, account: str, address: str) -> list[str]:
        return [
            f"{self._prefix}login-{part}:{kind}:{name}"
            for kind, name in ((ACCOUNT, account), (ADDRESS, address_key(address)))
            for part in ("fail", "lock", "checking")
        ]

    async def attempt(self, account: str, address: str) -> Verdict:
        """Count one attempt on ``account`` from ``address``, unless either is locked."""
        remember_ms = 2 * self.policy.lock_max_s * 1000
        args = [self.policy.account_tries, self.policy.address_tries, remember_ms, CHECKING_MS]
        answer = await self._attempt(keys=self._keys(account, address), args=args)
        verdict, on_account, on_address, lock_a, lock_b = [int(value) for value in answer]
        if verdict == 1:
            return Verdict(True, account_failures=on_account, address_failures=on_address)
        if verdict == 2:  # parallel attempts past the allowance: the one under way decides
            return Verdict(False, 1, ACCOUNT, MAX_DELAY_S, on_account, on_address)
        which = ACCOUNT if lock_a >= lock_b else ADDRESS
        return _locked(which, max(lock_a, lock_b), MAX_DELAY_S)

    async def failed(self, verdict: Verdict, account: str, address: str) -> Verdict:
        """The password was wrong: lock whatever has used up its allowance, and say how long to hold
        the answer (and, when now locked, for how long)."""
        policy, failures = self.policy, (verdict.account_failures, verdict.address_failures)
        on_account = policy.lock_for(failures[0], policy.account_tries)
        on_address = policy.lock_for(failures[1], policy.address_tries)
        await self._done(keys=self._keys(account, address), args=[on_account * 1000, on_address * 1000, 0])
        delay = policy.delay_for(*failures)
        if not max(on_account, on_address):
            return Verdict(False, delay_s=delay, account_failures=failures[0], address_failures=failures[1])
        kind = ACCOUNT if on_account >= on_address else ADDRESS
        return _locked(kind, max(on_account, on_address) * 1000, delay)

    async def succeeded(self, account: str, address: str) -> None:
        """The right password: the account starts afresh; this attempt no longer counts against the address."""
        await self._done(keys=self._keys(account, address), args=[0, 0, 1])
