"""``jti`` replay cache: a JWT is accepted once within its lifetime.

Redis when ``CDS_REDIS_URL`` is set, so that several workers and hosts share
it (an atomic ``SET NX EX``).  Otherwise a directory (``CDS_REPLAY_CACHE_DIR``,
which ``rituximab-cds serve`` creates when neither is set) shared by the
workers of one host through diskcache (SQLite, process-safe, an atomic
``add``): a per-worker cache let a token refused by one worker be accepted by
the next.  In-process only when neither is configured (one process: tests,
the development server).  If the shared cache cannot be reached the check
fails closed: accepting a possibly replayed token is worse than refusing a
call the EHR will retry.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import OrderedDict
from typing import Protocol


class ReplayCacheUnavailable(Exception):
    """The shared replay cache cannot be reached."""


class ReplayCache(Protocol):
    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """True the first time (iss, jti) is seen before ``expires_at`` (epoch seconds)."""


def _key(iss: str, jti: str) -> str:
    return hashlib.sha256(f"{iss}\x00{jti}".encode()).hexdigest()


class InMemoryReplayCache:
    """Thread-safe, expiring, bounded (oldest entries evicted past ``max_entries``)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        key = _key(iss, jti)
        now = time.time()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            expiry = self._seen.get(key)
            if expiry is not None and expiry >= now:
                return False
            self._seen[key] = expires_at
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True


class RedisReplayCache:
    def __init__(self, url: str, prefix: str = "rituximab-cds:jti:") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        import redis

        ttl = max(1, int(expires_at - time.time()) + 1)
        try:
            return bool(self.client.set(self.prefix + _key(iss, jti), b"1", nx=True, ex=ttl))
        except redis.RedisError as exc:
            raise ReplayCacheUnavailable(type(exc).__name__) from exc


class DirectoryReplayCache:
    """Shared by every process that opens the same directory (the workers of one host)."""

    def __init__(self, directory: str) -> None:
        import diskcache

        # No eviction: a live jti must never be dropped to make room; expired ones are culled on writes.
        self.cache = diskcache.Cache(directory, timeout=0.5, eviction_policy="none")

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        import diskcache

        ttl = max(1.0, expires_at - time.time() + 1)
        try:
            return bool(self.cache.add(_key(iss, jti), 1, expire=ttl))
        except (diskcache.Timeout, sqlite3.Error, OSError) as exc:
            raise ReplayCacheUnavailable(type(exc).__name__) from exc


def replay_cache_for(redis_url: str | None, directory: str | None = None) -> ReplayCache:
    if redis_url:
        return RedisReplayCache(redis_url)
    if directory:
        return DirectoryReplayCache(directory)
    return InMemoryReplayCache()
