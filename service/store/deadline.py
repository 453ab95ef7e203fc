"""A client-side deadline for database work: a silent PostgreSQL cannot hold a thread.

``statement_timeout`` is enforced by the server, so it only helps when the
server hears the statement.  A path that accepts bytes and forwards nothing
(a frozen proxy or pooler, a half-partitioned host) leaves psycopg waiting on
its socket for ever: TCP keepalives and ``tcp_user_timeout`` never fire,
because the proxy's kernel acknowledges everything.  So each unit of work runs
under a timer; when it expires, the sockets of the connections that thread
holds are shut down, the blocked read returns at once, psycopg raises
OperationalError and SQLAlchemy discards the connection.

Connections are registered at pool checkout.  SQLAlchemy's own
``pool_pre_ping`` runs before the checkout event, out of the timer's reach,
so the liveness ping is done here instead, after registration.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError, TimeoutError


class DatabaseDeadline:
    """``with deadline.limit(seconds): ...`` bounds the database work of the calling thread."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        #: thread id -> DBAPI connections it has checked out
        self._held: dict[int, list[Any]] = {}
        #: thread id -> the deadline of that thread expired (its work is being cut off)
        self._expired: set[int] = set()
        self._limited: set[int] = set()
        event.listen(engine, "checkout", self._on_checkout)
        event.listen(engine, "checkin", self._on_checkin)

    @contextlib.contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        me = threading.get_ident()
        timer = threading.Timer(seconds, self._cut, args=(me,))
        timer.daemon = True
        with self._lock:
            self._limited.add(me)
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                self._limited.discard(me)
                self._expired.discard(me)
                self._held.pop(me, None)

    def _cut(self, thread_id: int) -> None:
        with self._lock:
            if thread_id not in self._limited:
                return  # finished just in time
            self._expired.add(thread_id)
            connections = list(self._held.get(thread_id, ()))
        for conn in connections:
            _shutdown(conn)

    def _on_checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        me = threading.get_ident()
        with self._lock:
            if me in self._expired:
                raise TimeoutError("database deadline exceeded")
            if me in self._limited:
                self._held.setdefault(me, []).append(dbapi_conn)
        try:
            # Pessimistic liveness check (instead of pool_pre_ping), now within the timer's reach.
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any driver error means a dead connection
            with self._lock:
                expired = me in self._expired
            if expired:
                raise TimeoutError("database deadline exceeded") from exc
            raise DisconnectionError(type(exc).__name__) from exc  # the pool retries with a fresh one

    def _on_checkin(self, dbapi_conn: Any, _record: Any) -> None:
        with self._lock:
            for held in self._held.values():
                if dbapi_conn in held:
                    held.remove(dbapi_conn)


def _shutdown(dbapi_conn: Any) -> None:
    """Shut the connection's socket down under psycopg's feet (it is blocked reading it)."""
    try:
        fd = dbapi_conn.fileno()
        sock = socket.socket(fileno=socket.dup(fd))
    except (OSError, ValueError, AttributeError):
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # acts on the shared socket, so the driver's fd sees EOF
    sock.close()
