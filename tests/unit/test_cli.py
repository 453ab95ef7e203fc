"""The command line: one-line errors with exit code 2, readable help, and requests ready for curl."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args", [
    ("evaluate", "fhir_fixtures/patients/seed-a.json", "--as-of", "01/11/2026"),
    ("report", "overrides", "--since", "yesterday"),
])
def test_a_bad_date_is_one_line_and_exit_2_not_a_traceback(args):
    out = run_cli(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "is not a date; use YYYY-MM-DD" in out.stderr.splitlines()[-1]


def test_a_non_json_bundle_says_not_json(tmp_path, capsys):
    bundle = tmp_path / "b.json"
    bundle.write_text("<Bundle/>")
    assert main(["evaluate", str(bundle)]) == 2
    assert capsys.readouterr().err.strip() == f"rituximab-cds evaluate: error: BUNDLE {bundle} is not JSON (line 1, column 1)"


@pytest.mark.parametrize(("content", "message"), [
    ("[]", "is not a FHIR Bundle"),
    ('{"resourceType": "Bundle", "entry": "x"}', "has no Patient"),
])
def test_json_that_is_not_a_patient_bundle_is_named(tmp_path, capsys, content, message):
    bundle = tmp_path / "b.json"
    bundle.write_text(content)
    assert main(["evaluate", str(bundle)]) == 2
    assert message in capsys.readouterr().err


def test_a_hook_request_without_a_patient_is_refused_plainly(tmp_path, capsys):
    order = tmp_path / "o.json"
    order.write_text('{"hook": "order-sign", "context": []}')
    assert main(["evaluate", "fhir_fixtures/patients/seed-a.json", str(order)]) == 2
    assert "without context.patientId" in capsys.readouterr().err


def test_argparse_names_arguments_in_words(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "trends"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument REPORT: invalid choice" in err and "argument what" not in err


def test_serve_help_documents_options_and_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("Run the CDS Hooks service under gunicorn", "(default: 127.0.0.1)", "(default: 8080)",
                     "gunicorn worker processes (default: 2)", "threads per worker (default: 4)"):
        assert expected in text


def test_evaluate_prints_markdown_rendered_not_escaped(capsys):
    assert main(["evaluate", "fhir_fixtures/patients/seed-b.json", "fhir_fixtures/requests/seed-b.json",
                 "--as-of", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    assert "MDA5 Ab [Presence]" in out and "\\[" not in out and "**" not in out


def test_request_is_ready_to_send_and_needs_no_fhir_server(client, capsys):
    """The README's `rituximab-cds request seed-b | curl ...`: a complete prefetch, so zero FHIR queries."""
    assert main(["request", "seed-b"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "POST /cds-services/rituximab-order-sign"
    resp = client.post("/cds-services/rituximab-order-sign", json=json.loads(captured.out))
    assert resp.status_code == 200
    assert {c["source"]["topic"]["code"] for c in resp.get_json()["cards"]} >= {"indication"}
    assert 'desc="0 queries"' in resp.headers["Server-Timing"]  # nothing was fetched


def test_request_without_prefetch_or_server_warns_of_the_412(client, capsys):
    assert main(["request", "seed-b", "--no-prefetch"]) == 0
    captured = capsys.readouterr()
    assert "412" in captured.err
    assert client.post("/cds-services/rituximab-order-sign", json=json.loads(captured.out)).status_code == 412


def test_request_for_an_unknown_fixture_lists_the_names(capsys):
    assert main(["request", "seed-z"]) == 2
    assert "seed-b.order-select" in capsys.readouterr().err


def test_report_names_the_database_it_reads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert main(["report", "overrides", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"database: sqlite:///{tmp_path / 'x.sqlite3'}")
    assert json.loads(captured.out) is not None  # stdout stays machine-readable


def test_a_bad_setting_is_a_message_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("CDS_TB_SCREENING", "sometimes")
    assert main(["report", "overrides"]) == 2
    assert "CDS_TB_SCREENING must be required, advisory or off" in capsys.readouterr().err
