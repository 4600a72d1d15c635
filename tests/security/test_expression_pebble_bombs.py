"""Hostile expressions through every Pebble construct, run by a real runner.

Each payload must end as a FAILED task with a one-sentence expression error,
well within the time limit, and leave the runner healthy: ranges with huge
bounds, ``??`` chains of thousands of terms (in the flow, refused at
validation; from data through ``render()``, refused at run time), jq on a
deep document, jq that never ends or eats memory (its worker is killed),
regular expressions over a large text, and the new filters' size checks.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from textwrap import dedent
from typing import Any

import pytest

from engine.model.validation import FlowValidationError, validate_text

DEEP_JSON = "[" * 20_000 + "]" * 20_000
CHAIN = "{{ " + " ?? ".join(f"missing{i}" for i in range(5_000)) + " }}"

BOMBS = {
    "range-huge-bounds": ("{{ 1..1000000000 }}", "over the limit of 100,000"),
    "range-huge-loop": ("{% for i in 1..100000 %}{% for j in 1..100000 %}{% endfor %}{% endfor %}", "took longer than"),
    "range-function": ("{{ range(0, 10000000000, 1) }}", "over the limit of 100,000"),
    "coalesce-chain-from-data": ("{{ render(inputs.data) }}", "a ?? chain may have at most 500 terms"),
    "jq-deep-text": ("{{ inputs.deep | jq('.') }}", "Exceeds depth limit"),
    "jq-deep-parsed": ("{{ fromJson(inputs.deep) | jq('.') }}", "recurses too deeply"),
    "jq-endless": ("{{ [1] | jq('def f: f; f') }}", "did not finish within"),
    "jq-memory": ("{{ [1] | jq('[range(1e10)]') }}", "did not finish within"),
    "jq-huge-result": ("{{ [1] | jq('\"x\" * 12000000') }}", "over the limit"),
    "regex-many-matches": ("{{ ('x' * 5000000) | regexReplace('x', 'yy') }}", "took longer than"),
    "regex-backtracking": ("{{ (('a' * 50000) ~ '!') | regexMatch('(a|aa)+$') }}", None),
    "split-huge": ("{{ ('a,' * 2000000) | split(',') }}", "over the limit"),
    "concat-huge": ("{{ ('a' * 6000000) ~ ('b' * 6000000) }}", "over the limit"),
    "plus-huge": ("{{ ('a' * 6000000) + ('b' * 6000000) }}", "over the limit"),
    "list-repeat": ("{{ (1..100000) * 100 }}", "over the limit"),
    "render-itself": ("{% set a = '{{ render(a) }}' %}{{ render(a) }}", "too deeply"),
    "indent-huge": ("{{ 'a\\nb' | indent(1000000000) }}", "over the limit"),
    "escape-huge": ("{{ (\"'\" * 5000000) | escapeChar('shell') }}", "over the limit"),
    "nested-parentheses": ("{{ render(inputs.parens) }}", "nests too deeply"),
}
LIMIT_WORDS = ("limit", "too deeply", "took longer", "too large", "did not finish", "Exceeds depth", "at most")


def _flow(message: str, flow_id: str) -> str:
    return dedent(f"""
        id: {flow_id}
        namespace: sec.pebble
        inputs:
          - {{id: data, type: STRING, required: false}}
          - {{id: deep, type: STRING, required: false}}
          - {{id: parens, type: STRING, required: false}}
        tasks:
          - id: render
            type: log
            message: {json.dumps(message)}
    """)


def _message(summary: dict[str, Any]) -> str:
    (tr,) = [t for t in summary["taskRuns"] if t["taskId"] == "render"]
    assert tr["state"] == "FAILED", tr
    return tr["attempts"][-1].get("message", "")


@pytest.mark.parametrize("name", list(BOMBS))
def test_hostile_pebble_expressions_fail_the_task_within_the_time_limit(runner, name):
    template, expected = BOMBS[name]
    inputs = {"data": CHAIN, "deep": DEEP_JSON, "parens": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"}
    start = _cpu()
    summary = runner.run(_flow(template, name.replace("-", "_")), inputs, timeout=30)
    took = _cpu() - start
    if expected is None:
        # RE2 answers in linear time: no catastrophic backtracking to stop.
        assert summary["state"] == "SUCCESS", summary
        assert took < 5, f"{name} took {took:.1f} s of CPU"
        return
    assert summary["state"] == "FAILED"
    message = _message(summary)
    assert message.startswith(("cannot render", "cannot parse")), message
    assert expected in message, message
    assert any(word in message for word in LIMIT_WORDS), message
    assert took < 6, f"{name} took {took:.1f} s of CPU"
    assert runner.run(_flow("{{ 6 * 7 }}", "after"), timeout=30)["state"] == "SUCCESS"


def test_a_long_coalesce_chain_in_a_flow_is_refused_at_validation_with_its_line():
    text = _flow(CHAIN, "chain")
    report = validate_text(text)
    (error,) = [e for e in report.errors if "??" in e.message]
    assert "a ?? chain may have at most 500 terms" in error.message
    assert error.line == text.splitlines().index(next(line for line in text.splitlines() if "message:" in line)) + 1
    with pytest.raises(FlowValidationError):
        from engine.model.validation import load_flow

        load_flow(text)


def test_a_huge_expression_is_refused_before_it_is_compiled():
    from engine.expressions import ExpressionError, check_syntax

    start = time.thread_time()  # CPU time: a busy machine stretches wall time, not this
    with pytest.raises(ExpressionError, match="too large"):
        check_syntax("{{ " + " ~ ".join(["'a'"] * 30_000) + " }}")
    assert time.thread_time() - start < 5


def test_a_jq_worker_left_alone_stops_its_endless_program_by_itself():
    """Should the server die mid-render, the worker's own CPU timer ends the program (no orphan spinning)."""
    from engine.expressions.jq_filter import JqWorker

    worker = JqWorker()
    try:
        assert worker.proc.stdin is not None
        program, data = b"def f: f; f", b"[1]"
        # The request as JqWorker.ask writes it (300 ms of CPU time), and nobody reading the answer.
        worker.proc.stdin.write(b"%d %d 1000 300\n" % (len(program), len(data)) + program + data)
        worker.proc.stdin.flush()
        assert worker.proc.wait(timeout=60) == -signal.SIGPROF
    finally:
        worker.kill()


def test_a_jq_program_is_timed_by_its_cpu_time_so_a_stalled_worker_still_answers():
    """A worker that gets no CPU for a while (a busy machine) is not cut short; an endless one still is."""
    from engine.expressions.jq_filter import JqWorker

    worker = JqWorker()
    try:
        assert worker.ask(".a", '{"a": 1}', 1000, 0.3) == (True, "[1]")  # started and warm
        os.kill(worker.proc.pid, signal.SIGSTOP)  # what a loaded machine does to it, only longer
        resume = threading.Timer(1.0, os.kill, (worker.proc.pid, signal.SIGCONT))
        resume.start()
        try:
            start = time.monotonic()
            assert worker.ask(".a + 1", '{"a": 1}', 1000, 0.3) == (True, "[2]")
            assert time.monotonic() - start > 0.3  # longer than the budget in wall time
        finally:
            resume.join()
        cpu = _children_cpu()
        with pytest.raises(TimeoutError):
            worker.ask("def f: f; f", "[1]", 1000, 0.3)
        worker.proc.wait(timeout=10)
        assert 0.3 <= _children_cpu() - cpu < 1.5  # the worker used its budget, and not much more
    finally:
        worker.kill()


def _children_cpu() -> float:
    """CPU seconds used by this process's ended (and waited-for) children."""
    times = os.times()
    return times.children_user + times.children_system


def _cpu() -> float:
    """CPU seconds of this process (every thread: the runner renders on its own) and of its ended children (jq).

    The time limit counts CPU time, so that is what bounds a run: a busy CI machine stretches its wall time.
    """
    own, children = time.process_time(), os.times()
    return own + children.children_user + children.children_system
