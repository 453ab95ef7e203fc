"""``rituximab-cds demo``: the product end to end on this machine.

Starts the real FHIR server (sekmet-fhir) with the fixture patients, starts
the service under gunicorn, fires the seed scenarios' hooks over HTTP and
prints, per scenario, the patient, the order, the fixture file, the data path
(prefetch or queried) and the cards; then leaves the service up.

In development mode it also starts the development SMART launcher
(``fhir_fixtures/smart_launcher.py``, a test double of the EHR's sign-in in
front of the FHIR server) and prints, per patient whose cards carry the
"Open course review" link, a URL that opens the course-review app the way
the EHR would: launch, authorize, token with the patient and the card's
``appContext``.  With JWT on the launcher is not started.

The mode is whatever the environment says, and the banner says which:
development by default (JWT off, CORS open to the sandbox and localhost);
with ``CDS_TRUSTED_ISSUERS_FILE`` or ``CDS_JWT_REQUIRED=true`` set, JWT is
checked and the demo signs its own calls with a key made for this run.  A
hook answered with anything but 200 makes the demo exit 1.  The service's
log lines go to a file, not between the cards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console

from service.settings import Settings, SettingsError

if TYPE_CHECKING:
    from fhir_fixtures.smart_launcher import SmartLauncher

#: (fixture request, title, how the EHR supplies the record)
DEMO_SCENARIOS = (
    ("seed-a", "Seed A: dermatomyositis–antisynthetase overlap, Ruxience maintenance", "prefetch"),
    ("seed-b", "Seed B: MDA5+ dermatomyositis with rapidly progressive ILD, Truxima", "query"),
    ("pm-first-line", "Polymyositis, rituximab first-line without refractory history", "query"),
    ("hbsag-positive-untreated", "HBsAg positive, no antiviral", "prefetch"),
    ("pv-overdue", "Chart opened (patient-view): monitoring overdue", "query"),
)
#: Development CORS: the public sandbox, and any port on localhost (a local sandbox build, the
#: playground).  flask-cors reads an entry with regex characters as an anchored-at-start regex.
DEV_CORS_ORIGINS = r"https://sandbox.cds-hooks.org,^https?://(localhost|127\.0\.0\.1)(:[0-9]+)?$"
DEMO_ISSUER = "urn:rituximab-cds:demo"


def _project_root() -> Path:
    return Path(__file__).resolve().parents[1]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Wait until ``url``/healthz answers 200; SystemExit if the process dies or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited with code {proc.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become healthy in time")


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM (gunicorn's graceful shutdown), then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def service_environment(environ: Mapping[str, str], fhir_url: str, run_dir: Path,
                        launcher_fhir_url: str | None = None) -> dict[str, str]:
    """The service's environment: the caller's, with development defaults for what it leaves unset.

    Setting a trusted-issuers file means "test JWT": it turns JWT on unless
    ``CDS_JWT_REQUIRED`` says otherwise.  The course-review app reads the FHIR
    server through the launcher (``launcher_fhir_url``), so that is allowed too;
    its sessions are signed with a key made for this run, shared by the workers.
    """
    env = dict(environ)
    if not env.get("CDS_JWT_REQUIRED"):
        env["CDS_JWT_REQUIRED"] = "true" if env.get("CDS_TRUSTED_ISSUERS_FILE") else "false"
    env.setdefault("CDS_ALLOWED_FHIR_SERVERS", ",".join(filter(None, (fhir_url, launcher_fhir_url))))
    env.setdefault("CDS_APP_SECRET_KEY", secrets.token_urlsafe(32))
    env.setdefault("CDS_CORS_ORIGINS", DEV_CORS_ORIGINS)
    env.setdefault("CDS_DATABASE_URL", f"sqlite:///{run_dir / 'demo.sqlite3'}")
    return env


class DemoSigner:
    """An ES384 key made for this run, so the demo's own calls pass the JWT check it asks for."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex
        self.private = ec.generate_private_key(ec.SECP384R1())

    def issuer_entry(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES384"})
        return {"iss": DEMO_ISSUER, "jwks": {"keys": [jwk]}}

    def authorization(self, audience: str) -> str:
        now = int(time.time())
        claims = {"iss": DEMO_ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        return "Bearer " + jwt.encode(claims, self.private, algorithm="ES384", headers={"kid": self.kid})


def add_demo_issuer(env: dict[str, str], signer: DemoSigner, run_dir: Path) -> None:
    """Trust the demo's key beside the configured issuers (a copy of the file; the original is untouched)."""
    from service.security.issuers import load_trusted_issuers

    issuers: list[dict[str, Any]] = []
    if env.get("CDS_TRUSTED_ISSUERS_FILE"):
        path = Path(env["CDS_TRUSTED_ISSUERS_FILE"])
        load_trusted_issuers(path)  # fail here, with its message, if the file is unusable
        issuers = json.loads(path.read_text(encoding="utf-8"))
    combined = run_dir / "demo-trusted-issuers.json"
    combined.write_text(json.dumps([*issuers, signer.issuer_entry()], indent=2))
    env["CDS_TRUSTED_ISSUERS_FILE"] = str(combined)


def _origins(settings: Settings) -> str:
    if ",".join(settings.cors_origins) == DEV_CORS_ORIGINS:
        return "https://sandbox.cds-hooks.org and http(s)://localhost or 127.0.0.1 on any port"
    return ", ".join(settings.cors_origins) or "none"


def describe_mode(settings: Settings, configured_issuers: list[str]) -> str:
    """The banner line: what the running service really checks."""
    if not settings.jwt_required:
        return f"development mode: JWT off (calls are not authenticated); CORS: {_origins(settings)}"
    trusted = ", ".join(configured_issuers) or "no issuer configured"
    return (f"JWT required: trusted issuers {trusted}, plus this demo's own key (this run only); "
            f"CORS: {_origins(settings)}")


def fhir_query_count(server_timing: str) -> int | None:
    """The ``fhir;desc="N queries"`` entry of a Server-Timing header (None: no FHIR stage)."""
    match = re.search(r'fhir;[^,]*desc="(\d+) quer', server_timing)
    return int(match.group(1)) if match else None


def describe_data_path(sent_prefetch: bool, server_timing: str, status: int = 200) -> str:
    queries = fhir_query_count(server_timing)
    if status != 200:
        return "prefetch sent" if sent_prefetch else "no prefetch (the service was to query the FHIR server)"
    if sent_prefetch:
        tail = "the service made no FHIR query" if not queries else f"the service still made {queries} FHIR queries"
        return f"prefetch filled from the FHIR server (as an EHR does); {tail}"
    if queries is None:
        return "no prefetch; the service had nothing to fetch"
    return f"no prefetch; the service queried the FHIR server itself ({queries} requests)"


def _say(console: Console, text: str) -> None:
    """A plain line: no rich markup (order names hold brackets), no wrapping (URLs stay whole)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@dataclass
class ScenarioResult:
    name: str
    status: int
    patient_id: str = ""
    #: the first "Open course review" SMART link of the answer's cards
    course_link: dict[str, Any] | None = None


def course_review_link(cards: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((link for card in cards for link in card.get("links", []) if link.get("type") == "smart"), None)


def fire_scenario(console: Console, http: requests.Session, service_url: str, fhir_url: str,
                  scenario: tuple[str, str, str], signer: DemoSigner | None, audience_base: str) -> ScenarioResult:
    """Send one fixture hook like an EHR would and print what was sent and what came back."""
    from fhir_fixtures import load_bundle, load_request
    from service.hooks.prefetch import prefetch_from_server
    from service.hooks.registry import SERVICE_ID_BY_HOOK
    from service.hooks.summary import describe_orders, describe_patient
    from service.terminal import print_cards

    name, title, data_path = scenario
    today = datetime.now(UTC).date()
    body = load_request(name, today)
    patient_id = body["context"]["patientId"]
    body["fhirServer"] = fhir_url
    body.pop("prefetch", None)
    if data_path == "prefetch":
        body["prefetch"] = prefetch_from_server(fhir_url, patient_id, http)
    service_id = SERVICE_ID_BY_HOOK[body["hook"]]
    path = f"/cds-services/{service_id}"
    headers = {"Authorization": signer.authorization(audience_base + path)} if signer else {}
    resp = http.post(service_url + path, json=body, headers=headers, timeout=30)
    patient = next((e["resource"] for e in load_bundle(patient_id)["entry"]
                    if e["resource"].get("resourceType") == "Patient"), None)
    console.rule(f"[bold]{title}")
    _say(console, f"patient : {describe_patient(patient, patient_id)}")
    for line in describe_orders(body) or [f"none ({body['hook']}: the chart was opened)"]:
        _say(console, f"order   : {line}")
    _say(console, f"request : fhir_fixtures/requests/{name}.json (dates shifted to today)")
    timing = resp.headers.get("Server-Timing", "")
    _say(console, f"data    : {describe_data_path('prefetch' in body, timing, resp.status_code)}")
    _say(console, f"answer  : POST {path} -> HTTP {resp.status_code}")
    cards: list[dict[str, Any]] = resp.json().get("cards", []) if resp.status_code == 200 else []
    if resp.status_code == 200:
        print_cards(console, cards)
    else:
        _say(console, resp.text.strip())
    return ScenarioResult(name, resp.status_code, patient_id, course_review_link(cards))


def offer_course_reviews(launcher: SmartLauncher, results: list[ScenarioResult]) -> list[tuple[str, str]]:
    """A launcher preset per scenario whose cards link the course review: (scenario, URL to open)."""
    from fhir_fixtures.smart_launcher import LaunchPreset

    offered = []
    for r in results:
        if r.course_link:
            launcher.presets[r.name] = LaunchPreset(patient=r.patient_id, app_launch_url=r.course_link["url"],
                                                    app_context=r.course_link.get("appContext"), title=r.name)
            offered.append((r.name, f"{launcher.base_url}/launch/{r.name}"))
    return offered


def closing_notes(service_url: str, settings: Settings, log_path: Path,
                  course_reviews: Sequence[tuple[str, str]] = ()) -> str:
    """Where to go next: playground, course review, sandbox, database, logs."""
    db = settings.database_url
    lines = [
        f"The service stays up at {service_url} (discovery: {service_url}/cds-services). Ctrl-C stops everything.",
        f"  Playground : {service_url}/playground" if not settings.jwt_required
        else "  Playground : off (it exists in development mode only, JWT is on)",
        *course_review_notes(settings, course_reviews),
        "  Sandbox    : run the CDS Hooks sandbox on another port (not this one), open it, gear menu,",
        f"               'Add CDS Services': {service_url}/cds-services (README, 'The CDS Hooks sandbox')",
        f"  Database   : {db}",
        f"  Overrides  : CDS_DATABASE_URL={db} .venv/bin/rituximab-cds report overrides",
        f"  Logs       : {log_path}",
        "  Send again : bash scripts/send-hook.sh seed-b   (or: .venv/bin/rituximab-cds request seed-b | curl ...)",
    ]
    return "\n".join(lines)


def course_review_notes(settings: Settings, course_reviews: Sequence[tuple[str, str]]) -> list[str]:
    if settings.jwt_required:
        return ["  Course review: no demo launch (its development SMART launcher runs in development mode only)"]
    lines = ["  Course review: open in a browser; a development SMART launcher (a test double of the EHR's",
             "               sign-in, it approves at once) launches the app at /app/ for the patient:"]
    lines += [f"    {name:<10} : {url}" for name, url in course_reviews]
    return lines


def explain_failures(results: list[ScenarioResult], settings: Settings) -> str:
    codes = sorted({r.status for r in results if r.status != 200})
    failed = sum(r.status != 200 for r in results)
    text = f"{failed} of {len(results)} hooks failed (HTTP {', '.join(map(str, codes))})."
    if 401 in codes:
        text += (" 401: the service rejected the JWT. CDS_JWT_REQUIRED is "
                 f"{'true' if settings.jwt_required else 'false'}; check CDS_PUBLIC_BASE_URL (the JWT audience) "
                 "and the log, or unset CDS_JWT_REQUIRED and CDS_TRUSTED_ISSUERS_FILE for development mode.")
    return text


def run_demo(host: str = "127.0.0.1", port: int = 8080, keep_running: bool = True,
             run_dir: Path | None = None, fhir_run_name: str = "demo", write_state: bool = True,
             while_up: Callable[[], None] | None = None) -> int:
    """Run the demo; 0 when every hook answered 200, 1 otherwise, 2 for a configuration error.

    ``while_up`` is called once everything is printed, before ``keep_running``'s wait and the
    shutdown: a test opens the printed URLs there."""
    from fhir_fixtures.server import STATE_FILE, load_fixtures, start
    from fhir_fixtures.smart_launcher import running_launcher
    from service.security.issuers import TrustedIssuersError, load_trusted_issuers

    console = Console(highlight=False)
    run_dir = run_dir or _project_root() / ".cds-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    service_url = f"http://{host}:{port}"
    env = service_environment(os.environ, "http://127.0.0.1:0/fhir", run_dir)  # checked before any start-up
    try:
        settings = Settings.from_env(env)
        configured = sorted(load_trusted_issuers(Path(env["CDS_TRUSTED_ISSUERS_FILE"]))) \
            if env.get("CDS_TRUSTED_ISSUERS_FILE") else []
    except (SettingsError, TrustedIssuersError) as exc:
        _say(console, f"rituximab-cds demo: configuration error: {exc}")
        return 2

    _say(console, "Starting the FHIR server (sekmet-fhir) and loading the fixture patients ...")
    fhir = start(run_name=fhir_run_name)
    if write_state:
        STATE_FILE.write_text(json.dumps({"base_url": fhir.base_url, "pid": fhir.pid, "data_dir": str(fhir.data_dir),
                                          "log": str(fhir.log_path)}))
    proc = None
    stack = ExitStack()
    try:
        load_fixtures(fhir)
        # The launcher plays the EHR's sign-in: development mode only, never beside a JWT-checked service.
        launcher = None if settings.jwt_required else stack.enter_context(running_launcher(
            fhir.base_url, redirect_uri=f"{service_url}/app/callback", client_id=settings.app_client_id))
        env = service_environment(os.environ, fhir.base_url, run_dir, launcher.fhir_base if launcher else None)
        signer = DemoSigner() if settings.jwt_required else None
        if signer:
            add_demo_issuer(env, signer, run_dir)
        settings = Settings.from_env(env)
        _say(console, f"FHIR server: {fhir.base_url}  (log: {fhir.log_path})")
        log_path = run_dir / "service.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", host, "--port", str(port),
                                     "--workers", "2"], env=env, stdout=log, stderr=log)
        wait_healthy(service_url, proc)
        _say(console, f"Service: {service_url}/cds-services  ({describe_mode(settings, configured)})")
        _say(console, f"Service log: {log_path}\n")
        audience_base = settings.public_base_url or service_url
        with requests.Session() as http:
            results = [fire_scenario(console, http, service_url, fhir.base_url, s, signer, audience_base)
                       for s in DEMO_SCENARIOS]
        console.rule()
        if any(r.status != 200 for r in results):
            _say(console, explain_failures(results, settings))
            return 1
        course_reviews = offer_course_reviews(launcher, results) if launcher else []
        _say(console, closing_notes(service_url, settings, log_path, course_reviews))
        if while_up:
            while_up()
        if keep_running:
            proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if proc is not None:
            terminate(proc)
        stack.close()
        fhir.stop()
        if write_state:
            STATE_FILE.unlink(missing_ok=True)
    return 0
