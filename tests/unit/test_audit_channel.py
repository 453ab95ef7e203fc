"""The audit channel between a worker and the audit writer process: every entry arrives whole,
and a missing, slow or frozen writer never blocks or fails the sender (entries dropped, counted)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from service.store.audit import AuditEntry, decode_entry, encode_entry
from service.store.audit_channel import AuditListener, AuditSender


def entry(i: int = 1) -> AuditEntry:
    return AuditEntry("rituximab-order-sign", 200, hook="order-sign", hook_instance=f"h-{i}", patient_ref="p\x00ß",
                      latency_ms=1.5, fhir_queries=2, fhir_ms=3.25, data_origins={"conditions": "prefetch"},
                      cards=[{"uuid": f"u-{i}", "topic": "hbv", "indicator": "warning",
                              "rules": [{"id": "safety.hbv", "version": "3"}]}],
                      time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))


def test_an_entry_survives_the_wire_unchanged():
    assert decode_entry(encode_entry(entry())) == entry()


@pytest.mark.parametrize("message", [b"not json", b"[1, 2]", b'{"service_id": "x"}', b'{"time": "x"}'])
def test_a_message_that_is_not_an_entry_is_refused(message):
    with pytest.raises((ValueError, TypeError, KeyError)):
        decode_entry(message)


class Listening:
    """An AuditListener serving on a thread, collecting what arrives."""

    def __init__(self, path: str) -> None:
        self.listener = AuditListener(path)
        self.received: list[AuditEntry] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.listener.serve, daemon=True,
                                       args=(lambda m: self.received.append(decode_entry(m)),
                                             lambda: not self.stop.is_set(), 0.05))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_entries_from_several_threads_arrive_whole(tmp_path):
    path = str(tmp_path / "audit.sock")
    listening = Listening(path)
    drops: list[str] = []
    sender = AuditSender(path, drops.append)
    try:
        threads = [threading.Thread(target=lambda k=k: [sender.send(encode_entry(entry(k * 100 + i)))
                                                        for i in range(50)]) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Every entry arrives whole or is counted: a listener starved of CPU on a busy machine may
        # let the socket buffer (about 150 entries) fill, and the sender drops rather than waits.
        wait_for(lambda: len(listening.received) + len(drops) == 200)
        arrived = [e.hook_instance for e in listening.received]
        assert len(set(arrived)) == len(arrived)
        assert set(arrived) <= {f"h-{k * 100 + i}" for k in range(4) for i in range(50)}
        assert set(drops) <= {"audit writer busy"}
        assert listening.received[0] == entry(int(arrived[0][2:]))  # whole: equal to what was sent
    finally:
        sender.close()
        listening.close()


def test_no_writer_drops_and_counts_without_raising(tmp_path):
    drops: list[str] = []
    sender = AuditSender(str(tmp_path / "nobody.sock"), drops.append)
    for i in range(3):
        sender.send(encode_entry(entry(i)))
    assert drops == ["audit writer unavailable"] * 3


def test_a_writer_that_stops_reading_costs_drops_not_waits(tmp_path):
    path = str(tmp_path / "audit.sock")
    listener = AuditListener(path)  # listens, accepts nothing, reads nothing: a frozen writer
    drops: list[str] = []
    sender = AuditSender(path, drops.append)
    try:
        for i in range(5000):  # far more than the socket buffers hold; each send returns at once
            sender.send(encode_entry(entry(i)))
        assert drops and set(drops) == {"audit writer busy"}
    finally:
        sender.close()
        listener.close()


def test_a_restarted_writer_is_reconnected(tmp_path):
    path = str(tmp_path / "audit.sock")
    first = Listening(path)
    drops: list[str] = []
    sender = AuditSender(path, drops.append, reconnect_seconds=0)
    sender.send(encode_entry(entry(1)))
    wait_for(lambda: len(first.received) == 1)
    first.close()  # the writer is gone: its connections with it
    sender.send(encode_entry(entry(2)))
    assert drops == ["audit writer unavailable"]
    second = Listening(path)
    try:
        sender.send(encode_entry(entry(3)))
        wait_for(lambda: len(second.received) == 1)
        assert second.received[0].hook_instance == "h-3"
    finally:
        sender.close()
        second.close()
