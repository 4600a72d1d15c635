"""B7: how fast the builder's execution page opens on an execution of 1,000 task runs.

Starts the real ``lanner server local`` (UI included) on a free 127.0.0.1 port
with a temporary home, deploys a flow whose ForEach runs one Log task per value
(1,000 values: 1,001 task runs and 1,000 log lines), runs it to the end through
the REST API, then opens ``/ui/execution?id=..`` in headless Debian chromium
and times until the page shows the final state, the topology node coloured by
state and the last log line. Prints one JSON line, then a readable line.

    .venv/bin/python bench/b7_execution_page.py [--runs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flow(n: int) -> str:
    values = json.dumps(list(range(n)))
    return (f"id: wide\nnamespace: bench\ntasks:\n  - id: each\n    type: for_each\n    concurrencyLimit: 0\n"
            f"    values: {values}\n    tasks:\n      - id: say\n        type: log\n"
            f"        message: \"value {{{{ taskrun.value }}}}\"\n")


def _lanner() -> list[str]:
    exe = Path(sys.executable).parent / "lanner"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "engine.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="ForEach values (task runs = runs + 1)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium is not installed", file=sys.stderr)
        return 2

    import httpx
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="lanner-b7-"))
    (root / "flows").mkdir()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_")}
    log = (root / "server.log").open("ab")
    proc = subprocess.Popen([*_lanner(), "server", "local", "--host", "127.0.0.1", "--port", str(port),
                             "--home", str(root / "home"), "--flows", str(root / "flows"), "--grace", "2", "--ui"],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    loads: list[float] = []
    try:
        client = httpx.Client(base_url=base, timeout=300)
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if client.get("/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start")
            time.sleep(0.1)
        r = client.post("/api/v1/flows", content=_flow(args.runs), headers={"Content-Type": "application/x-yaml"})
        r.raise_for_status()
        start = time.perf_counter()
        r = client.post("/api/v1/executions/bench/wide", params={"wait": "true"}, json={})
        r.raise_for_status()
        run_s = time.perf_counter() - start
        summary = client.get(f"/api/v1/executions/{r.json()['id']}").json()
        if summary["state"] != "SUCCESS":
            raise RuntimeError(f"the execution ended {summary['state']}")
        task_runs = len(summary["taskRuns"])
        url = f"{base}/ui/execution?id={summary['id']}"
        last_line = f"value {args.runs - 1}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                page.goto(url)
                page.locator('.ln-exec-state[data-state="SUCCESS"]').wait_for(timeout=120_000)
                page.locator('.lanner-node[data-node-id="each"][data-state="SUCCESS"]').wait_for(timeout=120_000)
                page.locator(".ln-log-line", has_text=last_line).first.wait_for(timeout=120_000)
                loads.append((time.perf_counter() - t0) * 1000)
                lines = page.locator(".ln-log-line").count()
                page.close()
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
    result = {"bench": "b7_execution_page", "task_runs": task_runs, "log_lines_shown": lines,
              "repeat": args.repeat, "page_ready_ms": round(statistics.median(loads), 1),
              "page_ready_max_ms": round(max(loads), 1), "execution_s": round(run_s, 2)}
    print(json.dumps(result))
    print(f"B7 execution page: {task_runs} task runs and {lines} log lines shown {result['page_ready_ms']} ms "
          f"after opening the page (median of {args.repeat}, max {result['page_ready_max_ms']} ms); "
          f"the execution itself took {result['execution_s']} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
