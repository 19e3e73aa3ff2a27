"""Checked tokens kept in memory, so an authenticated request usually needs no query.

An entry lives at most SESSION_CACHE_SECONDS and never past its session's expiry; at most
`SIZE` entries are kept (the least recently used go first). It is keyed by the SHA-256 of the
token, so the process keeps no usable token. Whatever ends a session or changes what a caller
shows drops the person's entries after its commit (`sessions.invalidation`), here at once and,
through Redis, on the other instances (`sessions.bus`).

A lookup that missed and went to the database may come back after a revocation was committed
and dropped: it then must not store what it read before. Every drop advances `generation`;
a lookup notes the generation before its query and stores only if it is unchanged.

Concurrent misses of one token share one lookup (`load`): when an entry ages out under load,
the requests in flight for it would otherwise all query at once and queue for the pool's
connections (p99 of `/auth/check` at 32 connections: 160-250 ms before, one query after). A
drop forgets the lookups in flight, so a request that arrives after a revocation never joins
one that began before it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from quart_template.sessions.caller import Caller

SIZE = 10_000
# In an invalidation, stands for every person (a bulk statement that names nobody in particular).
EVERYONE = "*"
# Refresh a session's `last_used_at` at most this often: a read should not write every time.
LAST_USED_GRANULARITY = timedelta(seconds=60)
_GRANULARITY_SECONDS = LAST_USED_GRANULARITY.total_seconds()


class Entry:
    """A checked caller, until when it may be believed, and its last recorded use."""

    __slots__ = ("caller", "expires_at", "key", "last_used", "valid_until")

    def __init__(self, key: bytes, caller: Caller, *, valid_until: float, last_used: float):
        self.key = key
        self.caller = caller
        self.valid_until = valid_until  # time.monotonic()
        self.expires_at = caller.session.expires_at.timestamp()  # time.time()
        self.last_used = last_used  # time.time() of the last recorded use

    def due_for_touch(self, now: float) -> bool:
        """Whether the recorded last use is stale enough to be worth a write."""
        return now - self.last_used > _GRANULARITY_SECONDS


class SessionCache:
    """A bounded LRU of checked callers; `seconds` 0 keeps nothing."""

    def __init__(self, seconds: float, *, size: int = SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self.generation = 0
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._by_person: dict[str, set[bytes]] = {}
        self._lookups: dict[bytes, asyncio.Future[Entry | None]] = {}
        # Told of every invalidation made here (the Redis bus tells the other instances).
        self.listeners: list[Callable[[frozenset[str]], None]] = []

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Entry | None:
        """The entry, unless it is missing, too old or its session has expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.valid_until or time.time() >= entry.expires_at:
            self._remove(entry)
            return None
        self._entries.move_to_end(key)
        return entry

    async def load(
        self, key: bytes, look_up: Callable[[], Awaitable[tuple[Caller, datetime] | None]]
    ) -> Entry | None:
        """The entry for `key`, from memory or from `look_up` (the caller and the session's
        last recorded use, or None), which runs once for all the requests that miss at once."""
        entry = self.get(key)
        if entry is not None:
            return entry
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(key, look_up))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: a request that goes away (a client that hung up) does not cancel the
        # lookup the others wait for.
        return await asyncio.shield(lookup)

    async def _look_up(
        self, key: bytes, look_up: Callable[[], Awaitable[tuple[Caller, datetime] | None]]
    ) -> Entry | None:
        generation = self.generation  # before the query: see `put`
        found = await look_up()
        if found is None:
            return None
        caller, last_used = found
        return self.put(key, caller, last_used=last_used, generation=generation)

    def _settled(self, key: bytes, lookup: asyncio.Future[Entry | None]) -> None:
        if self._lookups.get(key) is lookup:
            del self._lookups[key]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: the waiters (if any are left) got it

    def put(self, key: bytes, caller: Caller, *, last_used: datetime, generation: int) -> Entry:
        """An entry for what a query found, stored unless the cache is off or something was
        dropped since the query began (`generation` is the one noted before it)."""
        entry = Entry(
            key,
            caller,
            valid_until=time.monotonic() + self.seconds,
            last_used=last_used.timestamp(),
        )
        if self.seconds <= 0 or generation != self.generation:
            return entry
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._unindex(previous)
        self._entries[key] = entry
        self._by_person.setdefault(caller.person.entity_id, set()).add(key)
        while len(self._entries) > self.size:
            self._remove(next(iter(self._entries.values())))
        return entry

    def invalidate(self, person_ids: Iterable[str]) -> None:
        """The people's sessions or records changed (committed): drop their entries here and
        tell the listeners (the other instances)."""
        people = frozenset(person_ids)
        self.drop(people)
        for listener in self.listeners:
            listener(people)

    def drop(self, person_ids: frozenset[str]) -> None:
        """Forget the people's entries in this process only."""
        if EVERYONE in person_ids:
            self.clear()
            return
        self.generation += 1
        self._lookups.clear()
        for person_id in person_ids:
            for key in self._by_person.pop(person_id, ()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything (e.g. invalidations may have been missed)."""
        self.generation += 1
        self._lookups.clear()
        self._entries.clear()
        self._by_person.clear()

    def _remove(self, entry: Entry) -> None:
        if self._entries.get(entry.key) is entry:
            del self._entries[entry.key]
        self._unindex(entry)

    def _unindex(self, entry: Entry) -> None:
        keys = self._by_person.get(entry.caller.person.entity_id)
        if keys is not None:
            keys.discard(entry.key)
            if not keys:
                del self._by_person[entry.caller.person.entity_id]
