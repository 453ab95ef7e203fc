"""Settings from the environment: the DESIGN.md table, defaults and errors."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_match_the_contract():
    s = Settings.from_env({})
    assert s.allowed_fhir_servers == ()
    assert s.jwt_required is True
    assert s.trusted_issuers_file is None
    assert s.cors_origins == ()
    assert s.database_url.startswith("sqlite:///")
    assert s.redis_url is None
    assert s.tb_screening == "advisory"


def test_values_are_parsed():
    s = Settings.from_env({
        "CDS_ALLOWED_FHIR_SERVERS": "https://a.example/fhir/, https://b.example/r4",
        "CDS_JWT_REQUIRED": "false",
        "CDS_CORS_ORIGINS": "https://sandbox.cds-hooks.org,http://localhost:8080",
        "CDS_TB_SCREENING": "Required",
        "CDS_PUBLIC_BASE_URL": "https://cds.example.org/",
        "CDS_REDIS_URL": "redis://127.0.0.1:6379/0",
    })
    assert s.allowed_fhir_servers == ("https://a.example/fhir", "https://b.example/r4")
    assert s.jwt_required is False
    assert s.cors_origins == ("https://sandbox.cds-hooks.org", "http://localhost:8080")
    assert s.tb_screening == "required"
    assert s.public_base_url == "https://cds.example.org"
    assert s.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    "env",
    [{"CDS_JWT_REQUIRED": "maybe"}, {"CDS_TB_SCREENING": "sometimes"},
     {"CDS_FHIR_TIMEOUT_SECONDS": "fast"}, {"CDS_MAX_BODY_BYTES": "10"}],
)
def test_invalid_values_fail_loudly(env):
    with pytest.raises(SettingsError):
        Settings.from_env(env)
