"""The `lanner` command as users run it: real subprocesses on a temp LANNER_HOME."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from textwrap import dedent


def lanner(cmd, env, *args, timeout=120):
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_seed_flow_runs_and_logs_python_ok(lanner_cmd, cli_env, repo_root):
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(repo_root / "flows" / "hello_world.yaml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "python script OK from lanner" in res.stdout
    assert "Hello, world!" in res.stdout
    assert "SUCCESS" in res.stdout


def test_json_summary_on_stdout_logs_on_stderr(lanner_cmd, cli_env, repo_root):
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(repo_root / "flows" / "hello_world.yaml"), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert set(summary) >= {"id", "namespace", "flowId", "flowRevision", "state", "inputs", "outputs", "labels", "startDate", "endDate", "taskRuns"}
    assert summary["state"] == "SUCCESS" and summary["flowId"] == "hello-world"
    python = next(tr for tr in summary["taskRuns"] if tr["taskId"] == "python")
    assert python["outputs"]["vars"] == {"argc": 2}
    assert python["outputs"]["exitCode"] == 0
    assert set(python) >= {"id", "taskId", "parentTaskRunId", "value", "state", "attempts", "outputs", "startDate", "endDate"}
    assert "python script OK" in res.stderr


def test_failed_flow_exits_1(lanner_cmd, cli_env, tmp_path):
    f = tmp_path / "fail.yaml"
    f.write_text("id: f\nnamespace: t\ntasks:\n  - {id: x, type: fail, message: nope}\n")
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f))
    assert res.returncode == 1
    assert "FAILED" in res.stdout and "nope" in res.stdout


def test_bad_inputs_exit_2_naming_the_input_and_create_nothing(lanner_cmd, cli_env, tmp_path, lanner_home):
    f = tmp_path / "inputs.yaml"
    f.write_text(dedent("""
        id: typed
        namespace: t
        inputs:
          - {id: age, type: INT, min: 0}
          - {id: name, type: STRING}
        tasks:
          - {id: x, type: log, message: "{{ inputs.name }}"}
    """))
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f), "--input", "age=-3", "--input", "name=bob")
    assert res.returncode == 2
    assert "age" in res.stderr
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f), "--input", "age=3")
    assert res.returncode == 2
    assert "name" in res.stderr
    db = sqlite3.connect(lanner_home / "lanner.db")
    assert db.execute("select count(*) from executions").fetchone()[0] == 0


def test_invalid_flow_exits_2_with_line_numbers(lanner_cmd, cli_env, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("id: bad\nnamespace: t\ntasks:\n  - id: x\n    type: lgo\n    message: hi\n")
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f))
    assert res.returncode == 2
    assert "tasks[0].type" in res.stderr and "line 5" in res.stderr and "log" in res.stderr
    assert "Traceback" not in res.stderr


def test_validate_reports_every_error_and_exit_codes(lanner_cmd, cli_env, tmp_path, repo_root):
    bad = tmp_path / "bad.yaml"
    bad.write_text(dedent("""\
        id: bad
        namespace: t
        tasks:
          - id: a
            type: log
            message: "{{ outputs.nope.value }}"
          - id: a
            type: log
            message: hi
            timeout: soon
          - id: b
            type: python
            script: print(1)
            retry:
              type: constant
              interval: PT1S
              maxAttempt: 0
        triggers:
          - id: t
            type: schedule
            cron: "not a cron"
    """))
    res = lanner(lanner_cmd, cli_env, "flow", "validate", str(bad), str(repo_root / "flows" / "hello_world.yaml"))
    assert res.returncode == 1
    out = res.stdout
    assert "outputs.nope" in out and "line 6" in out
    assert "duplicate task id 'a'" in out and "line 7" in out
    assert "tasks[1].timeout" in out and "line 10" in out
    assert "tasks[2].retry.maxAttempt: must be >= 1" in out and "line 17" in out
    assert "triggers[0].cron" in out and "line 21" in out
    assert "hello_world.yaml: valid" in out
    ok = lanner(lanner_cmd, cli_env, "flow", "validate", str(repo_root / "flows" / "hello_world.yaml"))
    assert ok.returncode == 0


def test_schema_lists_task_types(lanner_cmd, cli_env):
    res = lanner(lanner_cmd, cli_env, "flow", "schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    text = json.dumps(schema)
    for name in ("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.scripts.Python", "for_each", "maxAttempts"):
        assert name in text


def test_sigkill_mid_flow_leaves_a_readable_store(lanner_cmd, cli_env, tmp_path, lanner_home):
    f = tmp_path / "slow.yaml"
    f.write_text(dedent("""
        id: slow
        namespace: t
        tasks:
          - {id: first, type: log, message: started}
          - {id: wait, type: shell, commands: ["sleep 20"]}
          - {id: last, type: log, message: never}
    """))
    proc = subprocess.Popen([*lanner_cmd, "flow", "run", str(f)], env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    db_path = Path(lanner_home) / "lanner.db"
    while time.monotonic() < deadline:
        if db_path.exists():
            try:
                rows = sqlite3.connect(db_path).execute("select state from task_runs where task_id='wait'").fetchall()
            except sqlite3.OperationalError:
                rows = []
            if rows and rows[0][0] == "RUNNING":
                break
        time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("the flow never reached the sleep task")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # The store is intact and the next run works.
    ok = tmp_path / "ok.yaml"
    ok.write_text("id: ok\nnamespace: t\ntasks:\n  - {id: x, type: log, message: fine}\n")
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(ok), "--json")
    assert res.returncode == 0, res.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    states = dict(db.execute("select flow_id, state from executions where flow_id in ('ok')").fetchall())
    assert states == {"ok": "SUCCESS"}


def test_live_view_names_loop_values_and_ends_children_before_parents(lanner_cmd, cli_env, tmp_path):
    f = tmp_path / "loop.yaml"
    f.write_text(dedent("""
        id: loop
        namespace: t
        tasks:
          - id: each
            type: for_each
            values: [alpha, beta]
            tasks:
              - {id: w, type: log, message: "working on {{ taskrun.value }}"}
              - {id: nap, type: sleep, duration: PT0.3S}
          - {id: after, type: log, message: done}
    """))
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f))
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout.splitlines()
    assert any(line.endswith("INFO  w[alpha]: working on alpha") for line in out), out
    assert any(line.endswith("INFO  w[beta]: working on beta") for line in out), out
    position = {line: i for i, line in enumerate(out)}
    assert position["✔ nap[beta] SUCCESS"] < position["✔ each SUCCESS"] < position["✔ after SUCCESS"], out
    assert position["▶ each RUNNING"] < min(i for i, line in enumerate(out) if "working on alpha" in line)


DOCKER_FLOW = """
id: docker_hello
namespace: t
tasks:
  - id: hello
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      image: python:3.12-slim
      pullPolicy: ALWAYS
    script: print("hello from", "a process")
"""


def test_docker_runner_is_refused_by_default_and_runs_as_a_process_with_the_setting(lanner_cmd, cli_env, tmp_path):
    f = tmp_path / "docker.yaml"
    f.write_text(DOCKER_FLOW)
    env = {k: v for k, v in cli_env.items() if k != "LANNER_RUN_DOCKER_AS_PROCESS"}
    res = lanner(lanner_cmd, env, "flow", "run", str(f))
    assert res.returncode == 2 and "hello from" not in res.stdout
    assert "tasks[0].taskRunner" in res.stderr and "--run-docker-as-process" in res.stderr and "Traceback" not in res.stderr
    res = lanner(lanner_cmd, env, "flow", "run", str(f), "--run-docker-as-process")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "hello from a process" in res.stdout
    assert "the Docker runner is not used and the image python:3.12-slim is ignored" in res.stdout
    res = lanner(lanner_cmd, {**env, "LANNER_RUN_DOCKER_AS_PROCESS": "1"}, "flow", "validate", str(f))
    assert res.returncode == 0, res.stdout + res.stderr


def test_deprecated_spellings_run_with_a_warning_naming_the_current_one(lanner_cmd, cli_env, tmp_path):
    f = tmp_path / "old.yaml"
    f.write_text("id: old\nnamespace: t\ntasks:\n  - {id: x, type: io.kestra.core.tasks.log.Log, message: still runs}\n"
                 "taskDefaults:\n  - {type: io.kestra.plugin.core.log.Log, values: {level: WARN}}\n")
    res = lanner(lanner_cmd, cli_env, "flow", "run", str(f))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "still runs" in res.stdout
    warning = [line for line in (res.stdout + res.stderr).splitlines() if "warning:" in line]
    assert warning and "taskDefaults" in warning[0] and "pluginDefaults" in warning[0], res.stdout + res.stderr
