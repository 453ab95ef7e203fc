"""The jti replay cache on the real Redis, shared by two service processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

from service.demo import wait_healthy
from service.security.client_jwt import AuthenticationError, ClientAuthenticator
from service.security.issuers import TrustedIssuer
from service.security.replay import RedisReplayCache, ReplayCacheUnavailable
from tests.jwt_helpers import ISS, SigningKey, jwks

pytestmark = pytest.mark.integration
REDIS = "redis://127.0.0.1:6379/0"


def test_redis_cache_accepts_a_jti_once():
    cache = RedisReplayCache(REDIS, prefix=f"test-{uuid.uuid4().hex}:")
    exp = time.time() + 30
    assert cache.first_use(ISS, "jti-1", exp) is True
    assert cache.first_use(ISS, "jti-1", exp) is False
    assert cache.first_use(ISS, "jti-2", exp) is True


def test_unreachable_redis_fails_closed():
    key = SigningKey("ES384")
    auth = ClientAuthenticator({ISS: TrustedIssuer(ISS, jwks=jwks(key))}, RedisReplayCache("redis://127.0.0.1:1/0"))
    with pytest.raises(ReplayCacheUnavailable):
        auth.replay.first_use(ISS, "x", time.time() + 10)
    with pytest.raises(AuthenticationError, match="replay cache unavailable"):
        auth.authenticate(f"Bearer {key.token('http://cds.test/cds-services')}", "http://cds.test/cds-services")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_two_service_processes_share_the_replay_cache(tmp_path):
    key = SigningKey("RS384")
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps([{"iss": ISS, "jwks": jwks(key)}]))
    env = {**os.environ, "CDS_JWT_REQUIRED": "true", "CDS_TRUSTED_ISSUERS_FILE": str(issuers),
           "CDS_REDIS_URL": REDIS, "CDS_PUBLIC_BASE_URL": "https://cds.hospital.test",
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    ports = [_free_port(), _free_port()]
    procs = [_start(p, env) for p in ports]
    try:
        for p, proc in zip(ports, procs, strict=True):
            # serve migrates in a process of its own before the workers start: slower on a loaded machine
            wait_healthy(f"http://127.0.0.1:{p}", proc, seconds=60)
        token = key.token("https://cds.hospital.test/cds-services")
        headers = {"Authorization": f"Bearer {token}"}
        first = requests.get(f"http://127.0.0.1:{ports[0]}/cds-services", headers=headers, timeout=5)
        replay = requests.get(f"http://127.0.0.1:{ports[1]}/cds-services", headers=headers, timeout=5)
        assert first.status_code == 200
        assert replay.status_code == 401
        fresh = {"Authorization": f"Bearer {key.token('https://cds.hospital.test/cds-services')}"}
        assert requests.get(f"http://127.0.0.1:{ports[1]}/cds-services", headers=fresh, timeout=5).status_code == 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
