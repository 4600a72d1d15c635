"""`lanner flow validate` names unknown filters, functions and tests of Pebble expressions, with their YAML line."""

from __future__ import annotations

from textwrap import dedent

from engine.model.validation import validate_text

FLOW = dedent("""
    id: checks
    namespace: test.validation
    tasks:
      - id: a
        type: log
        message: "{{ inputs.x | uper }}"
      - id: b
        type: log
        message: "{{ rendr(vars.x) }}"
      - id: c
        type: return
        format: "{{ inputs.x is nul ? 1 : 2 }}"
      - id: d
        type: log
        runIf: "{{ inputs.a ?? }}"
        message: ok
      - id: fine
        type: log
        message: "{{ secret('X') ~ render(vars.y) ~ (inputs.z ?? 'z') | upper ~ kv('k') ~ fileSize('f') }}"
""")


def test_unknown_names_are_reported_with_their_line_and_a_suggestion():
    report = validate_text(FLOW)
    errors = {e.path: e for e in report.errors}
    assert set(errors) == {"tasks[0].message", "tasks[1].message", "tasks[2].format", "tasks[3].runIf"}, report.errors
    lines = FLOW.splitlines()
    for path, needle, words in [
        ("tasks[0].message", "uper", "no filter named 'uper'; did you mean 'upper'?"),
        ("tasks[1].message", "rendr", "unknown function 'rendr'; did you mean 'render'?"),
        ("tasks[2].format", "is nul", "no test named 'nul'; did you mean 'null'?"),
        ("tasks[3].runIf", "?? }}", "unexpected 'end of print statement' (column 16)"),
    ]:
        error = errors[path]
        assert words in error.message, error.message
        assert needle in lines[error.line - 1], (error.line, lines[error.line - 1])


def test_runtime_functions_and_macros_are_known():
    flow = dedent("""
        id: known
        namespace: test.validation
        tasks:
          - id: m
            type: log
            message: "{% macro greet(n) %}hi {{ n }}{% endmacro %}{{ greet('x') }} {{ errorLogs() | length }} {{ tasksWithState('FAILED') }} {{ isFileEmpty('a') }}"
    """)
    assert validate_text(flow).errors == []


def test_an_error_inside_a_block_scalar_points_at_its_own_yaml_line():
    flow = dedent("""
        id: block
        namespace: test.validation
        tasks:
          - id: report
            type: log
            message: |
              Total: {{ outputs.report.value ?? 0 }}
              Next: {{ rendr(vars.x) }}
    """)
    (error,) = validate_text(flow).errors
    assert "unknown function 'rendr'; did you mean 'render'? (column 10)" in error.message
    assert "rendr(" in flow.splitlines()[error.line - 1]
