"""Instructions per audit entry written to PostgreSQL by the audit writer's store, under callgrind.

``python -m benchmarks.audit_writer_cost [--batches N] [--batch-size B] [--cards C]``
writes N batches of B entries (C cards each, like a seed call's) through
``Store._write_audit_batch`` into a fresh schema, after two uncounted batches,
and once with those two alone; the difference over N x B is one entry's
cost in the writer process (the database server's own work is not counted).
The channel's receive and decode are not included.  Needs PostgreSQL and valgrind.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks.instructions import ROOT, callgrind
from benchmarks.procs import pg_database_url

_CHILD = """
import sys, uuid
from service.store.audit import AuditEntry
from service.store.store import Store, make_engine
url, batches, size, cards = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
TOPICS = ("indication", "hbv", "tb", "dosing", "cbc", "hcv", "vaccination", "immunoglobulins")

def entry():
    return AuditEntry("rituximab-order-sign", 200, hook="order-sign", hook_instance=str(uuid.uuid4()),
                      patient_ref="seed-a", latency_ms=2.3,
                      data_origins={"patient": "prefetch", "observations": "prefetch"},
                      cards=[{"uuid": str(uuid.uuid4()), "topic": TOPICS[i % len(TOPICS)], "indicator": "warning",
                              "rules": [{"id": f"safety.{TOPICS[i % len(TOPICS)]}", "version": "2"}]}
                             for i in range(cards)])

store = Store(make_engine(url))
prepared = [[entry() for _ in range(size)] for _ in range(batches + 2)]
for batch in prepared:
    store._write_audit_batch(batch)
store.close()
"""


def per_entry(url: str, batches: int, size: int, cards: int) -> int:
    """Instructions of one entry: (2 + batches) batches minus 2, over batches x size."""
    # Uncounted first: bytecode written, so neither counted run compiles a changed module.
    subprocess.run([sys.executable, "-c", _CHILD, url, "0", "1", "1"], cwd=ROOT, check=True, capture_output=True)

    def run(n: int) -> int:
        return callgrind(["-c", _CHILD, url, str(n), str(size), str(cards)])

    return (run(batches) - run(0)) // (batches * size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.audit_writer_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=40, help="entries per transaction (the writer's linger "
                        "gathers about 40 at 400 calls a second)")
    parser.add_argument("--cards", type=int, default=5)
    args = parser.parse_args(argv)
    from service.store.store import Store, make_engine

    with pg_database_url() as url:
        store = Store(make_engine(url))
        store.migrate()
        store.close()
        store.engine.dispose()
        n = per_entry(url, args.batches, args.batch_size, args.cards)
    print(f"audit writer, PostgreSQL: {n / 1e3:.0f} K instructions per entry "
          f"({args.batch_size} entries a batch, {args.cards} cards each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
