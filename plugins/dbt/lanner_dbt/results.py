"""dbt's artifacts as Lanner outputs and logs: ``target/run_results.json`` (one line per node) and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: dbt node statuses, as the level of their log line.
_LEVELS = {"error": "ERROR", "fail": "ERROR", "runtime error": "ERROR", "warn": "WARN", "skipped": "WARN"}


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def relations(manifest: dict[str, Any] | None) -> dict[str, str]:
    """unique_id -> database.schema.alias of every node the manifest knows."""
    out: dict[str, str] = {}
    for uid, node in ((manifest or {}).get("nodes") or {}).items():
        if isinstance(node, dict):
            parts = [node.get("database"), node.get("schema"), node.get("alias") or node.get("name")]
            out[uid] = ".".join(str(p) for p in parts if p)
    return out


def summarize(run_results: dict[str, Any], manifest: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Per node: its result (for outputs) and its log line (level, text), like Kestra's per-model task runs."""
    where = relations(manifest)
    results, lines = [], []
    for r in run_results.get("results") or []:
        if not isinstance(r, dict):
            continue
        uid = str(r.get("unique_id", "?"))
        status = str(r.get("status", "?"))
        seconds = r.get("execution_time")
        failures = r.get("failures")
        adapter = r.get("adapter_response") or {}
        item = {
            "uniqueId": uid,
            "status": status,
            "executionTime": seconds,
            "failures": failures,
            "message": r.get("message"),
            "rowsAffected": adapter.get("rows_affected"),
            "relation": where.get(uid),
        }
        results.append({k: v for k, v in item.items() if v is not None})
        text = f"{uid} => {status}" + (f" in {seconds:.2f}s" if isinstance(seconds, (int, float)) else "")
        if isinstance(failures, int) and failures > 0:
            text += f" ({failures} failure{'s' if failures != 1 else ''})"
        level = _LEVELS.get(status, "INFO")
        lines.append((level, text))
        if r.get("message") and level != "INFO":
            lines.append((level, str(r["message"])))
    return results, lines


def counts(results: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out
