"""Server-side sessions of the course-review app, behind a signed, expiring cookie.

The browser holds only an opaque session id, signed with the app's secret
and refused after its age limit (itsdangerous, as Flask's own cookies).
What the id stands for (the pending launch's ``state`` and PKCE verifier,
then the access token and patient context) stays on the server, where the
JWT replay cache is: in Redis with ``CDS_REDIS_URL``; else in the directory
the workers of one host share (``CDS_REPLAY_CACHE_DIR``, which
``rituximab-cds serve`` creates), since the launch and the callback may
reach different workers; else in process (one worker: tests, development).
Never in Flask's cookie session (signed, not encrypted), a template, a URL,
a log or the database.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "course_review_session"


class SessionStore(Protocol):
    def put(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None: ...
    def get(self, key: str) -> dict[str, Any] | None: ...
    def delete(self, key: str) -> None: ...


class InMemorySessionStore:
    """Thread-safe, expiring; for one worker (development, tests)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            # Drop expired entries on write so abandoned launches do not pile up.
            for stale in [k for k, (expires, _) in self._items.items() if expires < now]:
                del self._items[stale]
            self._items[key] = (now + ttl_seconds, dict(value))

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            return dict(item[1])

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class RedisSessionStore:
    """Shared by every worker and host; entries expire with Redis' own TTL."""

    def __init__(self, url: str, prefix: str = "rituximab-cds:app-session:") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix

    def put(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        self.client.set(self.prefix + key, json.dumps(value), ex=max(1, int(ttl_seconds)))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(self.prefix + key)
        return json.loads(raw) if raw else None  # type: ignore[arg-type]

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)


class DirectorySessionStore:
    """Shared by the processes that open the same directory (diskcache: SQLite, process-safe)."""

    def __init__(self, directory: str) -> None:
        import diskcache

        self.cache = diskcache.Cache(directory, timeout=0.5)

    def put(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        self.cache.set(key, json.dumps(value), expire=max(1.0, ttl_seconds))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.cache.get(key)
        return json.loads(raw) if isinstance(raw, str) else None  # type: ignore[no-any-return]

    def delete(self, key: str) -> None:
        self.cache.delete(key)


def session_store_for(redis_url: str | None, shared_directory: str | None = None) -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url)
    if shared_directory:
        # Beside the replay cache, not in it: its own SQLite file and its own expiry culling.
        return DirectorySessionStore(str(Path(shared_directory) / "app-sessions"))
    return InMemorySessionStore()


class SessionCookies:
    """Signs session ids for the cookie and checks signature and age on the way back."""

    def __init__(self, secret_key: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="course-review-session")
        self.max_age_seconds = max_age_seconds

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(32)

    def sign(self, session_id: str) -> str:
        return self._serializer.dumps(session_id)

    def unsign(self, cookie: str | None) -> str | None:
        """The session id, or None if the cookie is absent, tampered with or too old."""
        if not cookie:
            return None
        try:
            value = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        return value if isinstance(value, str) else None
