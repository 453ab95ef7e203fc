"""One typed Settings object, read from the environment (README "Configuration").

The public variables are those of DESIGN.md's table; the others tune limits
and have safe defaults.  Invalid values raise SettingsError at start-up, so a
misconfigured deployment fails loudly instead of running with a guess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


def _csv(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _number(name: str, value: str | None, default: float, minimum: float = 0) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        n = float(value)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, not {value!r}") from exc
    if n < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return n


@dataclass(frozen=True)
class Settings:
    """Service configuration.  Build with :meth:`from_env` or directly in tests."""

    # --- public contract (DESIGN.md) ---
    allowed_fhir_servers: tuple[str, ...] = ()
    jwt_required: bool = True
    trusted_issuers_file: Path | None = None
    public_base_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    database_url: str = "sqlite:///rituximab-cds.sqlite3"
    redis_url: str | None = None
    tb_screening: str = "advisory"
    #: directory the workers of one host share as replay cache when there is no Redis
    #: (``rituximab-cds serve`` creates one); unset and no Redis: in-process (one process only)
    replay_cache_dir: str | None = None
    #: Unix socket of the audit writer process (set by ``rituximab-cds serve`` for its workers,
    #: which then send audit entries there and leave the migrations to the master); unset: the
    #: process writes its own audit rows and migrates at start (tests, the Flask test client)
    audit_socket: str | None = None
    # --- limits and tuning ---
    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    #: client-side bound on one feedback write against a silent database (503 + Retry-After past it)
    database_timeout_seconds: float = 2.0
    #: feedback items accepted in one request (413 above)
    max_feedback_items: int = 100
    fhir_timeout_seconds: float = 2.0
    fhir_deadline_seconds: float = 4.0
    fhir_page_cap: int = 20
    fhir_page_size: int = 200
    fhir_max_response_bytes: int = 20 * 1024 * 1024
    prefer_biosimilar: bool = False
    log_level: str = "INFO"
    #: key for hashing patient references in the audit (empty: store as given)
    audit_patient_hash_key: str = ""
    audit_retention_days: int = 2555  # about 7 years
    # --- the course-review SMART app (/app/) ---
    #: signs the app's session cookie; empty: a random key per process (one worker only)
    app_secret_key: str = ""
    #: the client id the app is registered with in the EHR
    app_client_id: str = "rituximab-course-review"
    #: how long an app session lasts (also never past the access token's expiry)
    app_session_minutes: int = 30
    #: extra free-form overrides (tests); not read from the environment
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tb_screening not in ("required", "advisory", "off"):
            raise SettingsError(
                f"CDS_TB_SCREENING must be required, advisory or off, not {self.tb_screening!r}"
            )

    @property
    def any_fhir_server_allowed(self) -> bool:
        return "*" in self.allowed_fhir_servers

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the CDS_* variables (``env`` defaults to os.environ)."""
        e = os.environ if env is None else env
        issuers = e.get("CDS_TRUSTED_ISSUERS_FILE") or None
        return cls(
            allowed_fhir_servers=tuple(
                s.rstrip("/") for s in _csv(e.get("CDS_ALLOWED_FHIR_SERVERS"))
            ),
            jwt_required=_bool("CDS_JWT_REQUIRED", e.get("CDS_JWT_REQUIRED"), True),
            trusted_issuers_file=Path(issuers) if issuers else None,
            public_base_url=(e.get("CDS_PUBLIC_BASE_URL") or "").rstrip("/") or None,
            cors_origins=_csv(e.get("CDS_CORS_ORIGINS")),
            database_url=e.get("CDS_DATABASE_URL") or cls.database_url,
            redis_url=e.get("CDS_REDIS_URL") or None,
            replay_cache_dir=e.get("CDS_REPLAY_CACHE_DIR") or None,
            audit_socket=e.get("CDS_AUDIT_SOCKET") or None,
            tb_screening=(e.get("CDS_TB_SCREENING") or "advisory").strip().lower(),
            max_body_bytes=int(
                _number("CDS_MAX_BODY_BYTES", e.get("CDS_MAX_BODY_BYTES"), 5 * 1024 * 1024, 1024)
            ),
            database_timeout_seconds=_number(
                "CDS_DATABASE_TIMEOUT_SECONDS", e.get("CDS_DATABASE_TIMEOUT_SECONDS"), 2.0, 0.1
            ),
            max_feedback_items=int(
                _number("CDS_MAX_FEEDBACK_ITEMS", e.get("CDS_MAX_FEEDBACK_ITEMS"), 100, 1)
            ),
            fhir_timeout_seconds=_number(
                "CDS_FHIR_TIMEOUT_SECONDS", e.get("CDS_FHIR_TIMEOUT_SECONDS"), 2.0, 0.05
            ),
            fhir_deadline_seconds=_number(
                "CDS_FHIR_DEADLINE_SECONDS", e.get("CDS_FHIR_DEADLINE_SECONDS"), 4.0, 0.05
            ),
            fhir_page_cap=int(_number("CDS_FHIR_PAGE_CAP", e.get("CDS_FHIR_PAGE_CAP"), 20, 1)),
            prefer_biosimilar=_bool(
                "CDS_PREFER_BIOSIMILAR", e.get("CDS_PREFER_BIOSIMILAR"), False
            ),
            log_level=(e.get("CDS_LOG_LEVEL") or "INFO").upper(),
            audit_patient_hash_key=e.get("CDS_AUDIT_PATIENT_HASH_KEY") or "",
            audit_retention_days=int(
                _number("CDS_AUDIT_RETENTION_DAYS", e.get("CDS_AUDIT_RETENTION_DAYS"), 2555, 1)
            ),
            app_secret_key=e.get("CDS_APP_SECRET_KEY") or "",
            app_client_id=e.get("CDS_APP_CLIENT_ID") or cls.app_client_id,
            app_session_minutes=int(
                _number("CDS_APP_SESSION_MINUTES", e.get("CDS_APP_SESSION_MINUTES"), 30, 1)
            ),
        )
