"""``rituximab-cds`` command line: serve, demo, evaluate, report, db."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.fhir.queries import PREFETCH_TYPES


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from exc


def bundle_to_prefetch(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """A complete prefetch built from a patient's transaction/collection Bundle."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            by_type.setdefault(resource.get("resourceType", ""), []).append(resource)
    prefetch: dict[str, Any] = {}
    for key, rtype in PREFETCH_TYPES.items():
        items = by_type.get(rtype, [])
        if key == "patient":
            match = [r for r in items if r.get("id") == patient_id] or items
            prefetch[key] = match[0] if match else None
        else:
            if rtype.startswith("Medication"):
                items = items + by_type.get("Medication", [])
            prefetch[key] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in items],
            }
    return prefetch


def _hook_request_from_files(bundle_path: str, order_path: str | None) -> dict[str, Any]:
    bundle = _read_json(bundle_path)
    if bundle.get("resourceType") != "Bundle":
        raise SystemExit(f"{bundle_path} is not a FHIR Bundle")
    patients = [
        e["resource"] for e in bundle.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "Patient"
    ]
    if not patients:
        raise SystemExit(f"{bundle_path} has no Patient")
    patient_id = patients[0].get("id", "unknown")
    if order_path:
        order = _read_json(order_path)
        if order.get("hook"):  # a whole hook request: use its context
            request = dict(order)
            request["prefetch"] = bundle_to_prefetch(bundle, request["context"]["patientId"])
            request.pop("fhirServer", None)
            request.pop("fhirAuthorization", None)
            return request
        draft = order if order.get("resourceType") == "Bundle" else {
            "resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    else:
        drafts = [
            e["resource"] for e in bundle.get("entry") or []
            if e.get("resource", {}).get("resourceType") == "MedicationRequest"
            and e["resource"].get("status") == "draft"
        ]
        if not drafts:
            raise SystemExit("no ORDER given and the bundle has no draft MedicationRequest")
        draft = {"resourceType": "Bundle", "type": "collection",
                 "entry": [{"resource": d} for d in drafts]}
    return {
        "hook": "order-sign",
        "hookInstance": "cli-evaluate",
        "context": {"patientId": patient_id, "userId": "Practitioner/cli", "draftOrders": draft},
        "prefetch": bundle_to_prefetch(bundle, patient_id),
    }


def render_cards_text(cards: list[dict[str, Any]]) -> str:
    """Cards as readable text for a terminal."""
    if not cards:
        return "(no cards)\n"
    out = []
    for c in cards:
        topic = c["source"].get("topic", {}).get("code", "")
        out.append(f"[{c['indicator'].upper()}] ({topic}) {c['summary']}")
        if c.get("detail"):
            out.append("")
            out.extend("    " + line for line in c["detail"].splitlines())
        for s in c.get("suggestions", []):
            star = "*" if s.get("isRecommended") else "-"
            out.append(f"  {star} suggestion: {s['label']}")
        out.append("")
    return "\n".join(out) + "\n"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from service.clinical.policy import Policy
    from service.fhir.client import FhirClient
    from service.hooks.invoke import HookRuntime, handle_hook
    from service.hooks.registry import SERVICES_BY_ID
    from service.hooks.request import HookRequestError
    from service.settings import Settings

    settings = Settings.from_env()
    request = _hook_request_from_files(args.bundle, args.order)
    service = SERVICES_BY_ID["rituximab-monitoring" if request["hook"] == "patient-view"
                             else f"rituximab-{request['hook']}"]
    runtime = HookRuntime(
        client=FhirClient(), executor=ThreadPoolExecutor(max_workers=1),
        policy=Policy(tb_screening=args.tb_screening or settings.tb_screening,
                      prefer_biosimilar=settings.prefer_biosimilar),
        deadline_seconds=1.0, fhir_allowed=lambda _url: False,
    )
    now = datetime.fromisoformat(args.as_of).replace(tzinfo=UTC) if args.as_of else None
    try:
        outcome = handle_hook(service, request, runtime, now=now)
    except HookRequestError as exc:
        print(f"invalid request: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(outcome.body, indent=2))
    else:
        sys.stdout.write(render_cards_text(outcome.body.get("cards", [])))
    return 0 if outcome.status == 200 else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from service.gunicorn_app import serve

    serve(args.host, args.port, args.workers, threads=args.threads)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    return run_demo(host=args.host, port=args.port, keep_running=not args.no_wait)


def _store() -> Any:
    from service.settings import Settings
    from service.store import Store

    return Store.from_settings(Settings.from_env())


def cmd_report(args: argparse.Namespace) -> int:
    from service.store.report import format_report

    since = datetime.fromisoformat(args.since).replace(tzinfo=UTC) if args.since else None
    store = _store()
    store.migrate()
    sys.stdout.write(format_report(store.override_report(since), args.format))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from service.settings import Settings

    store = _store()
    store.migrate()
    if args.action == "purge":
        days = args.days or Settings.from_env().audit_retention_days
        print(f"purged {store.purge_audit(days)} audit events older than {days} days")
    else:
        print("database schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rituximab-cds", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the service under gunicorn")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--threads", type=int, default=4)
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="FHIR server + fixture patients + service, fire the seed hooks")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8080)
    d.add_argument("--no-wait", action="store_true", help="stop after printing the cards")
    d.set_defaults(func=cmd_demo)

    e = sub.add_parser("evaluate", help="print the cards for a patient bundle and a draft order")
    e.add_argument("bundle", help="FHIR Bundle with the patient's resources")
    e.add_argument("order", nargs="?", help="MedicationRequest, Bundle or hook request JSON")
    e.add_argument("--format", choices=("text", "json"), default="text")
    e.add_argument("--as-of", help="evaluate as of this date (YYYY-MM-DD); default now")
    e.add_argument("--tb-screening", choices=("required", "advisory", "off"))
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("report", help="analytics from stored feedback")
    r.add_argument("what", choices=("overrides",))
    r.add_argument("--since", help="only cards shown on or after this date (YYYY-MM-DD)")
    r.add_argument("--format", choices=("table", "json", "csv"), default="table")
    r.set_defaults(func=cmd_report)

    db = sub.add_parser("db", help="database schema and retention")
    db.add_argument("action", choices=("upgrade", "purge"))
    db.add_argument("--days", type=int, help="purge audit rows older than this (default CDS_AUDIT_RETENTION_DAYS)")
    db.set_defaults(func=cmd_db)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
