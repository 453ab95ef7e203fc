"""The outbound URL policy agrees with where requests really connects (defects 1, 6, 10).

Property tests generate URLs full of the characters parsers disagree on
(backslash, ``@``, ``?``, ``#``, encoded dots and slashes, dot segments) and
check, with requests' own adapter computing the connection target, that an
accepted URL can only ever reach an allowlisted (scheme, host, port) under
the allowlisted path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

from service.fhir.origin import UnsafeUrl, parse_base
from service.security.fhir_allowlist import AllowlistError, fhir_server_policy

ALLOWED = ("https://fhir.example.org/r4", "http://127.0.0.1:8090/fhir")
TARGETS = {("https", "fhir.example.org", 443, "/r4"), ("http", "127.0.0.1", 8090, "/fhir")}
_ADAPTER = HTTPAdapter()


def connect_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) requests would connect to and ask for."""
    prepared = requests.PreparedRequest()
    prepared.prepare(method="GET", url=url)
    host_params, _pool = _ADAPTER.build_connection_pool_key_attributes(prepared, verify=True)
    scheme = host_params["scheme"]
    port = host_params["port"] or {"http": 80, "https": 443}[scheme]  # what urllib3's pool falls back to
    return scheme, host_params["host"], port, urlsplit(prepared.path_url).path


_pieces = st.sampled_from([
    "http://", "https://", "HTTP://", "ftp://", "//", "fhir.example.org", "FHIR.example.org", "127.0.0.1",
    "127.0.0.2", "evil.example", "[::1]", ":8090", ":443", ":80", ":", "@", "\\", "/", "//", "/r4", "/fhir",
    "/fhir/", "?", "#", "%2e", "%2E%2e", "%2f", "%5c", "..", ".", "/../", "/./", "user:pw@", "%40", " ", "\t",
    "\x00", "é", ";", "&", "=", "admin", "Patient/1",
])
_urls = st.lists(_pieces, min_size=1, max_size=12).map("".join)
_prefixed = st.tuples(st.sampled_from(ALLOWED), st.lists(_pieces, max_size=6).map("".join)).map("".join)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_urls, _prefixed, st.text(max_size=40).map(lambda t: "http://127.0.0.1:8090" + t)))
def test_an_allowed_fhir_server_only_ever_reaches_an_allowlisted_base(url):
    policy = fhir_server_policy(ALLOWED)
    if not policy(url):
        return
    scheme, host, port, path = connect_target(url + "/Patient/1")
    assert any((scheme, host, port) == t[:3] and path.startswith(t[3] + "/") for t in TARGETS), (url, path)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALLOWED), st.one_of(_urls, _prefixed))
def test_a_link_accepted_under_a_base_is_what_requests_connects_to(base_url, link):
    base = parse_base(base_url)
    if not base.contains(link):
        return
    scheme, host, port, path = connect_target(link)
    assert (scheme, host, port) == (base.scheme, base.host, base.port)
    assert path == base.path or path.startswith(base.path + "/"), (link, path)


@pytest.mark.parametrize("url", [
    "http://127.0.0.2:18092\\@127.0.0.1:18090/fhir",  # defect 1: urllib3 connects to 127.0.0.2
    "http://user@127.0.0.1:8090/fhir",
    "http://127.0.0.1:8090/fhir?x",  # defect 6
    "http://127.0.0.1:8090/fhir#x",
    "http://127.0.0.1:8090/fhir%2fadmin",
    "http://127.0.0.1:8090/fh ir",
    "ftp://127.0.0.1:8090/fhir",
    "http:///fhir",
    "",
])
def test_ambiguous_base_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        parse_base(url)


def test_base_urls_compare_in_normal_form():
    assert parse_base("HTTPS://FHIR.example.org:443/r4/") == parse_base("https://fhir.example.org/r4")
    assert str(parse_base("http://127.0.0.1:8090/fhir/")) == "http://127.0.0.1:8090/fhir"
    # requests resolves dot segments before sending, and "//fhir" is read as a host by some parsers:
    # both are refused as written (hypothesis found "/fhir/..//fhir" passing as "/fhir").
    for ambiguous in ("http://127.0.0.1:8090//fhir/", "http://127.0.0.1:8090/fhir/..//fhir"):
        with pytest.raises(UnsafeUrl):
            parse_base(ambiguous)


def test_links_must_stay_under_the_base_path():
    base = parse_base("http://127.0.0.1:8090/fhir")
    assert base.contains("http://127.0.0.1:8090/fhir/Condition?patient=1&_page=2")
    assert not base.contains("http://127.0.0.1:8090/admin/export")  # defect 10
    assert not base.contains("http://127.0.0.1:8090/fhirx/Condition")
    assert not base.contains("http://127.0.0.1:8090/fhir/../admin")
    assert not base.contains("http://127.0.0.1:8091/fhir/Condition")


def test_plain_http_is_allowed_only_on_loopback():
    policy = fhir_server_policy(("*",))
    assert policy("http://127.0.0.1:8090/fhir") and policy("http://localhost/fhir") and policy("http://[::1]/r4")
    assert not policy("http://fhir.example.org/r4")
    assert policy("https://fhir.example.org/r4")


def test_an_unusable_allowlist_entry_fails_at_start_up():
    with pytest.raises(AllowlistError, match="CDS_ALLOWED_FHIR_SERVERS"):
        fhir_server_policy(("https://fhir.example.org/r4?tenant=1",))
