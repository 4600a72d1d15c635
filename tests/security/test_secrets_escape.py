"""Secrets that used to escape masking (issue 19, item 4).

* A ForEach over ``secret('X')``: the raw secret is nowhere, not in
  ``lanner flow run --json``, the live view, SQLite (``task_runs.value`` and
  the loop's bookkeeping), nor the outputs.
* Every encoding the expression filters offer (upper/lower/title/capitalize,
  reverse, base64, URL, HTML, JSON...), and hex, is masked in logs, outputs,
  flow outputs, error messages and the stored database; the expected spellings
  are computed here with the standard library, not with Lanner's code.
* A notebook that is given a secret as a parameter and prints it: the stored
  ``.ipynb`` and HTML report hold neither the secret nor its HTML-escaped form.
* Namespace-scoped secrets: a flow of ``team.a`` cannot read ``team.b``'s
  (neither by name nor with ``namespace=``), reads its own and its parents',
  and the scoped variables are not in a task's environment.
"""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from pathlib import Path
from textwrap import dedent
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from typer.testing import CliRunner

from engine.runtime.local import LocalRunner
from engine.runtime.secrets import MASK, SecretStore

SECRET = "Lp9-qZr7<Tk&'x\"Wm4-VhN2sG8"  # HTML and JSON both escape some of its characters
LOOP_SECRET = "loop-secret-Qx83Kd72Mz"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _spellings(value: str) -> dict[str, str]:
    """Every spelling a flow can make with the engine's filters, computed independently."""
    return {
        "verbatim": value, "upper": value.upper(), "lower": value.lower(), "title": value.title(),
        "capitalize": value[0].upper() + value[1:], "reversed": value[::-1], "base64": _b64(value),
        "url": urllib.parse.quote_plus(value), "url%20": urllib.parse.quote(value, safe=""),
        "html": html.escape(value), "json": json.dumps(value)[1:-1], "hex": value.encode().hex(),
        "hex-upper": value.encode().hex().upper(),
    }


def _leaks(text: str, value: str) -> list[str]:
    return [name for name, form in _spellings(value).items() if form in text]


def _strings(data: Any) -> str:
    """Every string inside ``data`` (keys too), one per line: leaks are looked for in the values, not in a JSON dump."""
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        return "\n".join(_strings(k) + "\n" + _strings(v) for k, v in data.items())
    if isinstance(data, list):
        return "\n".join(_strings(v) for v in data)
    return str(data)


def _database_text(home: Path) -> str:
    return b"".join(p.read_bytes() for p in sorted(home.glob("lanner.db*"))).decode("utf-8", "replace")


# --- ForEach over a secret -------------------------------------------------------------------------------

LOOP_FLOW = dedent("""
    id: loop
    namespace: sec.escape
    tasks:
      - id: each
        type: io.kestra.plugin.core.flow.ForEach
        values: ["{{ secret('LOOP') }}", "plain"]
        tasks:
          - id: inner
            type: return
            format: "{{ taskrun.value }}"
""")


def test_a_loop_over_a_secret_shows_and_stores_it_nowhere(lanner_home: Path, tmp_path: Path):
    flow = tmp_path / "loop.yaml"
    flow.write_text(LOOP_FLOW)
    env = {"LANNER_HOME": str(lanner_home), "SECRET_LOOP": _b64(LOOP_SECRET)}
    from engine.cli import app

    cli = CliRunner()
    as_json = cli.invoke(app, ["flow", "run", str(flow), "--json"], env=env)
    live = cli.invoke(app, ["flow", "run", str(flow)], env=env)
    for result in (as_json, live):
        assert result.exit_code == 0, result.output
        assert not _leaks(result.output, LOOP_SECRET), result.output
    summary = json.loads(as_json.stdout)
    assert not _leaks(_strings(summary), LOOP_SECRET)
    values = sorted(tr["value"] for tr in summary["taskRuns"] if tr["taskId"] == "inner")
    assert values == [MASK, "plain"], values
    assert f"inner[{MASK}]" in live.output and "inner[plain]" in live.output
    inner = [tr["outputs"] for tr in summary["taskRuns"] if tr["taskId"] == "inner"]
    assert {"value": MASK} in inner and {"value": "plain"} in inner
    assert "loop over secret names" in live.output  # the flow author is told why
    assert not _leaks(_database_text(lanner_home), LOOP_SECRET)


# --- every encoding the filters offer ----------------------------------------------------------------------

FILTERS = ["upper", "lower", "title", "capitalize", "reverse", "base64encode", "urlencode", "escape", "toJson"]

ENCODINGS_FLOW = dedent("""
    id: encodings
    namespace: sec.escape
    tasks:
      - id: say
        type: log
        message: |
    {messages}
      - id: keep
        type: output_values
        values:
    {values}
      - id: script
        type: python
        env:
          S: "{{{{ secret('TOKEN') }}}}"
        script: |
          import os
          s = os.environ["S"]
          print("hex", s.encode().hex(), s.encode().hex().upper())
          print("reversed", s[::-1], "swapped", s.swapcase())
      - id: boom
        type: fail
        allowFailure: true
        message: "failed with {{{{ secret('TOKEN') | urlencode }}}} and {{{{ secret('TOKEN') | escape }}}}"
    outputs:
      - id: upper
        type: STRING
        value: "{{{{ secret('TOKEN') | upper }}}}"
""")


def _encodings_flow() -> str:
    messages = "\n".join(f"          {f}: {{{{ secret('TOKEN') | {f} }}}}" for f in FILTERS)
    values = "\n".join(f"          {f}: \"{{{{ secret('TOKEN') | {f} }}}}\"" for f in FILTERS)
    return ENCODINGS_FLOW.format(messages=messages, values=values)


@pytest.fixture
def secret_runner(lanner_home: Path):
    store = SecretStore(environ={"SECRET_TOKEN": _b64(SECRET)})
    r = LocalRunner(lanner_home, workers=2, secrets=store)
    yield r
    r.close()


def test_every_encoding_the_filters_offer_is_masked_everywhere(secret_runner: LocalRunner, lanner_home: Path):
    summary = secret_runner.run(_encodings_flow(), timeout=60)
    by_id = {tr["taskId"]: tr for tr in summary["taskRuns"]}
    assert by_id["say"]["state"] == "SUCCESS", by_id["say"]
    assert by_id["script"]["state"] == "SUCCESS", by_id["script"]
    assert by_id["boom"]["state"] == "WARNING"
    messages = "\n".join(row["message"] for row in secret_runner.logs(summary["id"]))
    for f in FILTERS:  # every filter did render (masked), so the check below looks at real text
        assert f"{f}: {MASK}" in messages or f'{f}: "{MASK}"' in messages, (f, messages)
    kept = by_id["keep"]["outputs"]["values"]
    assert set(kept) == set(FILTERS) and all(MASK in v for v in kept.values()), kept
    assert summary["outputs"] == {"upper": MASK}
    assert MASK in by_id["boom"]["attempts"][-1].get("message", "") or "failed with " + MASK in messages
    seen = {"logs": messages, "summary": _strings(summary)}
    secret_runner.close()
    seen["database"] = _database_text(lanner_home)
    for where, text in seen.items():
        assert not _leaks(text, SECRET), (where, _leaks(text, SECRET))
    assert "swapped " + MASK in messages and "hex " + MASK + " " + MASK in messages


# --- a notebook printing a secret -----------------------------------------------------------------------

NOTEBOOK_FLOW = dedent("""
    id: nb
    namespace: sec.escape
    tasks:
      - id: nb
        type: notebook
        notebook: leak.ipynb
        parameters:
          token: "{{ secret('TOKEN') }}"
""")


def test_a_notebook_printing_a_secret_leaves_it_in_no_stored_file(secret_runner: LocalRunner, tmp_path: Path):
    nb = new_notebook(cells=[
        new_code_cell("token = ''", metadata={"tags": ["parameters"]}),
        new_code_cell("print('the token is', token)\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>' + token + '</b>'))"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(tmp_path / "leak.ipynb"))
    (tmp_path / "nb.yaml").write_text(NOTEBOOK_FLOW)
    flow = secret_runner.deploy(NOTEBOOK_FLOW, path=tmp_path / "nb.yaml")
    summary = secret_runner.wait(secret_runner.start_execution(flow.namespace, flow.id, {}), timeout=120)
    assert summary["state"] == "SUCCESS", summary
    outputs = summary["taskRuns"][0]["outputs"]
    executed = secret_runner.storage.read_bytes(outputs["notebook"], namespace=flow.namespace).decode()
    report = secret_runner.storage.read_bytes(outputs["report"], namespace=flow.namespace).decode()
    assert "the token is" in executed and "the token is" in report  # the output is there, masked
    nbformat.reads(executed, as_version=4)  # still a valid notebook
    for name, text in (("notebook", executed), ("report", report)):
        leaked = _leaks(text, SECRET) + [f for f in (html.escape(SECRET, quote=False), SECRET.replace("&", "&amp;")) if f in text]
        assert not leaked, (name, leaked)
        assert MASK in text, name


# --- namespace-scoped secrets ------------------------------------------------------------------------------

SCOPED_FLOW = """
id: read-{name}
namespace: {namespace}
tasks:
  - id: read
    type: return
    format: "{{{{ secret('{secret}'{extra}) | length }}}}"
"""


def _read(runner: LocalRunner, namespace: str, secret: str, extra: str = "") -> dict[str, Any]:
    name = namespace.replace(".", "-") + "-" + secret.lower() + ("-x" if extra else "")
    return runner.run(SCOPED_FLOW.format(name=name, namespace=namespace, secret=secret, extra=extra), timeout=60)


def _value(summary: dict[str, Any]) -> int:
    assert summary["state"] == "SUCCESS", summary
    return int((summary["taskRuns"][0]["outputs"] or {}).get("value"))


def test_a_flow_reads_its_namespaces_secrets_and_never_a_siblings(lanner_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    secrets_file = tmp_path / "secrets.yaml"
    secrets_file.write_text("SHARED: global-value-1\nteam.a:\n  FILEKEY: team-a-file-value\n")
    environ = {
        "LANNER_SECRET_TEAM_B__TOKEN": _b64("team-b-only-token-0042"),
        "LANNER_SECRET_TEAM__TOKEN": _b64("parent-team-token"),
        "LANNER_SECRETS_FILE": str(secrets_file),
    }
    for key, value in environ.items():  # the server's environment: scripts must not find the scoped ones in theirs
        monkeypatch.setenv(key, value)
    with LocalRunner(lanner_home, workers=2, secrets=SecretStore(environ=environ)) as runner:
        assert _value(_read(runner, "team.b", "TOKEN")) == len("team-b-only-token-0042")
        assert _value(_read(runner, "team.b.etl", "TOKEN")) == len("team-b-only-token-0042")  # a child namespace
        assert _value(_read(runner, "team.a", "TOKEN")) == len("parent-team-token")  # the parent's, not the sibling's
        assert _value(_read(runner, "team.a", "FILEKEY")) == len("team-a-file-value")
        assert _value(_read(runner, "team.a", "SHARED")) == len("global-value-1")  # unscoped stays global
        for namespace, secret, extra in (("team.c", "FILEKEY", ""), ("other", "TOKEN", ""),
                                         ("team.a", "TOKEN", ", namespace='team.b'")):
            summary = _read(runner, namespace, secret, extra)
            assert summary["state"] == "FAILED", (namespace, secret, summary)
            errors = " ".join(r["message"] for r in runner.logs(summary["id"]))
            assert "team-b-only" not in errors and "team-a-file" not in errors
            assert ("not defined for namespace" in errors) or ("cannot read the secrets of namespace team.b" in errors), errors
        shell = runner.run(dedent("""
            id: env
            namespace: team.a
            tasks:
              - id: env
                type: python
                script: |
                  import os
                  print("scoped:", sorted(k for k in os.environ if k.startswith("LANNER_SECRET_")))
        """), timeout=60)
        lines = [r["message"] for r in runner.logs(shell["id"]) if r["message"].startswith("scoped:")]
        assert lines == ["scoped: []"], lines
        # Every scope's values are masked, whoever reads them.
        assert runner.secrets.mask("x team-b-only-token-0042 y") == f"x {MASK} y"
