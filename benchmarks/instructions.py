"""Instructions per in-process call, counted by valgrind's callgrind (stable on a noisy machine).

``python -m benchmarks.instructions [--calls N]`` runs each seed workload's
handle_hook N times under callgrind after a warm-up, counting only inside the
counted loop (callgrind collects inside ``functools.reduce``, which nothing in
service/ or cards/ calls), after ``gc.collect(); gc.freeze()``; the count
divided by N is the cost of one call: parse the raw body, the rules, the cards,
the JSON answer (no HTTP server, no audit).  One valgrind run per workload:
the third session's "(warm-up + calls) minus warm-up alone" took two runs and
its difference drifted by up to 0.6 M on seed A between runs of the same code.
Needs the ``valgrind`` Debian package.  Takes a minute or two per workload.
``--heavy`` adds the heavy chart (about 2,000 Observations in the prefetch; fewer
calls, each is slow under valgrind).  Each call parses the raw body afresh, so the
heavy figure includes the garbage collector's passes over that many new objects.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("seed-a order-sign", "seed-b order-sign")
HEAVY = "heavy order-sign"

_CHILD = """
import functools, gc, logging, sys
from benchmarks.run import inprocess_app
from benchmarks.workloads import build_workloads
from service.hooks.invoke import handle_hook
from service.hooks.registry import SERVICES_BY_ID
try:  # the service's own parser and writer; json where an older checkout has none
    from service.http.json_body import loads
    from orjson import dumps
except ImportError:
    from json import dumps, loads
app = inprocess_app(None)
w = next(w for w in build_workloads(None) if w.name == sys.argv[1])
raw = __import__("json").dumps(w.body).encode()
runtime, service = app.extensions["cds.runtime"], SERVICES_BY_ID[w.service_id]
logging.disable(logging.INFO)
served = sys.argv[3:] == ["served"]  # as the endpoint calls it: depth limit, the course-review link
kwargs = {"app_launch_url": "http://127.0.0.1:8000/app/launch"} if served else {}
read = (lambda: loads(raw, max_depth=64)) if served else (lambda: loads(raw))
def call(_: object, __: object) -> None:
    dumps(handle_hook(service, read(), runtime, **kwargs).body)
for _ in range(3):
    call(None, None)
gc.collect()
gc.freeze()  # the start-up heap is not walked by a collection inside the counted loop
functools.reduce(call, range(int(sys.argv[2])), None)  # the only code callgrind counts
"""


def callgrind(command: list[str], options: tuple[str, ...] = ()) -> int:
    """Instructions ``python <command>`` executes under valgrind's callgrind (with its ``options``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", *options, f"--callgrind-out-file={out}", sys.executable,
                        *command], cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        match = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.MULTILINE)
        if not match:
            raise RuntimeError("no callgrind summary")
        return int(match.group(1))


def print_rows(heading: str, rows: dict[str, int]) -> None:
    """A markdown table of instructions per call (millions), then the raw counts as JSON."""
    print(f"| workload | {heading} |\n|---|---|")
    for w, n in rows.items():
        print(f"| {w} | {n / 1e6:.2f} M |")
    print(json.dumps(rows))


#: callgrind counts only while the child is inside functools.reduce (the counted loop)
_COUNT_LOOP_ONLY = ("--collect-atstart=no", "--toggle-collect=functools_reduce")


def per_call(workload: str, calls: int, served: bool = False) -> int:
    """Instructions of one call: the counted loop's instructions over its calls."""
    command = ["-c", _CHILD, workload, str(calls), *(["served"] if served else [])]
    return callgrind(command, _COUNT_LOOP_ONLY) // calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--heavy", action="store_true", help=f"also count {HEAVY!r} (with --calls / 4 calls)")
    parser.add_argument("--served", action="store_true",
                        help="call as the endpoint does: the body read with the depth limit, and the course-review "
                             "launch URL given (its link's appContext is built); not comparable with the default")
    args = parser.parse_args(argv)
    rows = {w: per_call(w, args.calls, args.served) for w in WORKLOADS}
    if args.heavy:
        rows[HEAVY] = per_call(HEAVY, max(1, args.calls // 4), args.served)
    print_rows("instructions per call (parse, rules, cards, JSON out)", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
