"""Ten flows written the way Kestra's blueprints write expressions, run unchanged on a real runner.

The flows live in ``kestra_flows/``: ``??`` chains and ``render()`` of
variables, ``jq`` on an API's JSON body (served from a local file by a
server on 127.0.0.1), ``read()`` and the file functions on a download,
ternaries and ``isIn`` in ``runIf``, ``{% if %}`` in conditions, date
arithmetic, ForEach with ``currentEachOutput``, an errors branch with
``errorLogs()``/``tasksWithState()``, text and JSON building, secrets,
``env()``, ``kv()`` and encryption. Each test checks the values the tasks
produced.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FLOWS = Path(__file__).with_name("kestra_flows")


class _Files(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """The JSON files of ``kestra_flows/`` over HTTP on 127.0.0.1."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(FLOWS)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the runner starts: its secret store reads SECRET_* when it is created."""
    monkeypatch.setenv("LANNER_HTTP_ALLOW", "127.0.0.1")
    monkeypatch.setenv("SECRET_API_TOKEN", "dG9wLXNlY3JldC12YWx1ZQ==")  # "top-secret-value"
    monkeypatch.setenv("ENV_REGION", "eu")
    monkeypatch.setenv("LANNER_ENCRYPTION_KEYS", "PIPELINE=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")


def run(runner: Any, name: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return runner.run((FLOWS / name).read_text(), inputs or {}, timeout=60)


def outputs(summary: dict[str, Any], task_id: str) -> list[Any]:
    return [tr["outputs"] for tr in summary["taskRuns"] if tr["taskId"] == task_id]


def states(summary: dict[str, Any]) -> dict[str, str]:
    return {tr["taskId"]: tr["state"] for tr in summary["taskRuns"] if tr["value"] is None}


def test_coalesce_chains_and_rendered_variables(runner):
    given = run(runner, "coalesce_dates.yaml", {"run_date": "2024-02-29", "region": "us-east-2"})
    assert given["state"] == "SUCCESS", given
    assert given["outputs"] == {"day": "2024-02-29", "region": "us-east-2", "label": "us-east-2"}
    logs = [row["message"] for row in runner.logs(given["id"])]
    assert "Processing 2024-02-29 in us-east-2" in logs

    nothing = run(runner, "coalesce_dates.yaml")
    started = dt.datetime.fromisoformat(nothing["startDate"])
    yesterday = (started - dt.timedelta(days=1)).date().isoformat()
    assert nothing["outputs"] == {"day": yesterday, "region": "eu-west-1", "label": "none given"}


def test_jq_on_an_api_body_and_a_loop_over_its_ids(runner, api):
    s = run(runner, "api_orders_jq.yaml", {"api": api})
    assert s["state"] == "SUCCESS", s
    assert outputs(s, "paid") == [
        {
            "values": {
                "first_paid": 101,
                "paid_ids": [101, 103],
                "total": 257.75,
                "customers": "acme, globex, initech",
                "count": 4,
                "missing": "no more pages",
            }
        }
    ]
    assert sorted(o["value"] for o in outputs(s, "label")) == ["order-101", "order-103"]
    assert outputs(s, "labels") == [{"value": "order-101,order-103"}]


def test_download_checked_with_file_functions_and_read_by_jq(runner, api):
    s = run(runner, "download_read_jq.yaml", {"api": api})
    assert s["state"] == "SUCCESS", s
    size = (FLOWS / "products.json").stat().st_size
    assert outputs(s, "check") == [
        {"values": {"exists": True, "size": size, "empty": False, "cheapest": "mug", "categories": ["home", "kitchen"], "in_stock": 3}}
    ]
    assert outputs(s, "when_big") == [{"value": "big file"}]
    assert outputs(s, "when_missing") == [{"value": "no report yet"}]


@pytest.mark.parametrize(
    ("inputs", "expected", "check"),
    [
        ({}, {"prod_only": "SKIPPED", "when_retries": "SKIPPED", "non_prod": "SUCCESS", "relaxed": "SUCCESS", "cautious": "SUCCESS"}, "relaxed"),
        ({"env": "test", "retries": 1}, {"prod_only": "SKIPPED", "when_retries": "SKIPPED", "non_prod": "SUCCESS", "relaxed": "SUCCESS", "cautious": "SUCCESS"}, "relaxed"),
        ({"env": "prod", "retries": 3}, {"prod_only": "SUCCESS", "when_retries": "SUCCESS", "non_prod": "SKIPPED", "relaxed": "SKIPPED", "cautious": "SKIPPED"}, "strict"),
    ],
)
def test_run_if_with_ternaries_defaults_and_is_in(runner, inputs, expected, check):
    s = run(runner, "runif_ternary.yaml", inputs)
    assert s["state"] == "SUCCESS", s
    assert {k: v for k, v in states(s).items() if k in expected} == expected
    assert outputs(s, "check") == [{"value": check}]
    if inputs.get("retries") == 3:
        assert outputs(s, "when_retries") == [{"value": "3 retries"}]
    else:
        assert outputs(s, "cautious") == [{"value": f"{inputs.get('retries', 0)} of 3 retries used"}]


@pytest.mark.parametrize(
    ("amount", "ran", "value"),
    [
        (150, ["big_even", "high"], "big even 150"),
        (151, ["other", "high"], "big odd"),
        (50, ["other", "mid"], "medium"),
        (5, ["other", "low"], "small"),
    ],
)
def test_if_tags_in_conditions_and_a_switch_on_a_ternary(runner, amount, ran, value):
    s = run(runner, "if_tags_condition.yaml", {"amount": amount})
    assert s["state"] == "SUCCESS", s
    leaves = {tr["taskId"] for tr in s["taskRuns"]} - {"decide", "route", "guard"}
    assert leaves == set(ran)
    assert outputs(s, ran[0]) == [{"value": value}]
    assert states(s)["guard"] == "SUCCESS"


def test_a_tag_condition_can_fail_the_execution(runner):
    s = run(runner, "if_tags_condition.yaml", {"amount": -3})
    assert s["state"] == "FAILED"
    (guard,) = [tr for tr in s["taskRuns"] if tr["taskId"] == "guard"]
    assert guard["attempts"][-1]["message"] == "negative amount -3"


def test_date_arithmetic_formats_and_calendar(runner):
    s = run(runner, "date_arithmetic.yaml")
    assert s["state"] == "SUCCESS", s
    assert outputs(s, "dates") == [
        {
            "values": {
                "yesterday": "2024-02-25",
                "next_month": "2024-03-26",
                "in_90_minutes": "11:00",
                "week": "Mon 26, Tue 27, Wed 28, Thu 29, Fri 1, Sat 2, Sun 3",
                "weekend_days": "5 6 ",
                "epoch": 1708939800,
                "paris": "2024-02-26 10:30",
                "day_name": "MONDAY",
                "month_start": "2024-02-01",
                "last_working_day": True,
                "quarter": "Q1",
                "in_window": True,
                "iso_week": "2024-W09",
            }
        }
    ]
    later = run(runner, "date_arithmetic.yaml", {"start": "2024-12-31T23:30:00Z"})
    values = outputs(later, "dates")[0]["values"]
    assert (values["yesterday"], values["next_month"], values["in_90_minutes"]) == ("2024-12-30", "2025-01-31", "01:00")
    assert (values["paris"], values["quarter"], values["in_window"]) == ("2025-01-01 00:30", "Q4", False)


def test_foreach_with_jq_per_item_and_current_each_output(runner):
    s = run(runner, "foreach_jq.yaml")
    assert s["state"] == "SUCCESS", s
    assert sorted(o["value"] for o in outputs(s, "double")) == [2, 4, 6]
    assert sorted(o["value"] for o in outputs(s, "label")) == ["ALPHA=2", "BRAVO=4", "CHARLIE=6"]
    assert outputs(s, "summary") == [{"value": "ALPHA=2;BRAVO=4;CHARLIE=6"}]
    assert outputs(s, "total") == [{"value": 12}]


def test_errors_branch_reports_failed_tasks_and_their_error(runner):
    s = run(runner, "errors_alert.yaml")
    assert s["state"] == "FAILED"
    assert outputs(s, "alert") == [{"value": "boom | true | Something went wrong in errors_alert | 1"}]


def test_text_regex_and_json_body_building(runner):
    s = run(runner, "strings_json.yaml")
    assert s["state"] == "SUCCESS", s
    assert outputs(s, "out") == [
        {
            "values": {
                "slug": "quarterly-report-q1-2025-final",
                "subject": "Quarterly Report:...",
                "after": "Q1 2025 (FINAL)",
                "quarter": "Q1",
                "next_year": 2026,
                "tags": "#finance #q1 #final",
                "is_final": True,
                "body": '{"title":"Quarterly Report: Q1 2025 (FINAL)","tags":["finance","q1","final"],"count":3}',
                "shell": "it'\\''s done",
                "amount": "1,234,567.89",
                "prefixed": "tags=3",
                "words": 5,
            }
        }
    ]


def test_render_secret_env_kv_and_encryption(runner):
    s = run(runner, "render_context.yaml", {"stage": "staging"})
    assert s["state"] == "SUCCESS", s
    assert outputs(s, "info") == [
        {
            "values": {
                "endpoint": "https://staging.example.com/v1",
                "token_length": len("top-secret-value"),
                "region": "eu",
                "missing_env": "none",
                "kv_or_default": "unset",
                "sees_inputs": True,
                "round_trip": True,
                "ksuid_length": 27,
            }
        }
    ]


def test_every_flow_passes_validation_unchanged():
    from engine.model.validation import validate_text

    for path in sorted(FLOWS.glob("*.yaml")):
        report = validate_text(path.read_text())
        assert not report.errors, (path.name, [str(e) for e in report.errors])
