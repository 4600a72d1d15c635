"""The extension in a real kernel, driven as JupyterLab drives it (execute requests carrying a cellId)."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

FLOW = "id: tiny\nnamespace: demo.kernel\ntasks:\n  - {id: a, type: log, message: hi}\n  - {id: b, type: log, message: ho}\n"


@pytest.fixture
def kernel(tmp_path: Path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_NOTEBOOK")}
    env["LANNER_HOME"] = str(tmp_path / ".lanner")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code: str, cell_id: str | None = None, timeout: float = 60) -> list[dict]:
    """Run ``code`` as a notebook cell does; return the iopub messages it caused."""
    msg = kc.session.msg("execute_request", content={
        "code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
        "stop_on_error": True}, metadata={"cellId": cell_id} if cell_id else {})
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        seen.append(m)
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"):
            return seen
    raise AssertionError(f"cell did not finish: {[m['msg_type'] for m in seen]}")


def flow_widgets_opened(messages: list[dict]) -> list[str]:
    return [m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_open"
            and m["content"]["data"].get("state", {}).get("_anywidget_id") == "builder.jupyter.widget.FlowWidget"]


def test_rerunning_a_cell_closes_the_widget_it_showed_before(kernel, tmp_path):
    (tmp_path / "tiny.yaml").write_text(FLOW)
    execute(kernel, "%load_ext builder.jupyter", "setup")
    first = flow_widgets_opened(execute(kernel, "%flow show tiny.yaml", "cell-1"))
    other = flow_widgets_opened(execute(kernel, "%flow show tiny.yaml", "cell-2"))
    again = execute(kernel, "%flow show tiny.yaml", "cell-1")
    assert len(first) == 1 and len(other) == 1 and len(flow_widgets_opened(again)) == 1
    closed = {m["content"]["comm_id"] for m in again if m["msg_type"] == "comm_close"}
    assert first[0] in closed  # the orphan is gone from the kernel and the page's widget manager
    assert other[0] not in closed  # another cell's widget stays
