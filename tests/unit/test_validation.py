"""Flow validation: every error with its path and YAML line, nothing silently ignored."""

from __future__ import annotations

from textwrap import dedent

import pytest

from engine.model import registry
from engine.model.validation import FlowValidationError, load_flow, validate_text


def errors_of(text: str) -> list[str]:
    return [str(e) for e in validate_text(dedent(text)).errors]


def test_valid_flow_loads_with_snake_case_attributes():
    flow = load_flow(dedent("""
        id: ok
        namespace: company.team
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Log
            message: hi
            allowFailure: true
            retry: {type: constant, interval: PT1S, maxAttempt: 3}
    """))
    task = flow.tasks[0]
    assert task.allow_failure is True
    assert task.retry.max_attempts == 3
    assert task.retry.interval.total_seconds() == 1


def test_unknown_property_is_an_error_with_suggestion():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: log
            mesage: hi
    """)
    assert any("tasks[0].mesage: unknown property 'mesage'; did you mean 'message'?" in e and "line 7" in e for e in errs), errs


def test_unknown_task_type_suggests_closest():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Lgo
            message: hi
    """)
    assert any("unknown task type 'io.kestra.plugin.core.log.Lgo'; did you mean 'io.kestra.plugin.core.log.Log'?" in e for e in errs), errs


def test_duplicate_ids_anywhere_in_the_tree():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: log
            message: hi
          - id: p
            type: parallel
            tasks:
              - {id: a, type: log, message: again}
        errors:
          - {id: p, type: log, message: again}
    """)
    assert sum("duplicate task id" in e for e in errs) == 2, errs


def test_bad_duration_bad_cron_bad_retry_with_lines():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: sleep
            duration: 5 seconds
            retry:
              type: constant
              interval: PT1S
              maxAttempt: 0
        triggers:
          - id: s
            type: schedule
            cron: "61 * * * *"
            timezone: Mars/Olympus
    """)
    joined = "\n".join(errs)
    assert "tasks[0].duration" in joined and "ISO-8601" in joined and "(line 7)" in joined
    assert "tasks[0].retry.maxAttempt: must be >= 1" in joined and "(line 11)" in joined
    assert "triggers[0].cron" in joined and "(line 15)" in joined
    assert "triggers[0].timezone" in joined and "IANA" in joined


def test_expression_syntax_and_missing_output_reference():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: log
            message: "{{ inputs.x "
          - id: b
            type: log
            message: "{{ outputs.ghost.value }}"
    """)
    joined = "\n".join(errs)
    assert "tasks[0].message: expression does not parse" in joined
    assert "tasks[1].message: outputs.ghost refers to a task that does not exist" in joined


def test_dag_cycle_and_unknown_dependency():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: d
            type: dag
            tasks:
              - task: {id: a, type: log, message: a}
                dependsOn: [c]
              - task: {id: b, type: log, message: b}
                dependsOn: [a]
              - task: {id: c, type: log, message: c}
                dependsOn: [b, zz]
    """)
    joined = "\n".join(errs)
    assert "dependency cycle" in joined
    assert "'c' depends on 'zz'" in joined


def test_yaml_syntax_error_has_line():
    errs = errors_of("id: x\nnamespace: t\ntasks:\n  - id: a\n   type: log\n")
    assert errs and "line" in errs[0]


def test_input_rules_are_checked():
    errs = errors_of("""
        id: x
        namespace: t
        inputs:
          - {id: n, type: INT, min: 10, max: 1}
          - {id: s, type: SELECT}
        tasks:
          - {id: a, type: log, message: hi}
    """)
    joined = "\n".join(errs)
    assert "inputs[0]" in joined and "inputs[1]" in joined


def test_load_flow_raises_with_all_errors():
    with pytest.raises(FlowValidationError) as info:
        load_flow("id: x\nnamespace: t\ntasks: []\n")
    assert "tasks" in str(info.value)


def test_every_task_type_has_canonical_and_kestra_aliases():
    classes = registry.task_classes()
    for name in ("log", "return", "output_values", "fail", "sleep", "sequential", "parallel", "switch", "if", "for_each", "dag", "subflow", "working_directory", "pause"):
        cls = classes[name]
        assert any(a.startswith("io.kestra.plugin.") for a in cls.aliases), name
        assert any(a.startswith("io.kestra.core.") for a in cls.aliases), name
        assert cls.title and cls.icon and cls.summary and cls.group


def test_webhook_short_key_is_a_warning():
    report = validate_text(dedent("""
        id: x
        namespace: t
        tasks:
          - {id: a, type: log, message: hi}
        triggers:
          - {id: w, type: io.kestra.plugin.core.trigger.Webhook, key: short}
    """))
    assert not report.errors
    assert any("16 characters" in str(w) for w in report.warnings)


def test_docker_task_runner_rejected_clearly():
    errs = errors_of("""
        id: x
        namespace: t
        tasks:
          - id: a
            type: io.kestra.plugin.scripts.python.Script
            script: print(1)
            taskRunner:
              type: io.kestra.plugin.scripts.runner.docker.Docker
    """)
    assert any("asks for a Docker container" in e and "--run-docker-as-process" in e for e in errs), errs
