"""A development SMART launcher: a test double of an EHR's authorization server + FHIR front.

Clearly a test double (like tests/faulty_fhir.py), never part of the
service: the browser tests serve it in a thread, and ``rituximab-cds demo``
starts it in development mode only (JWT off), so a person can open the
course-review app for a fixture patient.  It plays what the EHR does around
a real FHIR server (sekmet-fhir, which ignores auth by default):

- ``/``: a page, labelled as this double, listing the demo's launch links;
- ``/launch/<name>``: the clinician clicking the card's SMART link: a fresh
  launch id with the preset's patient and ``appContext``, then a redirect to
  the app's launch URL with ``iss`` and ``launch`` (reusable: each visit is
  a new launch);
- ``/fhir/.well-known/smart-configuration``: SMART 2.0 discovery (S256 only);
- ``/authorize``: checks client id, redirect URI, PKCE S256, ``aud`` and the
  launch id, then approves at once (no sign-in or consent page: the user is
  "the demo clinician") and redirects with a code;
- ``/token``: checks the code, redirect URI and PKCE verifier, and answers
  with a bearer token, the patient context and the launch's ``appContext``;
  with the scopes ``openid fhirUser`` also an id_token (RS256, keys at
  ``/.well-known/jwks.json``) naming the signed-in user, a Practitioner that
  :func:`running_launcher` puts on the FHIR server (EHR users live there too);
- ``/fhir/...``: forwards to the real FHIR server only with a token it
  issued and a scope that allows the request, rewriting the server's own
  base URL (in ``next`` links) to its own.

Knobs for refusal tests: ``drop_scopes`` (grant less than asked),
``expires_in``, ``id_token_key`` (sign id_tokens with another key than the
published one).  ``authorize_requests``, ``token_requests`` and
``fhir_requests`` record what the app sent.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from fhir_fixtures.threaded import serve_in_thread

CLIENT_ID = "rituximab-course-review"
#: The demo clinician who "signed in" at the launcher (fhirUser of its id_tokens).
USER = {"resourceType": "Practitioner", "id": "dev-launcher-clinician", "active": True,
        "name": [{"use": "official", "prefix": ["Dr"], "given": ["Alex"], "family": "Morgan"}]}


def _new_signing_key() -> Any:
    return RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256", "use": "sig"},
                               private=True)


@dataclass(frozen=True)
class LaunchPreset:
    """A SMART link as the EHR holds it after showing a card: whom and what to open the app for."""

    patient: str
    #: the card link's ``url`` (the app's launch URL)
    app_launch_url: str
    #: the card link's ``appContext`` (the orders under review), None for a chart launch
    app_context: str | None = None
    title: str = ""


@dataclass
class SmartLauncher:
    fhir_upstream: str
    base_url: str = ""  # set once served: http://127.0.0.1:PORT
    redirect_uri: str = ""  # the app's registered callback
    client_id: str = CLIENT_ID
    presets: dict[str, LaunchPreset] = field(default_factory=dict)
    drop_scopes: set[str] = field(default_factory=set)
    expires_in: int = 3600
    launches: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    fhir_requests: list[tuple[str, str, int]] = field(default_factory=list)
    signing_key: Any = field(default_factory=_new_signing_key)
    id_token_key: Any = None  # None: sign with signing_key, the one published at jwks_uri

    @property
    def fhir_base(self) -> str:
        return self.base_url + "/fhir"

    def new_launch(self, patient: str, app_context: str | None = None) -> str:
        """What the EHR does when the clinician clicks a SMART link: a launch id with context."""
        launch = secrets.token_urlsafe(12)
        self.launches[launch] = {"patient": patient, "appContext": app_context}
        return launch


_INDEX = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Development SMART launcher (test double of an EHR)</title></head><body>
<h1>Development SMART launcher</h1>
<p><strong>A test double of an EHR's sign-in, for development only.</strong> It approves every
request at once and fronts the demo FHIR server ({{ fhir }}); it is never part of the service.</p>
<ul>{% for name, preset in presets.items() %}
<li><a href="{{ url_for('launch', name=name) }}">{{ preset.title or name }}</a> (Patient/{{ preset.patient }})</li>
{% endfor %}</ul></body></html>"""


def _oauth_error(error: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": error}), status


def _allows(scopes: list[str], rtype: str, letter: str) -> bool:
    for scope in scopes:
        level, _, rest = scope.partition("/")
        stype, _, perms = rest.partition(".")
        if level in ("patient", "user") and stype in (rtype, "*") and letter in perms:
            return True
    return False


def _id_token(ehr: SmartLauncher) -> str:
    """OpenID Connect id_token for the demo clinician (SMART: ``fhirUser`` is the user's resource URL)."""
    now = int(time.time())
    key = ehr.id_token_key or ehr.signing_key
    claims = {"iss": ehr.base_url, "sub": USER["id"], "aud": ehr.client_id, "iat": now, "exp": now + 300,
              "fhirUser": f"{ehr.fhir_base}/{USER['resourceType']}/{USER['id']}"}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def build_launcher_app(ehr: SmartLauncher) -> Flask:
    app = Flask("smart_launcher")
    upstream = requests.Session()
    upstream.trust_env = False

    @app.get("/")
    def index() -> str:
        return render_template_string(_INDEX, presets=ehr.presets, fhir=ehr.fhir_upstream)

    @app.get("/launch/<name>")
    def launch(name: str) -> Any:
        preset = ehr.presets.get(name) or abort(404)
        launch_id = ehr.new_launch(preset.patient, preset.app_context)
        return redirect(preset.app_launch_url + "?" + urlencode({"iss": ehr.fhir_base, "launch": launch_id}))

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return jsonify({
            "authorization_endpoint": ehr.base_url + "/authorize",
            "token_endpoint": ehr.base_url + "/token",
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "capabilities": ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient",
                             "permission-v2", "permission-patient", "sso-openid-connect"],
            "scopes_supported": ["launch", "launch/patient", "patient/*.rs", "patient/DocumentReference.c",
                                 "openid", "fhirUser"],
            "issuer": ehr.base_url,
            "jwks_uri": ehr.base_url + "/.well-known/jwks.json",
        })

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        return jsonify({"keys": [ehr.signing_key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize() -> Any:
        args = dict(request.args)
        ehr.authorize_requests.append(args)
        if args.get("client_id") != ehr.client_id or args.get("redirect_uri") != ehr.redirect_uri:
            return _oauth_error("invalid_client")  # never redirect to an unregistered URI (RFC 6749 §4.1.2.1)
        if args.get("response_type") != "code" or args.get("code_challenge_method") != "S256" \
                or not args.get("code_challenge") or args.get("aud") != ehr.fhir_base:
            return redirect(ehr.redirect_uri + "?" + urlencode({"error": "invalid_request",
                                                                "state": args.get("state", "")}))
        launch = ehr.launches.get(args.get("launch", ""))
        scopes = args.get("scope", "").split()
        if launch is None and "launch/patient" in scopes:
            launch = {"patient": "seed-a", "appContext": None}  # standalone: "the user picked seed-a"
        if launch is None:
            return redirect(ehr.redirect_uri + "?" + urlencode({"error": "access_denied",
                                                                "state": args.get("state", "")}))
        code = secrets.token_urlsafe(16)
        ehr.codes[code] = {"challenge": args["code_challenge"], "redirect_uri": args["redirect_uri"],
                           "scope": " ".join(s for s in scopes if s not in ehr.drop_scopes), **launch}
        return redirect(ehr.redirect_uri + "?" + urlencode({"code": code, "state": args.get("state", "")}))

    @app.post("/token")
    def token() -> Any:
        form = dict(request.form)
        ehr.token_requests.append(form)
        grant = ehr.codes.pop(form.get("code", ""), None)  # a code is single use
        if grant is None or form.get("grant_type") != "authorization_code":
            return _oauth_error("invalid_grant")
        if form.get("redirect_uri") != grant["redirect_uri"] or form.get("client_id") != ehr.client_id:
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or challenge != grant["challenge"]:
            return _oauth_error("invalid_grant")
        access_token = "ehr-at-" + secrets.token_urlsafe(24)
        ehr.tokens[access_token] = {"patient": grant["patient"], "scope": grant["scope"]}
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": ehr.expires_in,
                "scope": grant["scope"], "patient": grant["patient"]}
        if grant.get("appContext"):
            body["appContext"] = grant["appContext"]
        if {"openid", "fhirUser"} <= set(grant["scope"].split()):
            body["id_token"] = _id_token(ehr)
            ehr.tokens[access_token]["fhirUser"] = f"{USER['resourceType']}/{USER['id']}"
        resp = jsonify(body)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.route("/fhir/<path:path>", methods=["GET", "POST"])
    def fhir(path: str) -> Any:
        auth = request.headers.get("Authorization", "")
        grant = ehr.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        rtype = path.split("/")[0].split("?")[0]
        letter = "c" if request.method == "POST" else "r"
        if grant is None:
            ehr.fhir_requests.append((request.method, path, 401))
            return _oauth_error("invalid_token", 401)
        # The fhirUser scope lets the app read the signed-in user's own resource, and nothing more.
        own_user = request.method == "GET" and path == grant.get("fhirUser")
        if not own_user and not _allows(grant["scope"].split(), rtype, letter):
            ehr.fhir_requests.append((request.method, path, 403))
            return _oauth_error("insufficient_scope", 403)
        url = f"{ehr.fhir_upstream}/{path}"
        headers = {"Accept": "application/fhir+json", "Content-Type": request.content_type or "application/fhir+json"}
        up = upstream.request(request.method, url, params=request.args, data=request.get_data(), headers=headers,
                              timeout=30, allow_redirects=False)
        ehr.fhir_requests.append((request.method, path, up.status_code))
        body = up.content.replace(ehr.fhir_upstream.encode(), ehr.fhir_base.encode())
        resp = Response(body, status=up.status_code, content_type=up.headers.get("Content-Type"))
        if "Location" in up.headers:
            resp.headers["Location"] = up.headers["Location"].replace(ehr.fhir_upstream, ehr.fhir_base)
        return resp

    return app


@contextmanager
def running_launcher(fhir_upstream: str, **knobs: Any) -> Iterator[SmartLauncher]:
    """Serve a launcher in front of ``fhir_upstream`` on a free loopback port, for the block's duration."""
    ehr = SmartLauncher(fhir_upstream=fhir_upstream, **knobs)
    # The signed-in user exists on the EHR's FHIR server, as the patient does.
    requests.put(f"{fhir_upstream}/{USER['resourceType']}/{USER['id']}", json=USER, timeout=30,
                 headers={"Content-Type": "application/fhir+json"}).raise_for_status()
    with serve_in_thread(build_launcher_app(ehr)) as base_url:
        ehr.base_url = base_url
        yield ehr
