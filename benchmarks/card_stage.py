"""Instructions of the card stage alone (findings -> card JSON), counted by valgrind's callgrind.

``python -m benchmarks.card_stage`` evaluates each seed workload once, keeps
the findings, then builds the cards from them N times (service.hooks.invoke's
``_answer``: cards, links, JSON body; not the serialisation) with the
collector's view of the start-up heap frozen.  Counting is switched on only
inside that loop (``--toggle-collect`` on ``itertools.starmap``, which the card
code never calls), so start-up and evaluation are left out.  ``--child`` is
the part that runs under valgrind.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
from typing import Any

from benchmarks.instructions import WORKLOADS, callgrind, print_rows


def _child(workload: str, calls: int) -> None:
    import logging

    from benchmarks.run import inprocess_app
    from benchmarks.workloads import build_workloads
    from service.hooks import invoke
    from service.hooks.registry import SERVICES_BY_ID

    app = inprocess_app(None)
    logging.disable(logging.INFO)
    w = next(w for w in build_workloads(None) if w.name == workload)
    captured: list[Any] = []
    answer = invoke._answer

    def capture(*args: Any) -> Any:
        captured.extend(args)
        return answer(*args)

    invoke._answer = capture  # type: ignore[assignment]
    invoke.handle_hook(SERVICES_BY_ID[w.service_id], json.loads(json.dumps(w.body)), app.extensions["cds.runtime"])
    invoke._answer = answer
    req, findings, now, _timings, *rest = captured

    def cards() -> None:
        answer(req, findings, now, {}, *rest)

    for _ in range(5):
        cards()
    gc.collect()
    gc.freeze()
    list(itertools.starmap(cards, [()] * calls))


def per_call(workload: str, calls: int) -> int:
    command = ["-m", "benchmarks.card_stage", "--child", workload, "--calls", str(calls)]
    return callgrind(command, ("--collect-atstart=no", "--toggle-collect=starmap_next")) // calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.card_stage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--child", metavar="WORKLOAD")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.calls)
        return 0
    rows = {w: per_call(w, args.calls) for w in WORKLOADS}
    print_rows("card stage, instructions per call", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
