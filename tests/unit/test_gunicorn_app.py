"""What the workers of one `serve` share, set in the master before they fork."""

from __future__ import annotations

from service.gunicorn_app import share_between_workers


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
