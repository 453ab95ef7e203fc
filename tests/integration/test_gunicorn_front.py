"""The production shape: ``rituximab-cds serve`` (gunicorn), and nginx in front of it with deploy/nginx.

Defect 12 (a JWT replay accepted by another worker), defect 4 (slow-loris
starving the health check) and gunicorn's own HTML error pages.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from benchmarks.procs import free_port
from service.demo import terminate, wait_healthy
from tests.jwt_helpers import ISS, SigningKey, jwks

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: Slow-loris bounds: sockets, and seconds the attack lasts (the brief allows at most 60 s of load).
SLOW_SOCKETS, ATTACK_SECONDS = 40, 12


@contextmanager
def healthy(proc: subprocess.Popen[bytes], url: str) -> Iterator[str]:
    """``url`` once the process answers /healthz; the process is stopped on exit."""
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        terminate(proc)


@contextmanager
def serve(tmp_path: Path, workers: int, threads: int = 4, **env: str) -> Iterator[str]:
    port = free_port()
    full_env = {**os.environ, "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env}
    for name in ("CDS_REDIS_URL", "CDS_REPLAY_CACHE_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        if name not in env:
            full_env.pop(name, None)  # what a default deployment has
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", str(workers), "--threads", str(threads)], env=full_env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with healthy(proc, f"http://127.0.0.1:{port}") as url:
        yield url


def test_a_replayed_jwt_is_refused_by_every_worker_without_redis(tmp_path):
    key = SigningKey("ES384")
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(key)}]))
    with serve(tmp_path, workers=2, CDS_JWT_REQUIRED="true", CDS_TRUSTED_ISSUERS_FILE=str(issuers)) as url:
        for _round in range(3):
            token = key.token(f"{url}/cds-services")  # aud: the address gunicorn listens on
            barrier = threading.Barrier(16)

            def send(tok: str = token, gate: threading.Barrier = barrier) -> int:
                with requests.Session() as s:  # one connection each, all at once: both workers get some
                    gate.wait()
                    return s.get(f"{url}/cds-services", headers={"Authorization": f"Bearer {tok}"},
                                 timeout=10).status_code

            with ThreadPoolExecutor(max_workers=16) as pool:
                statuses = list(pool.map(lambda _: send(), range(16)))
            assert sorted(statuses) == [200] + [401] * 15


def _raw(url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n", 431),
    (b"NOT A REQUEST LINE\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
])
def test_gunicorns_own_error_answers_are_json(tmp_path, request_bytes, status):
    with serve(tmp_path, workers=1, CDS_JWT_REQUIRED="false") as url:
        code, headers, body = _raw(url, request_bytes)
    assert code == status
    assert headers["Content-Type"] == "application/json"
    assert set(json.loads(body)) == {"error", "message"}


@contextmanager
def nginx_in_front(tmp_path: Path, upstream: str) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    upstream rituximab_cds {{ server {upstream.removeprefix("http://")}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        include {ROOT}/deploy/nginx/rituximab-cds-proxy.conf;
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    with healthy(proc, f"http://127.0.0.1:{port}") as url:
        yield url


def _slow_loris(url: str, stop: threading.Event) -> None:
    """Open SLOW_SOCKETS connections and send a header line every second on each, never finishing."""
    host, port = url.removeprefix("http://").split(":")
    with ExitStack() as stack:
        socks = []
        for _ in range(SLOW_SOCKETS):
            s = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        i = 0
        while not stop.wait(1.0):
            i += 1
            for s in socks:
                try:
                    s.sendall(b"X-%d: y\r\n" % i)
                except OSError:
                    pass  # nginx cut it off (client_header_timeout): that is the point


def test_healthz_keeps_answering_through_nginx_during_a_slow_loris(tmp_path):
    # gunicorn with one worker and 2 threads: directly, 40 slow sockets would hold both threads.
    with serve(tmp_path, workers=1, threads=2, CDS_JWT_REQUIRED="false") as upstream, \
            nginx_in_front(tmp_path, upstream) as front:
        stop = threading.Event()
        attack = threading.Thread(target=_slow_loris, args=(front, stop), daemon=True)
        attack.start()
        try:
            time.sleep(1.5)  # let the attack take hold before probing
            answers = []
            end = time.monotonic() + ATTACK_SECONDS
            while time.monotonic() < end:
                answers.append(requests.get(f"{front}/healthz", timeout=5).status_code)
                time.sleep(0.5)
        finally:
            stop.set()
            attack.join(timeout=10)
    assert len(answers) >= 10 and set(answers) == {200}
