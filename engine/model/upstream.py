"""A Flow trigger's ``inputs`` read the upstream execution: ``{{ outputs.t.value }}`` names a task of
the flow that ended, not of this one. When that flow is known (deployed), each ``outputs.X`` must be
one of its tasks; otherwise nothing can be checked before it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine import expressions
from engine.model.tree import iter_strings

if TYPE_CHECKING:
    from engine.model.flow import Flow

Lookup = Callable[[str, str], Any]  # (namespace, flow id) -> Flow or None


def upstream_flows(trigger: object) -> list[tuple[str, str]]:
    """(namespace, flow id) of the flows a Flow trigger listens to, from its conditions and preconditions."""
    found: list[tuple[str, str]] = []
    for condition in getattr(trigger, "conditions", None) or []:
        namespace, flow_id = getattr(condition, "namespace", None), getattr(condition, "flow_id", None)
        if isinstance(namespace, str) and isinstance(flow_id, str):
            found.append((namespace, flow_id))
    pre = getattr(trigger, "preconditions", None)
    for entry in (getattr(pre, "flows", None) or []) if pre is not None else []:
        if isinstance(entry, dict) and isinstance(entry.get("namespace"), str) and isinstance(entry.get("flowId"), str):
            found.append((entry["namespace"], entry["flowId"]))
    return list(dict.fromkeys(found))


def flow_trigger_input_errors(flow: Flow, lookup: Lookup) -> list[tuple[tuple[str | int, ...], str]]:
    """(path, message) for Flow-trigger inputs reading ``outputs.X`` of no task of the (deployed) upstream flows."""
    from engine.model.flowable import FlowableTask

    out: list[tuple[tuple[str | int, ...], str]] = []
    for i, trigger in enumerate(flow.triggers or []):
        if getattr(type(trigger), "canonical", "") != "flow" or not trigger.inputs:
            continue
        upstream = upstream_flows(trigger)
        flows = [lookup(ns, fid) for ns, fid in upstream]
        if not upstream or any(f is None for f in flows):
            continue  # an upstream flow not deployed yet (or none named): checked when it runs
        ids: set[str] = set()
        for f in flows:
            for tasks in f.top_level_lists().values():
                stack = list(tasks)
                while stack:
                    task = stack.pop()
                    ids.add(task.id)
                    if isinstance(task, FlowableTask):
                        for children in task.child_task_lists().values():
                            stack.extend(children)
        names = ", ".join(f"{ns}.{fid}" for ns, fid in upstream)
        for path, text in iter_strings(trigger.inputs, ("triggers", i, "inputs")):
            if "{{" not in text and "{%" not in text:
                continue
            for ref in sorted(expressions.referenced_outputs(text)):
                if ref not in ids:
                    import difflib  # only for a misspelt name
                    close = difflib.get_close_matches(ref, sorted(ids), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    out.append((path, f"outputs.{ref} is not a task of the upstream flow {names}{hint}"))
    return out
