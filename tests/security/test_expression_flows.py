"""Expression attacks through a real flow run, and what the expression context holds.

The renderer's own sandbox tests live in test_expression_sandbox.py; here the
same payloads travel the way an attacker's would: a flow runs on a
LocalRunner, and the payload must end as a FAILED task with a one-sentence
expression error, in bounded time and memory, with no side effect.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

LEAKS = ("<class", "<module", "__globals__", "subprocess", "builtins", "<function", "Popen")


def _flow(message: str, flow_id: str = "payload") -> str:
    # A JSON string is a valid YAML double-quoted scalar: no quoting surprises.
    return dedent(f"""
        id: {flow_id}
        namespace: sec.expr
        tasks:
          - id: render
            type: log
            message: {json.dumps(message)}
    """)


def _failure(summary: dict[str, Any]) -> str:
    (tr,) = [t for t in summary["taskRuns"] if t["taskId"] == "render"]
    assert tr["state"] == "FAILED", tr
    return tr["attempts"][-1].get("message", "")


def _logged(runner: Any, execution_id: str) -> str:
    return "\n".join(row["message"] for row in runner.logs(execution_id))


INTERNALS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ x|attr('__class__') }}",
    "{{ '{0.__class__}'.format(x) }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ inputs.__class__ }}",
    "{{ labels['__class__'] }}",
]


@pytest.mark.parametrize("payload", INTERNALS)
def test_python_internals_fail_the_task_with_an_expression_error(runner, payload):
    template = payload.replace(" x", " flow.id").replace("(x)", "(flow.id)")
    start = time.monotonic()
    summary = runner.run(_flow(template), timeout=30)
    assert time.monotonic() - start < 10
    assert summary["state"] == "FAILED"
    message = _failure(summary)
    assert message.startswith("cannot render"), message
    assert "unsafe" in message or "undefined" in message or "not" in message, message
    everything = json.dumps(summary) + _logged(runner, summary["id"])
    assert not any(word in everything.replace(template, "") for word in LEAKS)


def test_code_execution_payloads_have_no_side_effect(runner, tmp_path: Path):
    marker = tmp_path / "pwned"
    payloads = [
        f"{{{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}}}",
        f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}",
        f"{{{{ joiner.__init__.__globals__['os'].system('touch {marker}') }}}}",
        f"{{{{ self.__init__.__globals__['__builtins__']['__import__']('os').system('touch {marker}') }}}}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        f"{{{{ c(['touch', '{marker}']) }}}}{{% endif %}}{{% endfor %}}",
    ]
    for i, payload in enumerate(payloads):
        summary = runner.run(_flow(payload, f"rce{i}"), timeout=30)
        assert summary["state"] == "FAILED", payload
        assert _failure(summary).startswith("cannot render")
    assert not marker.exists()


BOMBS = {
    "range": "{{ range(10**9) | list }}",
    "repeat-100MB": "{{ 'a' * 100000000 }}",
    "repeat-set": "{% set s = 'a' * 1000000 %}{{ s * 100 }}",
    "recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "exponential-macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% else %}xxxxxxxx{% endif %}{% endmacro %}{{ f(60) }}",
    "busy-loop": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_resource_bombs_end_the_task_in_bounded_time_and_memory(runner, name):
    tracemalloc.start()  # traces every thread: the executor loop renders the log task
    try:
        start = _cpu()
        summary = runner.run(_flow(BOMBS[name]), timeout=30)
        took = _cpu() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = _failure(summary)
    assert summary["state"] == "FAILED"
    assert message.startswith("cannot render"), message
    assert any(w in message for w in ("limit", "too deeply", "took longer", "too large", "too long")), message
    assert took < 6, f"{name} took {took:.1f} s of CPU"
    assert peak < 60 * 1024 * 1024, f"{name}: {peak / 1e6:.0f} MB allocated"
    # The runner is still healthy afterwards.
    assert runner.run(_flow("{{ 6 * 7 }}", "after"), timeout=30)["state"] == "SUCCESS"


def test_installed_jinja2_has_the_known_sandbox_fixes():
    # 3.1.6 fixes the |attr format-method escape (CVE-2025-27516); 3.1.5 the str.format one.
    parts = tuple(int(p) for p in version("jinja2").split(".")[:3] if p.isdigit())
    assert parts >= (3, 1, 6), version("jinja2")
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"jinja2>=3.1.6"' in pyproject


# --- data is never rendered ---------------------------------------------------------------------

DATA_FLOW = dedent("""
    id: echo
    namespace: sec.expr
    inputs:
      - id: x
        type: STRING
      - id: doc
        type: JSON
        required: false
    tasks:
      - id: say
        type: log
        message: "{{ inputs.x }}"
      - id: nested
        type: log
        message: "{{ inputs.doc }}"
      - id: keep
        type: return
        format: "{{ inputs.x }}"
""")


def test_a_template_in_an_input_is_data_not_rendered(runner):
    summary = runner.run(DATA_FLOW, {"x": "{{ 7*7 }}", "doc": '{"a": "{{ 7*7 }}", "b": "{% raw %}x"}'}, timeout=30)
    assert summary["state"] == "SUCCESS", summary
    assert summary["inputs"]["x"] == "{{ 7*7 }}"
    assert summary["inputs"]["doc"] == {"a": "{{ 7*7 }}", "b": "{% raw %}x"}
    (keep,) = [t for t in summary["taskRuns"] if t["taskId"] == "keep"]
    assert keep["outputs"] == {"value": "{{ 7*7 }}"}
    messages = [row["message"] for row in runner.logs(summary["id"]) if row["taskId"] in ("say", "nested")]
    assert "{{ 7*7 }}" in messages
    assert not any("49" in m for m in messages), messages


def test_a_template_in_a_trigger_payload_is_data_not_rendered(runner):
    flow = dedent("""
        id: hook
        namespace: sec.expr
        tasks:
          - id: say
            type: log
            message: "{{ trigger.body.text }} / {{ trigger.headers['x-note'][0] }}"
    """)
    runner.deploy(flow)
    trigger = {"id": "w", "type": "webhook", "body": {"text": "{{ 7*7 }}"}, "headers": {"x-note": ["{% if true %}yes{% endif %}"]}}
    ex_id = runner.start_execution("sec.expr", "hook", {}, trigger=trigger)
    summary = runner.wait(ex_id, timeout=30)
    assert summary["state"] == "SUCCESS"
    messages = [row["message"] for row in runner.logs(ex_id) if row["taskId"] == "say"]
    assert messages == ["{{ 7*7 }} / {% if true %}yes{% endif %}"]


# --- the context is plain data --------------------------------------------------------------------

PLAIN = (dict, list, str, int, float, bool, type(None))


def _walk(value: Any, path: str, bad: list[str], seen: set[int]) -> None:
    if type(value) not in PLAIN:  # exact types: a dict subclass could carry methods
        bad.append(f"{path}: {type(value).__module__}.{type(value).__qualname__}")
        return
    if isinstance(value, (dict, list)):
        if id(value) in seen:
            return
        seen.add(id(value))
    if isinstance(value, dict):
        for k, v in value.items():
            if type(k) is not str:
                bad.append(f"{path}: key {k!r} of type {type(k).__name__}")
            _walk(v, f"{path}.{k}", bad, seen)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", bad, seen)


CONTEXT_FLOW = dedent("""
    id: ctx
    namespace: sec.expr
    labels:
      team: a
    inputs:
      - id: s
        type: STRING
      - id: when
        type: DATETIME
      - id: day
        type: DATE
      - id: span
        type: DURATION
      - id: doc
        type: JSON
      - id: y
        type: YAML
      - id: many
        type: ARRAY
        itemType: INT
    variables:
      v: "{{ inputs.s }}-var"
    tasks:
      - id: first
        type: return
        format: "{{ inputs.s }}"
      - id: script
        type: python
        script: |
          print('::{"outputs": {"n": 1, "l": [1, 2], "d": {"k": "v"}}}::')
      - id: loop
        type: for_each
        values: ["a", "b"]
        tasks:
          - id: inner
            type: log
            message: "{{ taskrun.value }} {{ parent.taskrun.value }} {{ vars.v }}"
      - id: last
        type: log
        message: "{{ outputs.script.vars.d.k }} {{ outputs.inner['a'] }}"
""")


def test_the_expression_context_of_real_task_runs_holds_plain_data_only(runner, monkeypatch):
    import engine.runtime.local as local

    contexts: list[dict[str, Any]] = []
    real = local.TaskVariables  # what the runner makes each task run's context with

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        ctx = real(*args, **kwargs)
        contexts.append(ctx)
        return ctx

    monkeypatch.setattr(local, "TaskVariables", recording)
    inputs = {
        "s": "hi", "when": "2024-01-02T03:04:05Z", "day": "2024-01-02", "span": "PT5M",
        "doc": '{"a": [1, {"b": null}]}', "y": "k: [1, 2]", "many": "[1, 2]",
    }
    ex_id = runner.start_execution(*_deploy(runner, CONTEXT_FLOW), inputs, labels={"source": "test"})
    summary = runner.wait(ex_id, timeout=60)
    assert summary["state"] == "SUCCESS", summary
    assert len(contexts) >= 6
    names = set().union(*(c.keys() for c in contexts))
    assert {"inputs", "outputs", "vars", "taskrun", "execution", "flow", "labels", "parent"} <= names
    bad: list[str] = []
    for ctx in contexts:
        # The context is a TaskVariables (a dict that makes its entries when read); a template never
        # sees it, only its values: a render reads ``ctx[name]`` or merges it into a plain dict.
        assert isinstance(ctx, dict)
        _walk(dict(ctx), "ctx", bad, set())
    assert not bad, sorted(set(bad))[:20]


def test_the_walk_would_notice_a_live_object():
    bad: list[str] = []
    _walk({"a": [1, {"b": Path("x")}], "c": time}, "ctx", bad, set())
    assert len(bad) == 2 and "pathlib" in bad[0] + bad[1]


def _deploy(runner: Any, source: str) -> tuple[str, str]:
    flow = runner.deploy(source)
    return flow.namespace, flow.id


def test_a_loop_of_slow_runtime_calls_stops_at_the_deadline():
    """Calls to runtime functions (secret, read, kv) in a tight loop cannot stretch the time limit.

    Each call is shielded from the watchdog; without a check at the call itself
    the gaps between calls are too short for the watchdog to ever see one.
    """
    from engine.expressions import ExpressionError, Limits, render

    calls: list[float] = []

    def slow(key: str) -> str:
        end = time.thread_time() + 0.3  # CPU time, as the limit counts it
        while time.thread_time() < end:
            pass
        calls.append(time.perf_counter())
        return key

    start = time.thread_time()
    with pytest.raises(ExpressionError, match="took longer than 0.1 s"):
        render("{% for i in range(1000) %}{{ kv('k') }}{% endfor %}", {}, functions={"kv": slow},
               limits=Limits(timeout=0.1))
    assert len(calls) == 1, f"{len(calls)} calls after the deadline"
    assert time.thread_time() - start < 1.0


def _cpu() -> float:
    """CPU seconds of this process (every thread: the runner renders on its own) and of its ended children (jq).

    The time limit counts CPU time, so that is what bounds a run: a busy CI machine stretches its wall time.
    """
    own, children = time.process_time(), os.times()
    return own + children.children_user + children.children_system
