"""``rituximab-cds`` command line: serve, demo, evaluate, request, report, db.

A leaf: nothing imports this module.  Every mistake on the command line ends
in a one-line message and exit code 2 (argparse's convention), never a
Python traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Re-exported for callers written before it moved to service.hooks.prefetch.
from service.hooks.prefetch import bundle_to_prefetch

__all__ = ["bundle_to_prefetch", "build_parser", "main"]


class CliError(Exception):
    """A problem with the command's input; the message is the whole explanation (exit code 2)."""


def iso_date(text: str) -> datetime:
    """An argparse type: ``YYYY-MM-DD`` (or a full ISO 8601 time), as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise CliError(f"{what} {path} is not JSON (not UTF-8 text)") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise CliError(f"{what} {path} is not JSON{where}") from None


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry")
    return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)] \
        if isinstance(entries, list) else []


def _hook_request_from_files(bundle_path: str, order_path: str | None) -> dict[str, Any]:
    bundle = _read_json(bundle_path, "BUNDLE")
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise CliError(f"BUNDLE {bundle_path} is not a FHIR Bundle (resourceType must be \"Bundle\")")
    resources = _resources(bundle)
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        raise CliError(f"BUNDLE {bundle_path} has no Patient")
    patient_id = str(patients[0].get("id", "unknown"))
    if order_path:
        order = _read_json(order_path, "ORDER")
        if not isinstance(order, dict):
            raise CliError(f"ORDER {order_path} must be a JSON object (MedicationRequest, Bundle or hook request)")
        if order.get("hook"):  # a whole hook request: use its context
            context = order.get("context")
            if not isinstance(context, dict) or not context.get("patientId"):
                raise CliError(f"ORDER {order_path} is a hook request without context.patientId")
            request = dict(order)
            request["prefetch"] = bundle_to_prefetch(bundle, str(context["patientId"]))
            request.pop("fhirServer", None)
            request.pop("fhirAuthorization", None)
            return request
        draft = order if order.get("resourceType") == "Bundle" else {
            "resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    else:
        drafts = [r for r in resources if r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft"]
        if not drafts:
            raise CliError("no ORDER given and the BUNDLE has no draft MedicationRequest")
        draft = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": d} for d in drafts]}
    return {
        "hook": "order-sign",
        "hookInstance": "cli-evaluate",
        "context": {"patientId": patient_id, "userId": "Practitioner/cli", "draftOrders": draft},
        "prefetch": bundle_to_prefetch(bundle, patient_id),
    }


def cmd_evaluate(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from rich.console import Console

    from service.clinical.policy import Policy
    from service.fhir.client import FhirClient
    from service.hooks.invoke import HookRuntime, handle_hook
    from service.hooks.registry import SERVICE_ID_BY_HOOK, SERVICES_BY_ID
    from service.hooks.request import HookRequestError
    from service.settings import Settings
    from service.terminal import print_cards

    settings = Settings.from_env()
    request = _hook_request_from_files(args.bundle, args.order)
    service_id = SERVICE_ID_BY_HOOK.get(str(request["hook"]))
    if service_id is None:
        raise CliError(f"unknown hook {request['hook']!r}; expected one of {', '.join(SERVICE_ID_BY_HOOK)}")
    runtime = HookRuntime(
        client=FhirClient(), executor=ThreadPoolExecutor(max_workers=1),
        policy=Policy(tb_screening=args.tb_screening or settings.tb_screening,
                      prefer_biosimilar=settings.prefer_biosimilar),
        deadline_seconds=1.0, fhir_allowed=lambda _url: False,
    )
    try:
        outcome = handle_hook(SERVICES_BY_ID[service_id], request, runtime, now=args.as_of)
    except HookRequestError as exc:
        raise CliError(f"invalid request: {exc}") from None
    if args.format == "json":
        print(json.dumps(outcome.body, indent=2))
    else:
        print_cards(Console(highlight=False), outcome.body.get("cards", []))
    return 0 if outcome.status == 200 else 1


def cmd_request(args: argparse.Namespace) -> int:
    from fhir_fixtures import load_bundle, load_request, request_names, scenario_names
    from service.hooks.registry import SERVICE_ID_BY_HOOK

    if args.name not in request_names():
        raise CliError(f"no fixture request {args.name!r}; choose from: {', '.join(request_names())}")
    today = datetime.now(UTC).date()
    body = load_request(args.name, today)
    patient_id = str(body["context"]["patientId"])
    if args.fhir_server:
        body["fhirServer"] = args.fhir_server.rstrip("/")
    if args.prefetch:
        if patient_id not in scenario_names():
            raise CliError(f"no fixture patient {patient_id!r} to fill the prefetch from; use --no-prefetch")
        body["prefetch"] = bundle_to_prefetch(load_bundle(patient_id, today), patient_id)
    elif not args.fhir_server:
        print("note: without prefetch or --fhir-server the service answers 412", file=sys.stderr)
    print(f"POST /cds-services/{SERVICE_ID_BY_HOOK[body['hook']]}", file=sys.stderr)
    print(json.dumps(body, indent=2))
    return 0


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


def _database_label(store: Any) -> str:
    return str(store.engine.url.render_as_string(hide_password=True))


def cmd_report(args: argparse.Namespace) -> int:
    from service.store.report import format_report

    store = _store()
    # On stderr, so json/csv output stays clean: an empty table usually means the wrong database.
    print(f"database: {_database_label(store)} (CDS_DATABASE_URL)", file=sys.stderr)
    store.migrate()
    sys.stdout.write(format_report(store.override_report(args.since), args.format))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from service.settings import Settings

    store = _store()
    store.migrate()
    if args.action == "purge":
        days = args.days or Settings.from_env().audit_retention_days
        print(f"purged {store.purge_audit(days)} audit events older than {days} days")
    else:
        print(f"database schema is up to date ({_database_label(store)})")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rituximab-cds", description=__doc__.split("\n", 1)[0])
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter

    s = sub.add_parser("serve", help="run the service under gunicorn", formatter_class=defaults,
                       description="Run the CDS Hooks service under gunicorn. Configuration comes from the "
                                   "CDS_* environment variables (README, Configuration).")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (keep loopback behind a TLS proxy)")
    s.add_argument("--port", type=_positive, default=8080, help="TCP port")
    s.add_argument("--workers", type=_positive, default=2, metavar="N", help="gunicorn worker processes")
    s.add_argument("--threads", type=_positive, default=4, metavar="T", help="threads per worker")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("demo", help="FHIR server + fixture patients + service, fire the seed hooks",
                       formatter_class=defaults,
                       description="Start the FHIR server with the fixture patients and the service in "
                                   "development mode, fire the seed scenarios' hooks and print the cards.")
    d.add_argument("--host", default="127.0.0.1", help="address the service binds")
    d.add_argument("--port", type=_positive, default=8080, help="port of the service")
    d.add_argument("--no-wait", action="store_true", help="stop after printing the cards")
    d.set_defaults(func=cmd_demo)

    e = sub.add_parser("evaluate", help="print the cards for a patient bundle and a draft order",
                       description="Evaluate a draft order against a patient's Bundle, without a server.")
    e.add_argument("bundle", metavar="BUNDLE.json", help="FHIR Bundle with the patient's resources")
    e.add_argument("order", metavar="ORDER.json", nargs="?",
                   help="MedicationRequest, Bundle or whole hook request (default: the bundle's draft orders)")
    e.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or the JSON response")
    e.add_argument("--as-of", type=iso_date, metavar="DATE", help="evaluate as of this date (YYYY-MM-DD); default now")
    e.add_argument("--tb-screening", choices=("required", "advisory", "off"), help="override CDS_TB_SCREENING")
    e.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("request", help="print a fixture hook request ready to send with curl",
                       description="Print fhir_fixtures/requests/NAME.json with its dates shifted to today "
                                   "and its prefetch filled from the fixture patient, ready to POST.")
    q.add_argument("name", metavar="NAME", help="fixture request name, e.g. seed-b or seed-a.sandbox")
    q.add_argument("--no-prefetch", dest="prefetch", action="store_false",
                   help="leave the prefetch out (then give --fhir-server so the service can query)")
    q.add_argument("--fhir-server", metavar="URL", help="set fhirServer (must be in CDS_ALLOWED_FHIR_SERVERS)")
    q.set_defaults(func=cmd_request)

    r = sub.add_parser("report", help="analytics from stored feedback",
                       description="Override rates per rule from the feedback in CDS_DATABASE_URL.")
    r.add_argument("what", metavar="REPORT", choices=("overrides",), help="the report: overrides")
    r.add_argument("--since", type=iso_date, metavar="DATE",
                   help="only cards shown on or after this date (YYYY-MM-DD)")
    r.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    r.set_defaults(func=cmd_report)

    db = sub.add_parser("db", help="database schema and retention")
    db.add_argument("action", metavar="ACTION", choices=("upgrade", "purge"), help="upgrade or purge")
    db.add_argument("--days", type=_positive, metavar="N",
                    help="purge audit rows older than this (default CDS_AUDIT_RETENTION_DAYS)")
    db.set_defaults(func=cmd_db)
    return p


def _is_database_error(exc: Exception) -> bool:
    # SQLAlchemy is loaded only by the commands that use the database: `serve`'s master stays
    # without it, and its workers, forked from the master, with it.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


def main(argv: list[str] | None = None) -> int:
    from service.settings import SettingsError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, SettingsError) as exc:
        print(f"rituximab-cds {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        print(f"rituximab-cds {args.command}: database error: {type(exc).__name__}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

