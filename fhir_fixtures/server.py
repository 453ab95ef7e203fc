"""Install, start, load and stop a real FHIR R4 server (sekmet-fhir) for tests and the demo.

See shared/reference/fhir-server.md: own virtual environment (its FastAPI and
pydantic must not meet the app's), pinned version with frozen dependencies,
``-c`` config with base_url/host set and the simulator off, a fresh data
folder per run, and SQLite ``ANALYZE`` after loading (else ``_sort`` searches
take seconds).

Command line (used by scripts/fhir-server.sh)::

    python -m fhir_fixtures.server start|load|url|stop
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from fhir_fixtures import load_bundle, scenario_names

SEKMET_VERSION = "0.1.1"
HOME = Path(os.environ.get("FHIR_HOME", Path.home() / ".cache" / "rituximab-cds" / "fhir-server"))
CONSTRAINTS = Path(__file__).resolve().parents[1] / "scripts" / "constraints-fhir.txt"


class FhirServerError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_installed(home: Path = HOME) -> Path:
    """The sekmet executable, installing it into ``home/venv`` on first use."""
    exe = home / "venv" / "bin" / "sekmet"
    marker = home / "venv" / f".sekmet-{SEKMET_VERSION}"
    if exe.exists() and marker.exists():
        return exe
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(home / "venv", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    if CONSTRAINTS.exists():
        pip += ["-c", str(CONSTRAINTS)]
    subprocess.run([*pip, f"sekmet-fhir=={SEKMET_VERSION}"], check=True)
    marker.touch()
    return exe


@dataclass
class FhirServer:
    """A running sekmet-fhir process."""

    base_url: str
    pid: int
    data_dir: Path
    log_path: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / "sekmet.db"

    def stop(self, timeout: float = 15) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            try:  # reap it if it is our child
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                pass
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/metadata", timeout=2) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(home: Path = HOME, port: int | None = None, run_name: str | None = None) -> FhirServer:
    """Start a fresh server (empty data folder) on 127.0.0.1 and wait until it answers."""
    exe = ensure_installed(home)
    port = port or _free_port()
    run_dir = home / "runs" / (run_name or f"{os.getpid()}-{port}")
    shutil.rmtree(run_dir, ignore_errors=True)
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True)
    base_url = f"http://127.0.0.1:{port}/fhir"
    config = run_dir / "sekmet.yaml"
    config.write_text(
        f"base_url: {base_url}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {data_dir}\n"
        "simulator: {enabled: false}\nlog_inbound: false\n"
    )
    log_path = run_dir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(exe), "serve", "-c", str(config)], stdout=log, stderr=log,
                                cwd=run_dir, start_new_session=True)
    server = FhirServer(base_url, proc.pid, data_dir, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FhirServerError(f"sekmet exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        if _ready(base_url):
            return server
        time.sleep(0.25)
    server.stop()
    raise FhirServerError(f"sekmet did not answer in 60 s:\n{log_path.read_text()[-3000:]}")


def post_bundle(base_url: str, bundle: dict[str, object]) -> None:
    req = urllib.request.Request(  # noqa: S310 - loopback test server
        base_url, data=json.dumps(bundle).encode(), method="POST",
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            resp.read()
    except urllib.error.HTTPError as exc:
        raise FhirServerError(f"transaction rejected: HTTP {exc.code} {exc.read()[:2000]!r}") from exc


def load_fixtures(server: FhirServer, today: date | None = None) -> list[str]:
    """Load every fixture patient (dates shifted to ``today``), then ANALYZE."""
    today = today or datetime.now(UTC).date()
    names = scenario_names()
    for name in names:
        post_bundle(server.base_url, load_bundle(name, today))
    analyze(server.db_path)
    return names


def analyze(db_path: Path) -> None:
    """SQLite ANALYZE so sekmet's ``_sort`` searches use the right index (fhir-server.md)."""
    if db_path.exists():
        con = sqlite3.connect(db_path)
        try:
            con.execute("ANALYZE")
        finally:
            con.close()


STATE_FILE = HOME / "demo-server.json"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "url"
    if command == "start":
        if STATE_FILE.exists():
            state = json.loads(STATE_FILE.read_text())
            if _ready(state["base_url"]):
                print(state["base_url"])
                return 0
        server = start(run_name="demo")
        STATE_FILE.write_text(json.dumps({"base_url": server.base_url, "pid": server.pid,
                                      "data_dir": str(server.data_dir), "log": str(server.log_path)}))
        print(server.base_url)
    elif command in ("load", "url", "stop"):
        if not STATE_FILE.exists():
            print("no FHIR server started (run: start)", file=sys.stderr)
            return 1
        state = json.loads(STATE_FILE.read_text())
        server = FhirServer(state["base_url"], state["pid"], Path(state["data_dir"]), Path(state["log"]))
        if command == "load":
            names = load_fixtures(server)
            print(f"loaded {len(names)} patients", file=sys.stderr)
            print(server.base_url)
        elif command == "url":
            print(server.base_url)
        else:
            server.stop()
            STATE_FILE.unlink(missing_ok=True)
    else:
        print("usage: python -m fhir_fixtures.server start|load|url|stop", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
