"""One background thread that writes queued items in batches, through a bounded queue.

The audit trail must never slow down or fail a hook, and must never grow
without bound when the database is slower than the traffic: items wait in a
bounded queue, the thread writes whatever has accumulated (optionally after
lingering a moment for more) in one transaction, and when the queue is full
an item is dropped and counted (never blocks).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_STOP = object()


class BatchWriter(Generic[T]):
    def __init__(self, write_batch: Callable[[list[T]], None], on_drop: Callable[[str], None],
                 max_queue: int = 10_000, max_batch: int = 200, name: str = "batch-writer",
                 linger_seconds: float = 0.0) -> None:
        self._write_batch = write_batch
        self._on_drop = on_drop
        self._max_batch = max_batch
        #: how long a batch waits for company after its first item: one transaction per call
        #: costs the database a commit and this process the GIL each time
        self._linger = linger_seconds
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        """Queue one item; never blocks (a full queue drops it and reports why)."""
        if self._closed:
            self._on_drop("writer closed")
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._on_drop("queue full")

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[T] = []
            stop = first is _STOP
            if not stop:
                batch.append(first)  # type: ignore[arg-type]
            until = time.monotonic() + self._linger
            while not stop and len(batch) < self._max_batch:
                wait = until - time.monotonic()
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
            try:
                if batch:
                    self._write_batch(batch)
            finally:
                for _ in range(len(batch) + (1 if stop else 0)):
                    self._queue.task_done()
            if stop:
                return

    def flush(self, timeout: float = 10) -> None:
        """Wait until everything queued so far has been written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._queue.unfinished_tasks:
            raise TimeoutError(f"{self._queue.unfinished_tasks} items still queued after {timeout} s")

    def close(self, timeout: float = 10) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout=timeout)
