"""Issue 19, items 1 and 2: one expression must not freeze the server, and no value escapes the size limits.

Work done in C (comparing, sorting, printing, hashing a value) cannot be
interrupted by the render's time limit, so what it walks must be bounded
first: every value is sized by its expanded size (nested items counted, a
shared one each time it appears, no depth cut-off) where it is built, and
the operations that walk values size what they are given. Through the real
server: /health keeps answering while such a render fails, RSS stays flat,
and the execution ends FAILED with a sentence naming the limit.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.expressions import ExpressionError, Limits, render
from tests.security.conftest import BUSY_HOOK_KEY, COSTLY_HOOK_KEY, Server, json_body

ITEMS = "over the limit of 1,000,000 items"
JSON = {"Content-Type": "application/json"}

# --- values built by the template are refused where they are built ------------------------------

SHARED = "{% set a = [0] * 1000 %}{% set b = [a] * 1000 %}"
BUILT = {
    # each builds a value of millions of items out of a few kilobytes of references; `length` does not walk
    "repeat": (SHARED + "{% set c = [b] * 15000 %}{{ c | length }}", "the repeated list would hold 1,001,000 items"),
    "literals": ("{% set x = [0] * 1000 %}{% set y = [x, x, x, x, x, x, x, x, x, x] %}{% set z = [y, y, y, y, y, y, y, y, y, y] %}"
                 "{% set w = [z, z, z, z, z, z, z, z, z, z] %}{{ w | length }}", ITEMS),
    "map-literal": ("{% set x = [0] * 1000 %}{% set y = {'a': x, 'b': x, 'c': x, 'd': x} %}{% set z = [y] * 300 %}{{ z | length }}", ITEMS),
    "tuples": ("{% set t = (0,) * 1000 %}{% set u = (t,) * 1000 %}{% set v = (u, u, u) %}{{ v | length }}", ITEMS),
    "concatenation": ("{% set a = [0] * 1000 %}{% set b = [a] * 600 %}{{ (b + b) | length }}", ITEMS),
    "filters": ("{% set a = [0] * 1000 %}{% set b = [a] * 600 %}{{ [b, b] | batch(1) | list | length }}", ITEMS),
    "generator": ("{{ range(30) | map('center', 1000000) | list | length }}", "over the limit of 10,485,760"),
    "yaml-aliases": ("{{ fromYaml(inputs.laughs) | length }}", ITEMS),
    "json-many-items": ("{{ fromJson('[' ~ ('1,' * 1500000) ~ '1]') | length }}", ITEMS),
    "json-deep": ("{{ fromJson('" + "[" * 150 + "]" * 150 + "') | length }}", "more than 100 levels deep"),
    "many-large-texts": ("".join(f"{{% set t{i} = ('x' * 9000000) ~ {i} %}}" for i in range(20)) + "{{ t0 | length }}",
                         "over the limit of 100 MiB"),
    "slices": ("{% set s = 'x' * 9000000 %}{{ [" + ", ".join(f"s[{i}:]" for i in range(1, 16)) + "] | length }}",
               "over the limit of 100 MiB"),
}
LAUGHS = "\n".join(["a: &a [0,0,0,0,0,0,0,0,0,0]", *[f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(6)]])


@pytest.mark.parametrize("name", list(BUILT))
def test_a_value_over_the_limits_is_refused_where_it_is_built(name):
    template, reason = BUILT[name]
    with pytest.raises(ExpressionError, match=reason):
        render(template, {"inputs": {"laughs": LAUGHS}})


# --- what walks a value in C sizes it first (values from the context were not built by the template) -------

#: 3,003,001 items through shared references, in a few kilobytes: data no expression built.
INNER = [[0] * 1000] * 1000
WIDE = [INNER] * 3
DEEP: list[Any] = [0]
for _ in range(150):
    DEEP = [DEEP]
WALKERS = {
    "==": "{{ c == d }}",
    "!=": "{{ c != d }}",
    "<": "{{ c < d }}",
    "in": "{{ c in [d] }}",
    "not in": "{{ 0 not in c }}",
    "contains": "{{ c contains d }}",
    "isIn": "{{ 'x' isIn c }}",
    "minus": "{{ (c - d) | length }}",
    "sort": "{{ c | sort | length }}",
    "unique": "{{ c | unique | length }}",
    "max": "{{ c | max | length }}",
    "dictsort": "{{ {'a': c} | dictsort | length }}",
    "groupby": "{{ c | groupby(0) | list | length }}",
    "count": "{{ [1].count(c) }}",
    "eq test": "{{ c is eq(d) }}",
    "select eq": "{{ c | select('eq', d) | list | length }}",
    "string": "{{ c | string | length }}",
    "tojson": "{{ c | tojson | length }}",
    "text": "{{ ('' ~ c) | length }}",
    "format method": "{{ '{}'.format(c) | length }}",
    "format repr": "{{ '{!r}'.format(c) | length }}",
    "percent": "{{ ('%s' % [c]) | length }}",
    "format filter": "{{ '%s' | format(c) | length }}",
    "upper": "{{ c | upper | length }}",
    "safe": "{{ c | safe | length }}",
    "escape": "{{ c | e | length }}",
    "md5": "{{ c | md5 }}",
    "yaml": "{{ c | yaml | length }}",
    "jq": "{{ c | jq('length') }}",
    "render": "{{ render(c) | length }}",
    "escapeChar": "{{ c | escapeChar('single') | length }}",
    "join": "{{ c | join(',') | length }}",
    "result": "{{ c }}",
    "deep result": "{{ deep }}",
    "deep json": "{{ deep | tojson | length }}",
}


@pytest.mark.parametrize("name", list(WALKERS))
def test_operations_that_walk_in_c_size_their_input_first(name):
    start = time.thread_time()  # CPU time, as the limit counts it (a busy machine stretches wall time)
    with pytest.raises(ExpressionError, match="over the limit of"):
        render(WALKERS[name], {"c": WIDE, "d": [[[0] * 1000] * 1000] * 3, "deep": DEEP})
    assert time.thread_time() - start < 1.5, "refused by sizing, not by the time limit"


def test_the_limits_can_be_set_from_the_environment(monkeypatch):
    monkeypatch.setenv("LANNER_EXPR_MAX_ITEMS", "5000")
    with pytest.raises(ExpressionError, match="over the limit of 5,000 items"):
        render("{% set a = [0] * 100 %}{{ ([a] * 60) | length }}", {})
    monkeypatch.setenv("LANNER_EXPR_MAX_MEMORY", "1000000")
    with pytest.raises(ExpressionError, match="over the limit of 1 MiB"):
        render("{% set a = 'x' * 600000 %}{% set b = a ~ 'y' %}{{ b | length }}", {})
    monkeypatch.setenv("LANNER_EXPR_MAX_ITEMS", "lots")
    with pytest.raises(ValueError, match="LANNER_EXPR_MAX_ITEMS must be a whole number of items, not 'lots'"):
        Limits.from_env()


# --- through the server ----------------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


class _Watch:
    """/health asked again and again, and the server's RSS read, while something runs."""

    def __init__(self, server: Server):
        self.server = server
        self.slowest = 0.0
        self.failures: list[str] = []
        self.peak_rss = self.start_rss = _rss_mb(server.process.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                status = self.server.request("GET", "/health", auth=False, timeout=5)[0]
                if status != 200:
                    self.failures.append(f"/health answered {status}")
            except OSError as exc:
                self.failures.append(f"/health did not answer within 5 s: {exc}")
            self.slowest = max(self.slowest, time.monotonic() - start)
            self.peak_rss = max(self.peak_rss, _rss_mb(self.server.process.pid))
            self._stop.wait(0.05)


def _run_to_end(server: Server, flow_id: str) -> dict[str, Any]:
    status, _, raw = server.request("POST", f"/api/v1/executions/sec.api/{flow_id}", body=b"{}", headers=JSON)
    assert status == 200, raw
    ex_id = json_body(raw)["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, _, raw = server.request("GET", f"/api/v1/executions/{ex_id}", timeout=90)
        summary = json_body(raw)
        if summary["state"] in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
            return summary
        time.sleep(0.1)
    pytest.fail(f"{flow_id} did not end within 90 s")


@pytest.mark.parametrize(("flow_id", "reason"), [
    ("cost_compare", "the repeated list would hold 1,001,000 items"),
    ("cost_json", "the repeated list would hold 1,001,000 items"),
    ("cost_memory", "over the limit of 100 MiB"),
])
def test_a_hostile_render_fails_its_execution_and_the_server_keeps_answering(server: Server, flow_id: str, reason: str):
    with _Watch(server) as watch:
        summary = _run_to_end(server, flow_id)
    assert summary["state"] == "FAILED", summary
    (run,) = [t for t in summary["taskRuns"] if t["taskId"] == "render"]
    message = run["attempts"][-1].get("message", "")
    assert reason in message and "cannot render" in message, message
    assert not watch.failures, watch.failures
    assert watch.slowest < 2.0, f"/health took {watch.slowest:.1f} s while the render ran"
    assert watch.peak_rss - watch.start_rss < 200, f"RSS grew by {watch.peak_rss - watch.start_rss:.0f} MB"


def test_webhook_inputs_are_rendered_within_the_limits_and_off_the_event_loop(server: Server):
    with _Watch(server) as watch:
        status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/cost_hook/{COSTLY_HOOK_KEY}",
                                        body=b"{}", headers=JSON, auth=False, timeout=90)
    assert status == 422, raw
    message = json_body(raw)["message"]
    assert "its inputs could not be rendered" in message and "would hold 1,001,000 items" in message, message
    assert not watch.failures, watch.failures
    assert watch.slowest < 2.0, f"/health took {watch.slowest:.1f} s while the webhook's inputs rendered"


def test_webhook_inputs_that_render_until_the_time_limit_leave_the_api_answering(server: Server):
    with _Watch(server) as watch:
        status, _, raw = server.request("POST", f"/api/v1/executions/webhook/sec.api/busy_hook/{BUSY_HOOK_KEY}",
                                        body=b"{}", headers=JSON, auth=False, timeout=90)
    assert status == 422, raw
    assert "took longer than 2 s" in json_body(raw)["message"]
    assert not watch.failures, watch.failures
    assert watch.slowest < 1.0, f"/health took {watch.slowest:.1f} s while the webhook's inputs rendered"
