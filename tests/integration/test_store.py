"""The store on SQLite and on the real PostgreSQL: audit, idempotent feedback, report, purge, faults."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store import AuditEntry, FeedbackError, StoreUnavailable, validate_feedback
from service.store.models import AuditCard, AuditEvent, Feedback
from service.store.report import format_report
from service.store.store import Store, make_engine
from tests.integration.stores import make_store, pg_schema, pg_url

pytestmark = pytest.mark.integration
KINDS = ["sqlite", "postgresql"]


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    with make_store(request.param, tmp_path) as (s, _url):
        yield s


def card(uuid, topic="hbv", rule="safety.hbv", indicator="warning"):
    return {"uuid": uuid, "topic": topic, "indicator": indicator, "rules": [{"id": rule, "version": "1"}]}


def fb(card_uuid, outcome="overridden", ts="2026-11-23T10:00:00Z", reason=None, comment=None, accepted=None):
    item = {"card": card_uuid, "outcome": outcome, "outcomeTimestamp": ts}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": s} for s in (accepted or ["s1"])]
    if reason or comment:
        item["overrideReason"] = {}
        if reason:
            item["overrideReason"]["reason"] = {"system": "urn:rituximab-cds:override-reason", "code": reason,
                                                "display": reason.upper()}
        if comment:
            item["overrideReason"]["userComment"] = comment
    return item


def test_migrate_is_idempotent_and_audit_rows_are_written(store):
    store.migrate()
    store.record_audit(AuditEntry("rituximab-order-sign", 200, hook="order-sign", hook_instance="h1",
                                  patient_ref="p1", cards=[card("c1"), card("c2", "indication", "indication.summary",
                                                                            "info")],
                                  data_origins={"observations": "query"}, fhir_queries=8))
    store.flush()
    assert store.count(AuditEvent) == 1 and store.count(AuditCard) == 2


def test_a_batch_of_audit_rows_keeps_each_card_with_its_own_call(store):
    # One transaction for many calls: every card row must point at the event of its own call.
    cards_per_call = [0, 3, 1, 0, 2, 5, 1]
    for i, n in enumerate(cards_per_call):
        store.record_audit(AuditEntry("rituximab-order-sign", 200, hook="order-sign", hook_instance=f"call-{i}",
                                      patient_ref=f"p{i}", latency_ms=1.5, data_origins={"patient": "prefetch"},
                                      cards=[card(f"call-{i}-card-{j}") for j in range(n)]))
    store.flush()
    with Session(store.engine) as session:
        pairs = session.execute(select(AuditEvent.hook_instance, AuditCard.card_uuid)
                                .join(AuditCard, AuditCard.event_id == AuditEvent.id)).all()
        events = session.execute(select(AuditEvent.hook_instance, AuditEvent.patient_ref, AuditEvent.data_origins,
                                        AuditEvent.latency_ms)).all()
    assert len(pairs) == sum(cards_per_call)
    assert all(card_uuid.startswith(instance + "-") for instance, card_uuid in pairs)
    assert sorted(events) == sorted((f"call-{i}", f"p{i}", {"patient": "prefetch"}, 1.5)
                                    for i in range(len(cards_per_call)))


def test_patient_reference_can_be_a_keyed_hash(tmp_path):
    s = Store(make_engine(f"sqlite:///{tmp_path / 'h.sqlite3'}"), patient_hash_key="k")
    ref = s.patient_reference("seed-a")
    assert ref.startswith("hmac-sha256:") and "seed-a" not in ref
    assert s.patient_reference("seed-a") == ref


def test_feedback_is_idempotent(store):
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c1")]))
    store.flush()
    r1 = store.record_feedback("rituximab-order-sign", [fb("c1", reason="x")])
    r2 = store.record_feedback("rituximab-order-sign", [fb("c1", reason="x")])
    assert (r1.stored, r2.stored, r2.duplicates) == (1, 0, 1)
    store.record_feedback("rituximab-order-sign", [fb("c1", outcome="accepted")])  # a different outcome
    assert store.count(Feedback) == 2


def test_feedback_for_an_unknown_card_is_kept_and_flagged(store):
    result = store.record_feedback("rituximab-order-sign", [fb("never-shown")])
    assert result.stored == 1 and result.unknown_cards == 1
    rows = store.override_report()
    assert rows[-1]["topic"] == "(feedback for unknown cards)" and rows[-1]["feedback"] == 1


def test_report_prints_exactly_the_expected_rates(store):
    cards = [card(f"a{i}", "hbv", "safety.hbv") for i in range(10)] + [card(f"b{i}", "tb", "safety.tb")
                                                                       for i in range(4)]
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=cards))
    store.flush()
    items = [fb(f"a{i}", "accepted") for i in range(3)]
    items += [fb("a3", reason="documented-elsewhere", comment="lab at outside hospital"),
              fb("a4", reason="documented-elsewhere"), fb("a5", reason="already-ordered"),
              fb("a6", reason="documented-elsewhere"), fb("a7")]
    items += [fb("b0", reason="not-applicable"), fb("b1", reason="not-applicable")]
    store.record_feedback("rituximab-order-sign", items)
    rows = {r["rule_id"]: r for r in store.override_report()}
    hbv = rows["safety.hbv"]
    assert (hbv["shown"], hbv["accepted"], hbv["overridden"], hbv["no_feedback"]) == (10, 3, 5, 2)
    assert hbv["override_rate"] == 0.625
    # Grouped by code: the display ("DOCUMENTED-ELSEWHERE" here) is client free text, never stored.
    assert hbv["top_override_reasons"][0] == {"reason": "documented-elsewhere", "count": 3}
    assert hbv["comments"] == 1
    tb = rows["safety.tb"]
    assert (tb["shown"], tb["overridden"], tb["no_feedback"], tb["override_rate"]) == (4, 2, 2, 1.0)
    table = format_report(store.override_report(), "table")
    assert "62%" in table and "safety.hbv" in table
    assert "0.625" in format_report(store.override_report(), "csv")


def test_latest_feedback_decides_the_outcome(store):
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c1")]))
    store.flush()
    store.record_feedback("rituximab-order-sign", [fb("c1", ts="2026-11-23T10:00:00Z"),
                                                   fb("c1", "accepted", ts="2026-11-23T10:05:00Z")])
    row = store.override_report()[0]
    assert (row["accepted"], row["overridden"]) == (1, 0)


def test_report_since_filters_by_audit_time(store):
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("old")],
                                  time=datetime.now(UTC) - timedelta(days=40)))
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("new")]))
    store.flush()
    assert store.override_report()[0]["shown"] == 2
    assert store.override_report(datetime.now(UTC) - timedelta(days=7))[0]["shown"] == 1


def test_purge_removes_old_audit_rows(store):
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("old")],
                                  time=datetime.now(UTC) - timedelta(days=400)))
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("new")]))
    store.flush()
    assert store.purge_audit(365) == 1
    assert store.count(AuditEvent) == 1 and store.count(AuditCard) == 1


@pytest.mark.parametrize(("body", "fragment"), [
    ({}, "feedback"), ({"feedback": []}, "feedback"),
    ({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]},
     "acceptedSuggestions"),
    ({"feedback": [{"card": "c", "outcome": "maybe", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}, "outcome"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]}, "outcomeTimestamp"),
])
def test_malformed_feedback(body, fragment):
    with pytest.raises(FeedbackError, match=fragment):
        validate_feedback(body)


def test_feedback_at_the_column_limits_is_stored(store):
    # validate_feedback refuses anything longer (or with NUL), which PostgreSQL would reject as a DataError.
    item = fb("c" * 64, reason="x" * 100)
    item["overrideReason"]["reason"].update(system="s" * 200, display="é" * 300)
    assert store.record_feedback("rituximab-order-sign", validate_feedback({"feedback": [item]})).stored == 1
    for too_long in (fb("c" * 65), fb("c\x00")):
        with pytest.raises(FeedbackError):
            validate_feedback({"feedback": [too_long]})


def test_unreachable_database():
    s = Store(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/test"))
    s.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c1")]))  # never raises
    s.flush()
    assert s.audit_failures == 1
    with pytest.raises(StoreUnavailable):
        s.record_feedback("rituximab-order-sign", [fb("c1")])


class TcpProxy:
    """A loopback TCP proxy in front of PostgreSQL that can be cut and restored."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        self.listener.listen(50)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def restore(self) -> None:
        self.up = True


def test_database_outage_and_recovery_without_restart():
    proxy = TcpProxy()
    with pg_schema() as schema:
        s = Store(make_engine(pg_url(schema, proxy.port)))
        s.migrate()
        s.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c1")]))
        s.flush()
        assert s.record_feedback("rituximab-order-sign", [fb("c1")]).stored == 1
        proxy.cut()
        s.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c2")]))
        s.flush()
        assert s.audit_failures == 1
        with pytest.raises(StoreUnavailable):
            s.record_feedback("rituximab-order-sign", [fb("c2")])
        proxy.restore()
        s.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c3")]))
        s.flush()
        assert s.record_feedback("rituximab-order-sign", [fb("c2")]).stored == 1
        assert s.count(AuditCard) == 2 and s.count(Feedback) == 2
        s.close()
        s.engine.dispose()
    proxy.listener.close()


def test_concurrent_writers_lose_nothing(tmp_path):
    with pg_schema() as schema:
        s = Store(make_engine(pg_url(schema)))
        s.migrate()
        for i in range(50):
            s.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card(f"c{i}")]))
        s.flush()
        errors: list[Exception] = []

        def send(i: int) -> None:
            try:
                s.record_feedback("rituximab-order-sign", [fb(f"c{i % 50}", ts=f"2026-11-23T10:00:{i % 25:02d}Z")])
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        # 200 sends over 50 cards x 25 timestamps, each (card, ts) pair sent 4 times from i, i+50, ...
        distinct = {(i % 50, i % 25) for i in range(200)}
        assert s.count(Feedback) == len(distinct)
        assert s.count(AuditEvent) == 50
        s.close()
        s.engine.dispose()


def test_override_analytics_keep_reason_codes_only(store):
    # Defect 13: the display text a client sends was stored, grouped on and returned.
    store.record_audit(AuditEntry("rituximab-order-sign", 200, cards=[card("c1"), card("c2")]))
    store.flush()
    secret = "Mrs Okafor refused, see her daughter 555-0100"
    first = fb("c1", reason="patient-declined", comment=secret)
    first["overrideReason"]["reason"]["display"] = secret
    second = fb("c2", reason="patient-declined")
    second["overrideReason"]["reason"]["display"] = "another wording"
    store.record_feedback("rituximab-order-sign", validate_feedback({"feedback": [first, second]}))
    report = store.override_report()
    assert report[0]["top_override_reasons"] == [{"reason": "patient-declined", "count": 2}]
    assert report[0]["comments"] == 1
    with store.engine.connect() as conn:
        dump = json.dumps([list(map(str, row)) for row in conn.execute(select(Feedback.__table__))])
    assert "Okafor" not in dump and "another wording" not in dump and "555-0100" not in dump


@pytest.mark.parametrize(("hook_instance", "patient_ref"), [
    ("h" * 500, "p1"), ("h\x00nul", "p1"), ("h1", "p" * 300), ("h1", "seed\x00b"), ("h\x1b[2J", "\x00" * 200),
], ids=["long-instance", "nul-instance", "long-patient", "nul-patient", "control-both"])
def test_an_audit_row_is_never_dropped_for_its_identifiers(store, hook_instance, patient_ref):
    # Defect 5: these made PostgreSQL refuse the row (DataError); the call left no trace but a log line.
    store.record_audit(AuditEntry("rituximab-order-sign", 200, hook_instance=hook_instance, patient_ref=patient_ref,
                                  cards=[card("c1")]))
    store.flush()
    assert store.audit_failures == 0
    with Session(store.engine) as session:
        row = session.scalars(select(AuditEvent)).one()
    assert row.identifiers_sanitised is True
    assert len(row.hook_instance) <= 128 and len(row.patient_ref) <= 128
    assert "\x00" not in row.hook_instance + row.patient_ref
    assert store.count(AuditCard) == 1


def test_plain_identifiers_are_stored_unchanged(store):
    store.record_audit(AuditEntry("rituximab-order-sign", 200, hook_instance="h-1", patient_ref="seed-b"))
    store.flush()
    with Session(store.engine) as session:
        row = session.scalars(select(AuditEvent)).one()
    assert (row.hook_instance, row.patient_ref, row.identifiers_sanitised) == ("h-1", "seed-b", False)


def test_every_audit_field_is_stored_as_given(store):
    # PostgreSQL writes the rows by COPY (whose text format reads \N as NULL), SQLite by INSERT: both keep every
    # value as given.
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    store.record_audit(AuditEntry("rituximab-order-sign", 200, hook="order-sign", hook_instance="\\N",
                                  patient_ref="p,1\\.", latency_ms=2.75, fhir_queries=3, fhir_ms=None,
                                  data_origins={"patient": "prefetch", "observations": "query"},
                                  cards=[card("c1", "indication", "indication.summary", "info") | {
                                      "rules": [{"id": "indication.summary", "version": "2"},
                                                {"id": "dosing.bsa", "version": 1}]}], time=at))
    store.record_audit(AuditEntry("rituximab-order-sign", 412, latency_ms=None, data_origins=None, time=at))
    store.flush()
    assert store.audit_failures == 0
    with Session(store.engine) as session:
        events = {e.status: e for e in session.scalars(select(AuditEvent))}
        (card_row,) = session.scalars(select(AuditCard)).all()
    ok, failed = events[200], events[412]
    assert (ok.service_id, ok.hook, ok.hook_instance, ok.patient_ref, ok.identifiers_sanitised) == (
        "rituximab-order-sign", "order-sign", "\\N", "p,1\\.", False)
    assert (ok.latency_ms, ok.fhir_queries, ok.fhir_ms) == (2.75, 3, None)
    assert ok.data_origins == {"patient": "prefetch", "observations": "query"}
    assert ok.created_at.replace(tzinfo=UTC) == at  # SQLite gives the time back without its zone
    assert (failed.hook, failed.latency_ms, failed.data_origins, failed.fhir_queries) == (None, None, None, 0)
    assert card_row.event_id == ok.id
    assert (card_row.card_uuid, card_row.topic, card_row.indicator, card_row.rule_id, card_row.rule_version,
            card_row.rules) == ("c1", "indication", "info", "indication.summary", "2",
                                "indication.summary@2,dosing.bsa@1")


def test_a_refused_entry_in_a_batch_loses_only_itself(store):
    # A card uuid already stored makes the batch's transaction fail; the others are then written one by one.
    store.record_audit(AuditEntry("rituximab-order-sign", 200, hook_instance="first", cards=[card("taken")]))
    store.flush()
    for i in range(5):
        uuid = "taken" if i == 2 else f"new-{i}"
        store.record_audit(AuditEntry("rituximab-order-sign", 200, hook_instance=f"call-{i}", cards=[card(uuid)]))
    store.flush()
    assert store.audit_failures == 1
    with Session(store.engine) as session:
        pairs = session.execute(select(AuditEvent.hook_instance, AuditCard.card_uuid)
                                .join(AuditCard, AuditCard.event_id == AuditEvent.id)).all()
    assert sorted(pairs) == [("call-0", "new-0"), ("call-1", "new-1"), ("call-3", "new-3"), ("call-4", "new-4"),
                             ("first", "taken")]
