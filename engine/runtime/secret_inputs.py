"""SECRET inputs (Kestra's ``type: SECRET``): what the runtime hides of them, and where.

A task still gets the real value through ``{{ inputs.x }}``; nothing else shows it:

* the inputs of an execution summary read the mask in place of the value
  (:func:`hide_secret_inputs`, applied by the Engine to every summary it hands out);
* log lines and outputs are masked like ``secret()`` values while the execution
  runs: the runner registers their values (``mask_secrets``) with its ``SecretStore`` when
  an execution starts or is loaded again (recovery, restart, resume).

Which inputs are secret is read from the execution's flow revision when a summary
is built, not stored with the execution: a revision never changes and its parse is
cached by the runner, the store keeps its schema, and executions stored before
SECRET inputs were hidden are hidden too. A masker that only remembered values in
memory would forget them at a server restart; the declarations stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.model.flow import Flow
from engine.model.inputs import Input, hide_secrets
from engine.runtime.masking import MASK

#: (namespace, flow id, revision or None for the latest) -> the parsed flow; LocalRunner.get_flow.
GetFlow = Callable[[str, str, int | None], Flow]


def secret_declarations(get_flow: GetFlow, namespace: str, flow_id: str, revision: int | None) -> list[Input]:
    """The SECRET inputs the revision declares; the latest revision's when that one no longer loads."""
    for rev in (revision, None) if revision is not None else (None,):
        try:
            flow = get_flow(namespace, flow_id, rev)
        except (LookupError, ValueError):
            continue  # gone, or no longer valid
        return [d for d in flow.inputs or [] if d.type == "SECRET"]
    return []


def hide_secret_inputs(summary: dict[str, Any], get_flow: GetFlow,
                       known: dict[tuple[str, str, int | None], list[Input]] | None = None) -> dict[str, Any]:
    """``summary`` (a new dict when it changes) with each SECRET input's value replaced by the mask.

    ``known``: declarations already looked up, by (namespace, flow id, revision), for a page of summaries.
    """
    inputs = summary.get("inputs")
    if not inputs:
        return summary
    key = (str(summary.get("namespace")), str(summary.get("flowId")), summary.get("flowRevision"))
    declared = known.get(key) if known is not None else None
    if declared is None:
        declared = secret_declarations(get_flow, *key)
        if known is not None:
            known[key] = declared
    return {**summary, "inputs": hide_secrets(declared, inputs, MASK)} if declared else summary
