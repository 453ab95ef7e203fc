"""What the course-review views share, built once per app (``app.extensions``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import requests
from flask import Flask, current_app

from service.fhir.origin import is_loopback
from service.hooks.invoke import HookRuntime
from service.settings import Settings
from service.web.course_review.sessions import SessionCookies, SessionStore, session_store_for

log = logging.getLogger(__name__)
_KEY = "course_review"


@dataclass
class CourseReviewState:
    store: SessionStore
    cookies: SessionCookies
    #: for SMART discovery (the token exchange uses authlib's own session)
    http: requests.Session
    client_id: str
    session_seconds: int
    runtime: HookRuntime

    @property
    def fhir_allowed(self) -> Callable[[str], bool]:
        return self.runtime.fhir_allowed  # type: ignore[no-any-return]

    @staticmethod
    def secure_cookies(host_url: str) -> bool:
        # Secure everywhere but plain-http development on this machine.
        return not (host_url.startswith("http://") and is_loopback(host_url))


def install_state(app: Flask, settings: Settings) -> None:
    secret = settings.app_secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning("CDS_APP_SECRET_KEY is not set: course-review sessions are signed with a per-process key "
                    "(they end at restart and work with one worker only)")
    http = requests.Session()
    http.trust_env = False
    seconds = settings.app_session_minutes * 60
    app.extensions[_KEY] = CourseReviewState(
        store=session_store_for(settings.redis_url, settings.replay_cache_dir),
        cookies=SessionCookies(secret, seconds),
        http=http,
        client_id=settings.app_client_id,
        session_seconds=seconds,
        runtime=app.extensions["cds.runtime"],
    )


def state() -> CourseReviewState:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
