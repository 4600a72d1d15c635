"""B10: a hostile expression must not freeze the server: /health latency and RSS while one renders.

Starts ``lanner server local`` on 127.0.0.1, then, one payload at a time,
starts an execution whose task renders a hostile expression (or calls a
webhook whose trigger ``inputs`` render one, inside the API) and meanwhile
asks ``GET /health`` every 10 ms from another thread and reads the server's
RSS from ``/proc``. Figures per payload: /health p99 and worst latency, RSS
growth over the RSS just before, how the execution ended and its message.

The payloads are those of issue 19: lists built from shared references
(``[b] * 15000`` over ``[a] * 1000`` over ``[0] * 1000``), then compared
(``==``), sorted, or printed inside 66 brackets (``|string``, ``format``,
``|tojson``), and a render that keeps many large texts alive at once.
Targets: /health p99 < 100 ms, RSS growth < 200 MB, the execution FAILED
with a sentence naming the limit.

    .venv/bin/python -m bench.b10_hostile [--scale 1.0] [--cap 60] [--only eq-shared,...]

``--scale`` shrinks the outer counts (a run of the unbounded engine takes
minutes at 1.0); ``--cap`` stops waiting for one execution after so many
seconds (the figure then says it was still running).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, percentile
from bench.server import Server

WEBHOOK_KEY = "b10-hostile-webhook-key-0123456789"


def shared(name: str, outer: int) -> str:
    """``name`` = a list of ``outer`` references to one list of 1,000 references to one list of 1,000 zeros."""
    return (f"{{% set {name}_a = [0] * 1000 %}}{{% set {name}_b = [{name}_a] * 1000 %}}"
            f"{{% set {name} = [{name}_b] * {outer} %}}")


def limit_pair() -> str:
    """``b`` and ``d``: equal, distinct lists of 999 x 1,000 numbers (999,999 items with the inner lists: the limit)."""
    return ("{% set a = range(999) | list %}{% set b = [a] * 1000 %}"
            "{% set c = range(999) | list %}{% set d = [c] * 1000 %}")


def deep(name: str) -> str:
    return "[" * 66 + name + "]" * 66


def payloads(scale: float) -> dict[str, str]:
    big = max(1, int(15_000 * scale))
    dump = max(1, int(100 * scale))
    keep = "".join(f"{{% set t{i} = ('x' * 9000000) ~ {i} %}}" for i in range(60))
    return {
        "eq-shared": shared("c", big) + shared("d", big) + "{{ c == d }}",
        "sort-shared": shared("c", big) + shared("d", big) + "{{ [c, d] | sort | length }}",
        "in-shared": shared("c", big) + shared("d", big) + "{{ d in [c] }}",
        "string-deep": shared("c", dump) + "{{ " + deep("c") + " | string | length }}",
        "format-deep": shared("c", dump) + "{{ '{}'.format(" + deep("c") + ") | length }}",
        "tojson-deep": shared("c", dump) + "{{ " + deep("c") + " | tojson | length }}",
        "many-texts": keep + "{{ [" + ", ".join(f"t{i}" for i in range(60)) + "] | length }}",
        "webhook-eq": shared("c", big) + shared("d", big) + "{{ c == d }}",
        # The largest values the limits allow, walked again and again until the time limit.
        "eq-at-limit": limit_pair() + "{% for i in range(100000) %}{{ b == d }}{% endfor %}",
        "in-at-limit": limit_pair() + "{% for i in range(100000) %}{{ d in [b] }}{% endfor %}",
        "tojson-at-limit": limit_pair() + "{% for i in range(100000) %}{{ b | tojson | length }}{% endfor %}",
        "sort-at-limit": "{% set l = range(100000) | map('md5') | list %}{% for i in range(100000) %}{{ l | sort | length }}{% endfor %}",
    }


def flow(name: str, template: str) -> str:
    flow_id = name.replace("-", "_")
    if name.startswith("webhook"):
        return (f"id: {flow_id}\nnamespace: bench\ninputs:\n  - id: x\n    type: STRING\n    required: false\n"
                f"tasks:\n  - id: r\n    type: log\n    message: done\n"
                f"triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: {WEBHOOK_KEY}\n"
                f"    inputs:\n      x: {json.dumps(template)}\n")
    return f"id: {flow_id}\nnamespace: bench\ntasks:\n  - id: r\n    type: log\n    message: {json.dumps(template)}\n"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Probe:
    """/health every 10 ms and the server's RSS, from background threads, until stopped."""

    def __init__(self, url: str, pid: int):
        self.url, self.pid = url, pid
        self.latencies: list[float] = []
        self.unanswered = 0.0
        self.rss: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._health, daemon=True), threading.Thread(target=self._memory, daemon=True)]

    def __enter__(self) -> Probe:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=150)

    def _health(self) -> None:
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    client.get(self.url + "/health")
                except httpx.HTTPError:
                    self.unanswered += time.perf_counter() - start
                    continue
                took = time.perf_counter() - start
                self.latencies.append(took * 1000)
                self._stop.wait(max(0.0, 0.01 - took))

    def _memory(self) -> None:
        while not self._stop.is_set():
            try:
                self.rss.append(rss_mb(self.pid))
            except OSError:
                return
            self._stop.wait(0.01)


def run_payload(server: Server, name: str, cap: float) -> dict[str, Any]:
    assert server.proc is not None
    before = rss_mb(server.proc.pid)
    outcome: dict[str, Any] = {}

    def start() -> None:
        if name == "idle":  # no execution: what /health answers on this machine anyway
            time.sleep(2.0)
            outcome.update(state="IDLE", message="no hostile render")
            return
        with httpx.Client(timeout=cap + 60) as client:
            flow_id = name.replace("-", "_")
            if name.startswith("webhook"):
                resp = client.post(f"{server.url}/api/v1/executions/webhook/bench/{flow_id}/{WEBHOOK_KEY}", json={"n": 1})
                outcome["http"] = resp.status_code
                body = resp.json()
                if resp.status_code != 200:
                    outcome.update(state="REFUSED", message=str(body.get("message") or body.get("detail") or body)[:300])
                    return
            else:
                resp = client.post(f"{server.url}/api/v1/executions/bench/{flow_id}")
                body = resp.json()
            ex_id = body["id"]
            deadline = time.monotonic() + cap
            while time.monotonic() < deadline:
                ex = client.get(f"{server.url}/api/v1/executions/{ex_id}").json()
                if ex["state"] in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
                    attempts = [a for t in ex["taskRuns"] for a in t.get("attempts", [])]
                    message = next((a.get("message") for a in reversed(attempts) if a.get("message")), "")
                    outcome.update(state=ex["state"], message=(message or "")[:300])
                    return
                time.sleep(0.05)
            outcome.update(state="still running", message=f"after {cap:.0f} s")

    began = time.perf_counter()
    with Probe(server.url, server.proc.pid) as probe:
        runner = threading.Thread(target=start, daemon=True)
        runner.start()
        runner.join(cap + 90)
    seconds = time.perf_counter() - began
    p99 = percentile(probe.latencies, 99) if probe.latencies else float("nan")
    worst = max(probe.latencies, default=float("nan"))
    growth = max(probe.rss, default=before) - before
    return {"p99": p99, "worst": worst, "growth": growth, "seconds": seconds, **outcome}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the outer counts of the payloads")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds to wait for one execution")
    parser.add_argument("--only", default="", help="comma-separated payload names")
    args = parser.parse_args(argv)
    chosen = payloads(args.scale)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        home, flows = Path(tmp) / "home", Path(tmp) / "flows"
        home.mkdir()
        flows.mkdir()
        for name, template in chosen.items():
            (flows / f"{name}.yaml").write_text(flow(name, template))
        (flows / "warm.yaml").write_text("id: warm\nnamespace: bench\ntasks:\n  - id: r\n    type: log\n    message: '{{ [1, 2] | tojson }}'\n")
        with Server(home, flows) as server:
            run_payload(server, "warm", args.cap)  # the first execution loads what the server loads lazily
            idle = run_payload(server, "idle", args.cap)
            emit("B10", "idle: /health p99", idle["p99"], "ms", note="no hostile render (the floor of this machine)")
            for name in chosen:
                r = run_payload(server, name, args.cap)
                note = f"{r.get('state')}: {r.get('message', '')}"
                emit("B10", f"{name}: /health p99", r["p99"], "ms", floor=idle["p99"], target="< 100 ms", ok=r["p99"] < 100, note=note)
                emit("B10", f"{name}: /health worst", r["worst"], "ms")
                emit("B10", f"{name}: RSS growth", r["growth"], "MB", target="< 200 MB", ok=r["growth"] < 200)
                emit("B10", f"{name}: seconds to end", r["seconds"], "s",
                     ok=r.get("state") in ("FAILED", "REFUSED"), target="FAILED naming the limit")


if __name__ == "__main__":
    main()
