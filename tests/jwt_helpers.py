"""Keys and tokens generated in the test (cryptography + PyJWT), and a live JWKS endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.loopback_server import running

ISS = "https://ehr.example.org"


class SigningKey:
    def __init__(self, alg: str = "ES384", kid: str | None = None) -> None:
        self.alg = alg
        self.kid = kid or uuid.uuid4().hex
        if alg.startswith("ES"):
            self.private = ec.generate_private_key({"ES256": ec.SECP256R1, "ES384": ec.SECP384R1,
                                                    "ES512": ec.SECP521R1}[alg]())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self) -> dict[str, Any]:
        algo = jwt.algorithms.ECAlgorithm if self.alg.startswith("ES") else jwt.algorithms.RSAAlgorithm
        jwk = json.loads(algo.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return jwk

    def token(self, aud: str, iss: str = ISS, lifetime: int = 300, headers: dict[str, Any] | None = None,
              **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": iss, "aud": aud, "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.private, algorithm=self.alg,
                          headers={"kid": self.kid, "typ": "JWT", **(headers or {})})


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


@contextmanager
def jwks_server(initial: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], list[int]]]:
    """Serve a JWKS on 127.0.0.1; mutate ``state["jwks"]`` to rotate; ``hits`` counts fetches."""
    state = {"jwks": initial}
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(1)
            body = json.dumps(state["jwks"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with running(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", state, hits
