"""What the workers of one `serve` share, set in the master before they fork."""

from __future__ import annotations

from pathlib import Path

from service.gunicorn_app import limit_malloc_arenas, share_between_workers


def test_workers_share_one_course_review_key_a_replay_directory_and_a_metrics_directory():
    env: dict[str, str] = {}
    share_between_workers(env)
    assert len(env["CDS_APP_SECRET_KEY"]) >= 40  # one key for every worker of this run
    assert env["CDS_REPLAY_CACHE_DIR"] and env["PROMETHEUS_MULTIPROC_DIR"]
    again = dict(env)
    share_between_workers(again)
    assert again == env  # set once: a configured value is never replaced


def test_configured_values_are_kept_and_redis_replaces_the_directory():
    env = {"CDS_APP_SECRET_KEY": "configured", "CDS_REDIS_URL": "redis://127.0.0.1:6379/0",
           "PROMETHEUS_MULTIPROC_DIR": "/tmp/m"}
    share_between_workers(env)
    assert env["CDS_APP_SECRET_KEY"] == "configured"
    assert "CDS_REPLAY_CACHE_DIR" not in env
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/m"


def test_workers_share_one_audit_socket_in_a_private_directory():
    env: dict[str, str] = {}
    share_between_workers(env)
    socket_dir = Path(env["CDS_AUDIT_SOCKET"]).parent
    assert socket_dir.is_dir() and socket_dir.stat().st_mode & 0o077 == 0  # only this user may write audit rows
    configured = {"CDS_AUDIT_SOCKET": "/run/cds/audit.sock"}
    share_between_workers(configured)
    assert configured["CDS_AUDIT_SOCKET"] == "/run/cds/audit.sock"


def test_malloc_arenas_are_limited_unless_configured():
    env: dict[str, str] = {}
    limit_malloc_arenas(env)
    assert env["MALLOC_ARENA_MAX"] == "2"  # for the processes serve starts (migration, audit writer)
    configured = {"MALLOC_ARENA_MAX": "4"}
    limit_malloc_arenas(configured)
    assert configured == {"MALLOC_ARENA_MAX": "4"}
