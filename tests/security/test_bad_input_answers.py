"""Bad input gets a clear answer, never a 500, a traceback or a hang (issue 19, item 5).

* FILE uploads whose name holds a backslash, a NUL or more than 255 bytes;
  a ``PT<400 digits>S`` duration on ``POST /api/v1/flows`` and
  ``/flows/validate``: 200/422 with the reason, never 500.
* The CLI says one sentence for non-UTF-8 and binary YAML and for the huge
  duration; ``lanner flow run /dev/zero --timeout 5`` ends at once; the
  server on a garbage ``lanner.db`` exits with one sentence.
* A cron that never fires gets a validation warning; YAML merge keys are
  refused with their line (Kestra's Jackson YAML does not merge them either).
* A client that sends its request headers slowly is cut off after the header
  deadline (raw socket), while other clients are served.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import time
from pathlib import Path
from textwrap import dedent
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from engine.model.validation import validate_text
from tests.security.conftest import HEADER_TIMEOUT, Server, free_port, json_body

HUGE = "PT" + "9" * 400 + "S"
YAML = {"Content-Type": "application/x-yaml"}


def _multipart_file(filename: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = b"lanner-bad-names-0b7e"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="f"; filename="' + filename + b'"\r\n'
            b"Content-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--" + boundary + b"--\r\n")
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()}


@pytest.mark.parametrize("filename, stored", [
    (b"a\\b.csv", "b.csv"),
    (b"C:\\Users\\ada\\report.csv", "report.csv"),
    ("d\u00e9j\u00e0-vu.csv".encode(), "d\u00e9j\u00e0-vu.csv"),
])
def test_an_upload_name_with_a_windows_path_keeps_only_the_file_name(server: Server, filename: bytes, stored: str):
    body, headers = _multipart_file(filename)
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/upload?wait=true", body=body, headers=headers)
    assert status == 200, raw[:300]
    summary = json_body(raw)
    assert summary["state"] == "SUCCESS", summary
    assert summary["inputs"]["f"].endswith("/inputs/f/" + quote(stored)), summary["inputs"]


@pytest.mark.parametrize("filename, words", [
    (b"a\x00b.csv", "NUL or control character"),
    (b"bad\x07bell.csv", "NUL or control character"),
    (b"n" * 300 + b".csv", "more than the 255"),
    ("\u00e9".encode() * 130, "more than the 255"),  # 130 characters, 260 bytes
])
def test_an_upload_name_the_file_system_cannot_take_is_refused_with_422(server: Server, filename: bytes, words: str):
    body, headers = _multipart_file(filename)
    status, _, raw = server.request("POST", "/api/v1/executions/sec.api/upload", body=body, headers=headers)
    assert status == 422, (filename[:20], status, raw[:300])
    answer = json_body(raw)
    assert words in answer["message"] and answer["errors"][0]["path"] == "inputs.f", answer


def _flow_with_timeout(timeout: str, flow_id: str = "huge") -> bytes:
    return dedent(f"""
        id: {flow_id}
        namespace: sec.bad
        tasks:
          - id: wait
            type: log
            message: hi
            timeout: {timeout}
    """).encode()


@pytest.mark.parametrize("duration", [HUGE, "P99999999999D", "PT1e400S"])
def test_a_huge_duration_is_a_validation_error_not_a_500(server: Server, duration: str):
    status, _, raw = server.request("POST", "/api/v1/flows", body=_flow_with_timeout(duration), headers=YAML)
    assert status == 422, (duration[:12], status, raw[:300])
    errors = json_body(raw)["errors"]
    assert errors[0]["path"] == "tasks[0].timeout" and errors[0]["line"] == 8, errors
    status, _, raw = server.request("POST", "/api/v1/flows/validate", body=_flow_with_timeout(duration), headers=YAML)
    assert status == 200, raw[:300]
    result = json_body(raw)[0]
    assert not result["valid"] and result["errors"][0]["path"] == "tasks[0].timeout", result


def test_the_longest_duration_still_validates():
    assert not validate_text(_flow_with_timeout("P999999999D")).errors


# --- the CLI ------------------------------------------------------------------------------------------------


def _one_sentence(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output and "Error:" not in output.split(":", 1)[0], output
    return lines[0]


@pytest.mark.parametrize("content, words", [
    (b"id: a\nnamespace: t\ntasks: [\xff\xfe]\n", "not UTF-8"),
    (bytes(range(256)) * 4, "not UTF-8"),
    (_flow_with_timeout(HUGE), "too long a duration"),
])
def test_the_cli_says_one_sentence_for_a_file_it_cannot_use(tmp_path: Path, lanner_home: Path, content: bytes, words: str):
    from engine.cli import app

    path = tmp_path / "flow.yaml"
    path.write_bytes(content)
    cli = CliRunner()
    validated = cli.invoke(app, ["flow", "validate", str(path)])
    assert validated.exit_code == 1 and words in _one_sentence(validated.output), validated.output
    ran = cli.invoke(app, ["flow", "run", str(path)])
    assert ran.exit_code == 2 and words in _one_sentence(ran.output), ran.output


def _limited_memory() -> None:
    """Run the child with 1.5 GB of address space, so a CLI that reads /dev/zero fails fast instead of swapping."""
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))


def test_running_dev_zero_stops_at_once(lanner_cmd: list[str], cli_env: dict[str, str]):
    start = time.monotonic()
    done = subprocess.run([*lanner_cmd, "flow", "run", "/dev/zero", "--timeout", "5"], env=cli_env, capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited_memory)
    took = time.monotonic() - start
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert "larger than the limit" in _one_sentence(done.stderr + done.stdout)
    assert took < 60, took  # the CLI's own start-up included; the read itself is instant


def test_the_server_on_a_garbage_database_exits_with_one_sentence(tmp_path: Path, lanner_cmd: list[str], cli_env: dict[str, str]):
    home = tmp_path / "garbage-home"
    home.mkdir()
    (home / "lanner.db").write_bytes(b"this is not SQLite at all " * 4000)
    done = subprocess.run([*lanner_cmd, "server", "local", "--home", str(home), "--port", str(free_port()), "--no-ui",
                           "--no-watch", "--flows", str(tmp_path)], env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    sentence = _one_sentence(done.stderr + done.stdout)
    assert "cannot open the database" in sentence and "lanner.db" in sentence and "LANNER_HOME" in sentence, sentence


# --- validation: crons that never fire, merge keys ----------------------------------------------------------------


@pytest.mark.parametrize("cron, never", [
    ("0 0 30 2 *", True), ("0 0 31 4,6,9,11 *", True), ("0 0 0 30 2 *", True),
    ("0 0 29 2 *", False), ("0 0 30 2 1", False), ("0 0 31 * *", False), ("@daily", False),
])
def test_a_cron_that_never_fires_gets_a_warning(cron: str, never: bool):
    report = validate_text(dedent(f"""
        id: cron
        namespace: sec.bad
        tasks:
          - id: a
            type: log
            message: hi
        triggers:
          - id: every
            type: schedule
            cron: "{cron}"
    """))
    assert not report.errors, report.errors
    warnings = [w for w in report.warnings if "never fires" in w.message]
    assert bool(warnings) is never, (cron, report.warnings)
    if never:
        assert warnings[0].path == "triggers[0].cron" and warnings[0].line == 11


def test_the_validate_route_lists_the_never_firing_cron(server: Server):
    flow = b"id: c\nnamespace: sec.bad\ntasks:\n  - id: a\n    type: log\n    message: hi\ntriggers:\n  - id: s\n    type: schedule\n    cron: 0 0 30 2 *\n"
    status, _, raw = server.request("POST", "/api/v1/flows/validate", body=flow, headers=YAML)
    assert status == 200, raw[:300]
    result = json_body(raw)[0]
    assert result["valid"] and any("never fires" in w["message"] for w in result["warnings"]), result


MERGE = dedent("""
    id: merge
    namespace: sec.bad
    defaults: &defaults
      type: log
      message: hi
    tasks:
      - <<: *defaults
        id: a
""")


def test_yaml_merge_keys_are_refused_with_their_line(server: Server):
    report = validate_text(MERGE)
    assert len(report.errors) == 1, report.errors
    error = report.errors[0]
    assert "merge keys" in error.message and error.line == 8, error
    status, _, raw = server.request("POST", "/api/v1/flows", body=MERGE.encode(), headers=YAML)
    assert status == 422 and "merge keys" in json_body(raw)["message"], raw[:300]
    # A quoted "<<" is an ordinary key: an unknown property like any other.
    quoted = validate_text(MERGE.replace("- <<: *defaults", '- "<<": x\n    type: log\n    message: hi'))
    assert any("unknown property '<<'" in e.message for e in quoted.errors), quoted.errors


# --- slow headers -----------------------------------------------------------------------------------------------


def _closed_after(sock: socket.socket, drip: bytes, limit: float) -> float | None:
    """Send ``drip`` a byte every 0.25 s; the time at which the server closed the connection, or None."""
    start = time.monotonic()
    sock.settimeout(0.25)
    i = 0
    while time.monotonic() - start < limit:
        try:
            if i < len(drip):
                sock.sendall(drip[i : i + 1])
                i += 1
            if sock.recv(1024) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return time.monotonic() - start
    return None


def test_a_client_sending_its_headers_slowly_is_cut_off(server: Server):
    drip = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    with socket.create_connection((server.host, server.port)) as slow, socket.create_connection((server.host, server.port)) as idle:
        took = _closed_after(slow, drip, HEADER_TIMEOUT + 10)
        # While it dripped, others were served.
        assert server.request("GET", "/health", auth=False, timeout=10)[0] == 200
        assert took is not None, "the server kept a slow-headers client for 10 s past the deadline"
        assert HEADER_TIMEOUT - 0.5 <= took <= HEADER_TIMEOUT + 3, took
        # A connection that sends nothing at all is closed too.
        idle_took = _closed_after(idle, b"", HEADER_TIMEOUT + 10)
        assert idle_took is not None and idle_took <= HEADER_TIMEOUT + 3, idle_took
    # A kept-alive connection gets the deadline again for its next request's headers.
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = conn.recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        again = _closed_after(conn, drip, HEADER_TIMEOUT + 10)
        assert again is not None and again <= HEADER_TIMEOUT + 3, again
