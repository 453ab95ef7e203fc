"""The audit writer's queue: batches what accumulates, never blocks, drops and counts when full."""

from __future__ import annotations

import threading
import time

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


def test_a_lingering_batch_gathers_what_arrives_meanwhile():
    batches: list[list[int]] = []
    writer: BatchWriter[int] = BatchWriter(batches.append, on_drop=lambda reason: None, linger_seconds=0.5)
    writer.submit(0)
    time.sleep(0.05)  # the writer holds the first item, waiting for company
    for i in range(1, 5):
        writer.submit(i)
    writer.flush(timeout=5)
    assert batches == [[0, 1, 2, 3, 4]]
    writer.submit(5)
    writer.close()  # closing does not wait out the linger: the stop marker ends it
    assert batches[-1] == [5]
