"""Bounded soak (``bash benchmarks/soak.sh [--seconds 90]``): mixed load against gunicorn on PostgreSQL.

Several client threads on loopback send order-sign and patient-view calls,
feedback for the cards they got back, and malformed requests, for a fixed
time.  Then: requests and errors by status, feedback sent vs rows stored,
audit rows vs successful hook calls, RSS per worker at start and end.
Exits 1 on any 5xx, connection error, or lost feedback.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import requests

from benchmarks.procs import SERVICE_APP, count_rows, gunicorn, pg_database_url
from benchmarks.workloads import with_full_prefetch
from fhir_fixtures import load_bundle, load_request

MALFORMED: list[tuple[str, bytes, str]] = [
    ("invalid JSON", b'{"hook": "order-sign", ', "application/json"),
    ("wrong hook", json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}}).encode(),
     "application/json"),
    ("no context", json.dumps({"hook": "order-sign", "hookInstance": "x"}).encode(), "application/json"),
    ("too deep", ("[" * 200 + "]" * 200).encode(), "application/json"),
    ("not JSON content type", b"hook=order-sign", "application/x-www-form-urlencoded"),
]


def _hook_bodies() -> list[tuple[str, dict[str, Any]]]:
    today = datetime.now(UTC).date()
    out = []
    for name, service in (("seed-a", "rituximab-order-sign"), ("seed-b", "rituximab-order-sign"),
                          ("pv-overdue", "rituximab-monitoring"), ("hbv-never-screened", "rituximab-order-sign")):
        out.append((service, with_full_prefetch(load_request(name, today), load_bundle(name, today), name)))
    return out


class Tally:
    """Thread-safe counts of what the clients saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.feedback_sent = 0
        self.feedback_acked = 0
        self.hooks_ok = 0
        self.connection_errors = 0

    def add(self, kind: str, status: int | str) -> None:
        with self.lock:
            self.kinds[kind] += 1
            self.status[str(status)] += 1


def client_loop(base: str, stop_at: float, tally: Tally, seed: int, bodies: list[tuple[str, dict[str, Any]]]) -> None:
    rng = random.Random(seed)  # noqa: S311 - load mix, not secrets
    session = requests.Session()
    counter = itertools.count()
    while time.monotonic() < stop_at:
        roll = rng.random()
        try:
            if roll < 0.1:
                label, data, ctype = rng.choice(MALFORMED)
                r = session.post(f"{base}/cds-services/rituximab-order-sign", data=data,
                                 headers={"Content-Type": ctype}, timeout=30)
                tally.add("malformed", r.status_code)
                continue
            service, body = rng.choice(bodies)
            body = {**body, "hookInstance": f"soak-{seed}-{next(counter)}"}
            r = session.post(f"{base}/cds-services/{service}", json=body, timeout=30)
            tally.add("hook", r.status_code)
            if r.status_code != 200:
                continue
            with tally.lock:
                tally.hooks_ok += 1
            cards = r.json()["cards"]
            if cards and rng.random() < 0.5:
                card = rng.choice(cards)
                item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": datetime.now(UTC).isoformat()}
                if card.get("overrideReasons"):
                    item.update(outcome="overridden", overrideReason={"reason": card["overrideReasons"][0]})
                else:
                    item["outcome"] = "accepted"
                    if card.get("suggestions"):
                        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
                f = session.post(f"{base}/cds-services/{service}/feedback", json={"feedback": [item]}, timeout=30)
                tally.add("feedback", f.status_code)
                with tally.lock:
                    tally.feedback_sent += 1
                    if f.status_code == 200:
                        tally.feedback_acked += f.json()["stored"]
        except requests.RequestException:
            with tally.lock:
                tally.connection_errors += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    bodies = _hook_bodies()
    tally = Tally()
    with pg_database_url() as db, gunicorn(SERVICE_APP, args.workers, {
            "CDS_JWT_REQUIRED": "false", "CDS_DATABASE_URL": db, "CDS_LOG_LEVEL": "WARNING"}) as svc:
        # Warm up (imports, pools), then measure RSS from there.
        for service, body in bodies:
            requests.post(f"{svc.url}/cds-services/{service}", json=body, timeout=30)
        rss_start = svc.worker_rss_mb()
        started = time.monotonic()
        threads = [threading.Thread(target=client_loop, args=(svc.url, started + args.seconds, tally, i, bodies))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        rss_end = svc.worker_rss_mb()
        health = requests.get(f"{svc.url}/healthz", timeout=5).status_code
        time.sleep(2)  # let the audit writers drain
        feedback_rows = count_rows(db, "feedback")
        audit_rows = count_rows(db, "audit_event")
    total = sum(tally.status.values())
    server_errors = sum(n for s, n in tally.status.items() if s.startswith("5"))
    print(f"# Soak: {args.seconds:g} s, {args.workers} gunicorn workers on PostgreSQL, {args.clients} clients\n")
    print("| measure | value |\n|---|---|")
    print(f"| requests | {total} ({total / elapsed:.0f}/s) |")
    print(f"| by kind | {dict(tally.kinds)} |")
    print(f"| by status | {dict(sorted(tally.status.items()))} |")
    print(f"| 5xx | {server_errors} |")
    print(f"| connection errors | {tally.connection_errors} |")
    print(f"| feedback sent / acknowledged stored / rows in PostgreSQL | {tally.feedback_sent} / "
          f"{tally.feedback_acked} / {feedback_rows} |")
    print(f"| successful hook calls / audit rows (+{len(bodies)} warm-up) | {tally.hooks_ok} / {audit_rows} |")
    print(f"| RSS per worker MB, start -> end | {rss_start} -> {rss_end} |")
    print(f"| /healthz after the soak | {health} |")
    lost = tally.feedback_sent - feedback_rows
    ok = server_errors == 0 and tally.connection_errors == 0 and lost == 0 and health == 200
    print(f"\n{'PASS' if ok else 'FAIL'}: {server_errors} 5xx, {tally.connection_errors} connection errors, "
          f"{lost} feedback lost")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
