"""Secret values never reach the store: not in logs, outputs or messages, in any usual form.

A script prints the secret verbatim, base64-encoded, inside an indented JSON
dump, split over two prints, wrapped over several lines with textwrap, and as
base64 wrapped at 76 columns (``base64.encodebytes``); it also returns it as
outputs. Afterwards the SQLite files themselves are searched for the secret
and its base64 form, and every stored log line for a fragment of 8 or more
characters of either.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from engine.runtime.local import LocalRunner
from engine.runtime.secrets import MASK, SecretStore

SECRET = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0-ZZqLkWpR7vN3xJ5mH8cT2yG6bD4sF1aE"
QUOTED = 'pa"ss\\word-0123456789'  # JSON escapes it: the escaped form must be masked too

SCRIPT_FLOW = dedent("""
    id: leak
    namespace: sec.secrets
    tasks:
      - id: leak
        type: python
        warningOnStdErr: false
        env:
          TOKEN: "{{ secret('TOKEN') }}"
          QUOTED: "{{ secret('QUOTED') }}"
        script: |
          import base64, json, os, sys, textwrap
          s = os.environ["TOKEN"]
          q = os.environ["QUOTED"]
          b = base64.b64encode(s.encode()).decode()
          print("verbatim:", s)
          print("base64:", b)
          print(json.dumps({"token": s, "b64": b, "quoted": q}, indent=2))
          print(json.dumps({"quoted": q}))
          print("Authorization: Bearer " + s[:30])
          print(s[30:] + " <- the rest")
          print(textwrap.fill(s, 20))
          print(textwrap.fill("prefix text " + s + " suffix", 24))
          print(base64.encodebytes(s.encode()).decode())
          print(textwrap.fill(b, 30))
          print("stderr:", s, file=sys.stderr)
          print(json.dumps({"outputs": {"plain": s, "b64": b, "bearer": "Bearer " + s,
                                       "nested": {"list": [s, q]}}}).join(["::", "::"]))
      - id: after
        type: log
        message: "value {{ outputs.leak.vars.plain }} / {{ secret('TOKEN') }}"
      - id: boom
        type: fail
        message: "failed with {{ secret('TOKEN') }}"
""")


def _fragments(value: str, size: int = 8) -> set[str]:
    return {value[i : i + size] for i in range(len(value) - size + 1)}


@pytest.fixture
def secret_runner(lanner_home: Path):
    environ = {
        "SECRET_TOKEN": base64.b64encode(SECRET.encode()).decode(),
        "SECRET_QUOTED": base64.b64encode(QUOTED.encode()).decode(),
    }
    r = LocalRunner(lanner_home, workers=2, secrets=SecretStore(environ=environ))
    yield r
    r.close()


def _database_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("lanner.db*")))


def test_a_script_cannot_leak_a_secret_into_logs_or_outputs(secret_runner: LocalRunner, lanner_home: Path):
    summary = secret_runner.run(SCRIPT_FLOW, timeout=60)
    by_id = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    assert by_id["leak"]["state"] == "SUCCESS", by_id["leak"]
    assert by_id["boom"]["state"] == "FAILED"
    logs = secret_runner.logs(summary["id"])
    messages = [row["message"] for row in logs]
    # The script did print every form (masked), so the test looks at real lines.
    assert any(m.startswith("verbatim: ") and MASK in m for m in messages)
    assert any(m.startswith("base64: ") and MASK in m for m in messages)
    assert sum(1 for m in messages if MASK in m) >= 10

    b64 = base64.b64encode(SECRET.encode()).decode()
    escaped = json.dumps(QUOTED)[1:-1]
    forbidden = _fragments(SECRET) | _fragments(b64) | {QUOTED, escaped}
    for m in messages:
        leaked = sorted(f for f in forbidden if f in m)
        assert not leaked, (m, leaked[:3])

    outputs = by_id["leak"]["outputs"]["vars"]
    assert outputs == {"plain": MASK, "b64": MASK, "bearer": f"Bearer {MASK}", "nested": {"list": [MASK, MASK]}}
    assert f"value {MASK} / {MASK}" in messages

    secret_runner.close()
    stored = _database_bytes(lanner_home)
    for form in (SECRET, b64, b64.rstrip("="), QUOTED, escaped):
        assert form.encode() not in stored, f"{form[:12]}... is in the database"
    # The JSON encoding of the store would escape the quoted secret once more.
    assert json.dumps(QUOTED)[1:-1].replace("\\", "\\\\").encode() not in stored


def test_the_stored_log_rows_read_back_from_sqlite_are_masked(secret_runner: LocalRunner, lanner_home: Path):
    summary = secret_runner.run(SCRIPT_FLOW, timeout=60)
    secret_runner.close()
    with sqlite3.connect(lanner_home / "lanner.db") as db:
        rows = [r[0] for r in db.execute("SELECT message FROM logs WHERE execution_id = ?", (summary["id"],))]
        runs = [r for r in db.execute("SELECT attempts, outputs FROM task_runs WHERE execution_id = ?", (summary["id"],))]
    assert len(rows) > 10
    text = "\n".join(rows) + json.dumps(runs)
    assert SECRET not in text and SECRET[:8] not in text.replace(MASK, "")


def test_the_masker_on_its_own():
    store = SecretStore(environ={"SECRET_T": base64.b64encode(SECRET.encode()).decode()})
    assert store.mask(f"x {SECRET} y") == f"x {MASK} y"
    assert SECRET not in store.mask(base64.b64encode(SECRET.encode()).decode())
    # A line holding only a piece of a secret: the head, the middle or the tail.
    for line in (SECRET[:20], SECRET[20:40], "  " + SECRET[40:], f"key = {SECRET[:25]}", f"{SECRET[-12:]}, more"):
        masked = store.mask(line)
        assert not (_fragments(SECRET) & _fragments(masked)), (line, masked)
    # Ordinary text is left alone, also when it shares a few characters with the secret.
    assert store.mask("tok-9f8 is not a secret") == "tok-9f8 is not a secret"
    assert store.mask("hello world") == "hello world"


def test_secret_input_values_are_masked_while_their_execution_runs():
    store = SecretStore(environ={"SECRET_T": base64.b64encode(SECRET.encode()).decode()})
    store.remember_inputs("ex1", ["input-pass-1", "no"])  # under 3 characters: never masked in text
    store.remember_inputs("ex2", ["input-pass-2"])
    assert store.mask("input-pass-1 input-pass-2 no") == f"{MASK} {MASK} no"
    assert store.mask_data({"a": "input-pass-1", "b": SECRET}, keep=["input-pass-1"]) == {"a": "input-pass-1", "b": MASK}
    store.forget_inputs("ex1")  # ended: its values no longer grow the list every line is masked with
    assert store.mask("input-pass-1 input-pass-2") == f"input-pass-1 {MASK}"
    assert SECRET in store.values() and "input-pass-1" not in store.values()


def test_masking_data_masks_every_form(monkeypatch: Any):
    store = SecretStore(environ={"SECRET_T": base64.b64encode(SECRET.encode()).decode()})
    data = {"a": [SECRET, {"b": base64.b64encode(SECRET.encode()).decode()}], "n": 1}
    assert store.mask_data(data) == {"a": [MASK, {"b": MASK}], "n": 1}
