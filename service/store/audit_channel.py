"""The audit channel: gunicorn workers hand audit entries to the writer process over a Unix socket.

A ``SOCK_SEQPACKET`` socket keeps each entry one message, and its send buffer
(about 200 KB: some 150 entries) absorbs a slow moment of the writer.  A
worker never waits on it: the socket is non-blocking, so a full buffer (writer
frozen or far behind) or a missing writer (killed, restarting) drops the entry
and counts it, as the in-process writer does when its queue is full.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

#: receive buffer for one message; an entry is about 2 KB
MAX_MESSAGE_BYTES = 256 * 1024
#: a worker tries to (re)connect at most this often while the writer is missing
RECONNECT_SECONDS = 1.0


class AuditSender:
    """Worker side: ``send(message)`` never blocks and never raises; each lost message is reported."""

    def __init__(self, path: str, on_drop: Callable[[str], None], reconnect_seconds: float = RECONNECT_SECONDS) -> None:
        self._path = path
        self._on_drop = on_drop
        self._reconnect_seconds = reconnect_seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        #: the process that connected: a forked child must not share its parent's connection
        self._pid = 0
        self._next_attempt = 0.0

    def send(self, message: bytes) -> None:
        sock = self._connection()
        if sock is None:
            self._on_drop("audit writer unavailable")
            return
        try:
            sock.send(message, socket.MSG_NOSIGNAL)  # a gone writer is an error here, not a SIGPIPE
        except BlockingIOError:
            self._on_drop("audit writer busy")
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self._on_drop("audit entry too large")
                return
            self._forget(sock)
            self._on_drop("audit writer unavailable")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def _connection(self) -> socket.socket | None:
        sock = self._sock
        if sock is not None and self._pid == os.getpid():
            return sock  # the usual case, without the lock (one attribute read is atomic)
        with self._lock:
            if self._sock is not None and self._pid == os.getpid():
                return self._sock
            now = time.monotonic()
            if now < self._next_attempt:
                return None
            self._next_attempt = now + self._reconnect_seconds
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            sock.setblocking(False)
            try:
                sock.connect(self._path)
            except OSError:
                sock.close()
                return None
            self._sock, self._pid = sock, os.getpid()
            return sock

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
        sock.close()


class AuditListener:
    """Writer side: accepts the workers' connections and passes every message to ``handle``."""

    def __init__(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a writer that was killed
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._server.bind(path)
        os.chmod(path, 0o600)  # only this user's processes may write audit rows
        self._server.listen(64)
        self._server.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)

    def serve(self, handle: Callable[[bytes], None], keep_going: Callable[[], bool], tick: float = 0.5) -> None:
        """Receive until ``keep_going()`` is false (checked at least every ``tick`` seconds)."""
        while keep_going():
            for key, _ in self._selector.select(timeout=tick):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if sock is self._server:
                    self._accept()
                    continue
                try:
                    message = sock.recv(MAX_MESSAGE_BYTES)
                except BlockingIOError:
                    continue
                except OSError:
                    message = b""
                if not message:  # the worker closed or exited
                    self._selector.unregister(sock)
                    sock.close()
                    continue
                handle(message)

    def _accept(self) -> None:
        try:
            conn, _ = self._server.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._selector.register(conn, selectors.EVENT_READ)

    def close(self) -> None:
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()
