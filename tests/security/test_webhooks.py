"""Webhooks: constant-time keys, a warning for short keys, a rate limit, and one answer for every miss."""

from __future__ import annotations

import hmac
import time
from textwrap import dedent
from typing import Any

import pytest

from engine.model.validation import validate_text
from tests.security.conftest import WEBHOOK_KEY, WEBHOOK_RATE, Server, json_body

HOOK_FLOW = dedent("""
    id: hooked
    namespace: sec.hooks
    tasks:
      - id: say
        type: log
        message: "{{ trigger.body }}"
    triggers:
      - id: wh
        type: io.kestra.plugin.core.trigger.Webhook
        key: the-right-key-0123456789abcdef
""")


@pytest.fixture
def client(runner):
    from fastapi.testclient import TestClient

    from engine.api.app import create_app
    from engine.local_engine import LocalEngine

    runner.deploy(HOOK_FLOW)
    with TestClient(create_app(LocalEngine(runner), ui=False), base_url="http://127.0.0.1") as c:  # a host the server answers to
        yield c


def test_webhook_keys_are_compared_with_hmac_compare_digest(client, monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    url = "/api/v1/executions/webhook/sec.hooks/hooked/"
    assert client.post(url + "the-right-key-0123456789abcdef", json={"a": 1}).status_code == 200
    assert any(b"the-right-key-0123456789abcdef" in (a, b) for a, b in calls)
    calls.clear()
    assert client.post(url + "the-right-key-0123456789abcdeX", json={}).status_code == 404
    assert any(b"the-right-key-0123456789abcdeX" in (a, b) for a, b in calls), "the wrong key was compared some other way"


def test_a_short_webhook_key_gets_a_validation_warning():
    short = HOOK_FLOW.replace("the-right-key-0123456789abcdef", "guessable")
    report = validate_text(short)
    assert not report.errors
    (warning,) = [w for w in report.warnings if "key" in w.path]
    assert "shorter than 16 characters" in warning.message and warning.line == 11
    assert not [w for w in validate_text(HOOK_FLOW).warnings if "key" in w.path]
    sixteen = HOOK_FLOW.replace("the-right-key-0123456789abcdef", "a" * 16)
    assert not [w for w in validate_text(sixteen).warnings if "key" in w.path]


def test_every_miss_gets_the_same_answer(server: Server):
    base = "/api/v1/executions/webhook"
    misses = {
        "wrong key": f"{base}/sec.api/hook/{WEBHOOK_KEY[:-1]}X",
        "short key": f"{base}/sec.api/hook/k",
        "unknown flow": f"{base}/sec.api/nope/{WEBHOOK_KEY}",
        "unknown namespace": f"{base}/no.such.ns/hook/{WEBHOOK_KEY}",
        "flow without webhook": f"{base}/sec.api/echo/{WEBHOOK_KEY}",
        "bad namespace": f"{base}/..%2e/hook/{WEBHOOK_KEY}",
    }
    answers = {}
    for name, path in misses.items():
        status, headers, raw = server.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"},
                                              auth=False)
        headers.pop("date", None)
        answers[name] = (status, sorted(headers.items()), raw)
    first = answers["wrong key"]
    assert first[0] == 404
    for name, answer in answers.items():
        assert answer == first, f"{name}: {answer} differs from {first}"
    for word in (b"sec.api", b"nope", b"echo", WEBHOOK_KEY[:8].encode()):
        assert word not in first[2]


def test_webhook_calls_are_rate_limited_per_key_and_source(server: Server):
    path = "/api/v1/executions/webhook/sec.api/hook/guess-{}"
    statuses = [server.request("POST", path.format("a"), body=b"{}", auth=False)[0] for _ in range(WEBHOOK_RATE * 3)]
    assert statuses.count(404) >= 1 and statuses[0] == 404
    assert statuses.count(429) >= WEBHOOK_RATE, statuses
    assert statuses.count(404) <= WEBHOOK_RATE + 2, statuses  # a burst of `rate`, plus what refilled meanwhile
    status, headers, raw = server.request("POST", path.format("a"), body=b"{}", auth=False)
    assert status == 429 and headers.get("retry-after") == "1"
    assert b"LANNER_WEBHOOK_RATE" in raw
    # Another key has its own budget; the first one refills with time.
    assert server.request("POST", path.format("b"), body=b"{}", auth=False)[0] == 404
    time.sleep(1.2)
    assert server.request("POST", path.format("a"), body=b"{}", auth=False)[0] == 404


def test_the_right_key_still_works_without_credentials(server: Server):
    status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/hook/{WEBHOOK_KEY}",
                                    body=b'{"text": "hello"}', headers={"Content-Type": "application/json"}, auth=False)
    assert status == 200, raw
    assert json_body(raw)["flowId"] == "hook"
