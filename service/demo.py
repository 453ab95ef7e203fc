"""``rituximab-cds demo``: the product end to end on this machine.

Starts the real FHIR server (sekmet-fhir) with the fixture patients, starts
the service under gunicorn in development mode (JWT off and CORS open to the
CDS Hooks sandbox and localhost, both logged as development-only), fires the
seed scenarios' hooks over HTTP, prints the cards, and leaves the service up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

DEMO_SCENARIOS = (
    ("seed-a", "Seed A: dermatomyositis–antisynthetase overlap, Ruxience maintenance"),
    ("seed-b", "Seed B: MDA5+ dermatomyositis with rapidly progressive ILD, Truxima"),
    ("pm-first-line", "Polymyositis, rituximab first-line without refractory history"),
    ("hbsag-positive-untreated", "HBsAg positive, no antiviral"),
    ("pv-overdue", "Chart opened (patient-view): monitoring overdue"),
)
SANDBOX_ORIGINS = "https://sandbox.cds-hooks.org,http://localhost:8080,http://127.0.0.1:8080"
SERVICE_OF_HOOK = {
    "order-sign": "rituximab-order-sign",
    "order-select": "rituximab-order-select",
    "patient-view": "rituximab-monitoring",
}


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


def run_demo(host: str = "127.0.0.1", port: int = 8080, keep_running: bool = True) -> int:
    from fhir_fixtures import load_request
    from fhir_fixtures.server import STATE_FILE, load_fixtures, start
    from service.cli import render_cards_text

    print("Starting the FHIR server (sekmet-fhir) and loading the fixture patients ...", flush=True)
    fhir = start(run_name="demo")
    state = {"base_url": fhir.base_url, "pid": fhir.pid, "data_dir": str(fhir.data_dir), "log": str(fhir.log_path)}
    STATE_FILE.write_text(json.dumps(state))
    try:
        load_fixtures(fhir)
    except Exception:
        fhir.stop()
        raise
    fhir_url = fhir.base_url
    print(f"FHIR server: {fhir_url} (log: {fhir.log_path})")

    env = dict(os.environ)
    env.setdefault("CDS_JWT_REQUIRED", "false")
    env.setdefault("CDS_ALLOWED_FHIR_SERVERS", fhir_url)
    env.setdefault("CDS_CORS_ORIGINS", SANDBOX_ORIGINS)
    env.setdefault("CDS_DATABASE_URL", f"sqlite:///{_project_root() / '.cds-run' / 'demo.sqlite3'}")
    (_project_root() / ".cds-run").mkdir(exist_ok=True)
    service_url = f"http://{host}:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", host, "--port", str(port),
         "--workers", "2"],
        env=env,
    )
    try:
        wait_healthy(service_url, proc)
        print(f"Service: {service_url}/cds-services  (development mode: JWT off, CORS open)\n")
        today = datetime.now(UTC).date()
        with requests.Session() as http:
            for name, title in DEMO_SCENARIOS:
                body = load_request(name, today)
                body["fhirServer"] = fhir_url
                body.pop("prefetch", None)
                service_id = SERVICE_OF_HOOK[body["hook"]]
                resp = http.post(f"{service_url}/cds-services/{service_id}", json=body, timeout=30)
                print("=" * 78)
                print(f"{title}\nPOST /cds-services/{service_id} -> HTTP {resp.status_code}, "
                      f"Server-Timing: {resp.headers.get('Server-Timing', '')}")
                print("=" * 78)
                if resp.status_code == 200:
                    sys.stdout.write(render_cards_text(resp.json()["cards"]))
                else:
                    print(resp.text)
        if keep_running:
            print(f"\nThe service stays up at {service_url}. Point the CDS Hooks sandbox's service "
                  f"discovery at {service_url}/cds-services (see README). Ctrl-C stops everything.")
            proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        terminate(proc)
        fhir.stop()
        STATE_FILE.unlink(missing_ok=True)
    return 0
