"""The audit writer's queue: batches what accumulates, never blocks, drops and counts when full."""

from __future__ import annotations

import threading

from service.store.batch_writer import BatchWriter


def test_items_written_in_batches_and_flushed():
    gate = threading.Event()
    batches: list[list[int]] = []

    def write(batch: list[int]) -> None:
        gate.wait(5)  # hold the first write so the rest accumulate
        batches.append(batch)

    writer: BatchWriter[int] = BatchWriter(write, on_drop=lambda reason: None, max_batch=50)
    for i in range(101):
        writer.submit(i)
    gate.set()
    writer.flush(timeout=5)
    assert [i for b in batches for i in b] == list(range(101))
    assert len(batches) < 101 and max(len(b) for b in batches) <= 50
    writer.close()


def test_full_queue_drops_and_reports_without_blocking():
    gate = threading.Event()
    dropped: list[str] = []
    written: list[int] = []

    def write(batch: list[int]) -> None:
        gate.wait(5)
        written.extend(batch)

    writer: BatchWriter[int] = BatchWriter(write, on_drop=dropped.append, max_queue=3, max_batch=1)
    for i in range(10):  # one is being written, three wait, the rest are dropped at once
        writer.submit(i)
    assert dropped and set(dropped) == {"queue full"}
    gate.set()
    writer.flush(timeout=5)
    assert len(written) + len(dropped) == 10
    writer.close()
    writer.submit(99)
    assert dropped[-1] == "writer closed"
