"""What the in-process Engine offers the builder beyond running flows (a part of LocalEngine).

* **Templates**: the flows Lanner ships to start from (:mod:`engine.templates`).
* **Secret names** of a namespace, never their values.
* **Test this task**: one task of a flow run alone, as a real execution of a one-task flow
  (stored, logged, killable like any other), with sample inputs and the outputs of the
  earlier tasks pinned from a chosen execution of the flow. The one-task flow is stored
  as ``<flow id>.tasktest`` with the label ``system.taskTest``; flow lists leave it out.
* **Expression preview**: a template rendered by the runner's sandbox (its functions
  and limits) against the context a task saw in an execution, masked like any output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from engine.model.tree import iter_tasks
from engine.model.yaml_loader import YamlError, load_any_yaml
from engine.service import NotFound, check_namespace, invalid

if TYPE_CHECKING:
    from engine.model.flow import Flow
    from engine.model.views import ExecutionSummary, FlowInfo, Page
    from engine.model.views_workspace import ExpressionPreview, FlowTemplate
    from engine.runtime.local import LocalRunner
    from engine.store.sql import SqlStore

#: The label that marks a task test's one-task flow (and, through the flow's labels, its executions).
TASK_TEST_LABEL = "system.taskTest"
TASK_TEST_SUFFIX = ".tasktest"
#: Longest preview shown (a whole file rendered into a field would drown the form).
PREVIEW_CHARS = 2000


def is_task_test(labels: Mapping[str, str]) -> bool:
    return TASK_TEST_LABEL in labels


class AssistOps:
    """Templates, secret names, task tests and expression previews of LocalEngine."""

    if TYPE_CHECKING:  # provided by LocalEngine
        @property
        def runner(self) -> LocalRunner: ...

        @property
        def store(self) -> SqlStore: ...

        def mask(self, data: object) -> Any: ...

        def flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowInfo | None: ...

        def definition(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow: ...

        def search_executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                              size: int = 25) -> Page[ExecutionSummary]: ...

        def write_namespace_file(self, namespace: str, path: str, data: bytes) -> Any: ...

        def namespace_files(self, namespace: str, prefix: str = "") -> list[Any]: ...

    # --- templates ------------------------------------------------------------------------------------

    def templates(self) -> list[FlowTemplate]:
        from engine import templates

        return templates.catalog()

    def open_template(self, template_id: str, namespace: str, flow_id: str) -> str:
        """The template's YAML under ``namespace``/``flow_id``; writes the namespace files it needs that
        the namespace lacks (an existing file is never overwritten)."""
        from engine import templates

        check_namespace(namespace)
        if len(flow_id) > 100 or re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*", flow_id) is None:
            raise invalid("flowId", f"flow id {flow_id!r} is invalid: use letters, digits, _ and -, starting with "
                                    "a letter or digit", "invalid flow id")
        try:
            source = templates.instantiate(template_id, namespace, flow_id)
            needed = templates.files(template_id)
        except templates.TemplateNotFound as exc:
            raise NotFound(str(exc)) from None
        if needed:
            present = {f.path for f in self.namespace_files(namespace)}
            for path, data in needed.items():
                if path not in present:
                    self.write_namespace_file(namespace, path, data)
        return source

    # --- secrets --------------------------------------------------------------------------------------

    def secret_names(self, namespace: str) -> list[str]:
        """Names of the secrets a flow of ``namespace`` can read (its own, its parents', the global ones)."""
        return self.runner.secrets.names(check_namespace(namespace))

    # --- test this task -------------------------------------------------------------------------------

    def test_task(self, namespace: str, flow_id: str, task_id: str, *, source: str | None = None,
                  inputs: Mapping[str, Any] | None = None, pinned_execution_id: str | None = None) -> str:
        """Run one task of a flow alone; returns the id of its execution.

        ``source``: the flow as edited (unsaved changes included); the stored latest revision when None.
        ``inputs``: sample inputs, checked against the flow's input definitions.
        ``pinned_execution_id``: an execution of this flow whose finished task runs (all but this task's)
        are copied first, so ``{{ outputs.<earlier task> }}`` reads what they produced there.
        """
        if source is None:
            info = self.flow(namespace, flow_id)
            if info is None or info.deleted or info.source is None:
                raise NotFound(f"flow {namespace}.{flow_id} does not exist")
            source = info.source
        try:
            data = load_any_yaml(source)
        except YamlError as exc:
            raise invalid("source", f"flow {namespace}.{flow_id}: its YAML does not parse ({exc})") from None
        if not isinstance(data, dict):
            raise invalid("source", f"flow {namespace}.{flow_id}: its YAML is not a flow")
        task = _find_task(data, task_id)
        if task is None:
            raise invalid("taskId", f"flow {namespace}.{flow_id} has no task {task_id!r}: save the flow first, "
                                    "or pick a task of it", "no such task")
        pinned = None
        if pinned_execution_id:
            loaded = self.store.load_execution(pinned_execution_id)
            if loaded is None:
                raise NotFound(f"execution {pinned_execution_id} does not exist")
            ex, runs = loaded
            if (ex.namespace, ex.flow_id) != (namespace, flow_id):
                raise invalid("pinnedExecutionId", f"execution {pinned_execution_id} is not an execution of "
                                                   f"{namespace}.{flow_id}", "another flow's execution")
            pinned = (runs, ex.id, task_id)
        test_flow = self.runner.deploy(yaml.safe_dump(_one_task_flow(data, namespace, flow_id, task), sort_keys=False))
        return self.runner.start_execution(namespace, test_flow.id, dict(inputs or {}), pinned=pinned)

    # --- expression preview ---------------------------------------------------------------------------

    def preview_expression(self, namespace: str, flow_id: str, template: str, *, execution_id: str | None = None,
                           task_id: str | None = None) -> ExpressionPreview:
        """``template`` rendered against the context ``task_id`` saw in an execution of the flow (the latest
        one when ``execution_id`` is None): the value as text, or one sentence saying why it does not render."""
        from engine.expressions import is_expression
        from engine.model.execution import ExecutionState
        from engine.model.views_workspace import ExpressionPreview
        from engine.runtime.expression_context import task_context
        from engine.runtime.flow_index import FlowIndex

        if not is_expression(template):
            return ExpressionPreview(value=template)
        if execution_id is None:
            found = self.search_executions(namespace=namespace, flow_id=flow_id, size=1).results
            if not found:
                return ExpressionPreview(error=f"{namespace}.{flow_id} has not run yet: execute it once to preview "
                                               "expressions against its inputs and outputs.")
            execution_id = found[0].id
        loaded = self.store.load_execution(execution_id)
        if loaded is None:
            raise NotFound(f"execution {execution_id} does not exist")
        ex, runs = loaded
        flow = self.definition(ex.namespace, ex.flow_id, ex.flow_revision)
        render = self.runner.renderer_for(ex.namespace)
        st = ExecutionState(ex, runs)
        task = FlowIndex(flow).get(task_id) if task_id else None
        try:
            context = task_context(flow, st, task, None, None, render=render)
            value = render(template, context)
        except Exception as exc:  # noqa: BLE001 - any refusal of the sandbox is shown as its sentence
            return ExpressionPreview(error=_sentence(self.mask(str(exc))), execution_id=ex.id)
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        text = self.mask(text)
        if len(text) > PREVIEW_CHARS:
            text = text[:PREVIEW_CHARS] + f"… ({len(text) - PREVIEW_CHARS} more characters)"
        return ExpressionPreview(value=text, execution_id=ex.id)


def _find_task(data: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    return next((t for _path, t in iter_tasks(data) if t.get("id") == task_id), None)


def _one_task_flow(data: dict[str, Any], namespace: str, flow_id: str, task: dict[str, Any]) -> dict[str, Any]:
    """The flow a task test runs: the task alone (enabled), with the flow's inputs, variables and defaults."""
    body = {k: v for k, v in task.items() if k != "disabled"}
    out: dict[str, Any] = {
        "id": flow_id[: 100 - len(TASK_TEST_SUFFIX)] + TASK_TEST_SUFFIX,
        "namespace": namespace,
        "description": f"Test of task {task.get('id')} of {namespace}.{flow_id} (Test this task in the editor).",
        "labels": {TASK_TEST_LABEL: f"{flow_id}.{task.get('id')}"},
    }
    for key in ("inputs", "variables", "pluginDefaults", "taskDefaults"):
        if data.get(key) is not None:
            out[key] = data[key]
    out["tasks"] = [body]
    # The earlier tasks it reads exist in this flow only as disabled stand-ins (their outputs come from the
    # pinned execution's task runs): validation accepts outputs.<id> of a task the flow has. They sit in the
    # error branch, where nothing runs unless the task fails, and then as SKIPPED.
    own = {t.get("id") for _path, t in iter_tasks({"tasks": [body]})}
    read = sorted(_referenced_outputs(body) - own)
    if read:
        out["errors"] = [{"id": ref, "type": "log", "disabled": True,
                          "message": "stand-in: its outputs are pinned from an earlier execution"} for ref in read]
    return out


def _referenced_outputs(value: object) -> set[str]:
    """Ids of the tasks whose outputs the strings inside ``value`` read."""
    from engine.expressions import ExpressionError, referenced_outputs

    if isinstance(value, str):
        try:
            return set(referenced_outputs(value)) if "{{" in value or "{%" in value else set()
        except ExpressionError:
            return set()
    if isinstance(value, dict):
        return set().union(*(_referenced_outputs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_referenced_outputs(v) for v in value)) if value else set()
    return set()


def _sentence(message: str) -> str:
    message = " ".join(message.split())
    return message if message.endswith(".") else message + "."


__all__ = ["TASK_TEST_LABEL", "AssistOps", "is_task_test"]
