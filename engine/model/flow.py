"""The Flow model: Kestra's flow shape (camelCase in YAML, snake_case in Python)."""

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.model import registry as _registry  # noqa: F401 - installs the directory ByType fields read
from engine.model.base import LannerModel
from engine.model.durations import Duration
from engine.model.flowable import FLOW_CHILD_LISTS, field_name
from engine.model.inputs import Input, check_ids
from engine.model.retry import Retry
from engine.model.task import AnyTask, Task
from engine.model.trigger import AnyTrigger

NAMESPACE_RE = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"


class Concurrency(LannerModel):
    """How many executions of this flow may run at once, and what to do past that."""

    limit: int = Field(ge=1, description="Executions allowed to run at the same time.")
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = Field(default="QUEUE", description="What happens to an execution over the limit.")


class PluginDefault(LannerModel):
    """Default property values for every task of a type."""

    type: str = Field(description="Task type the defaults apply to (canonical or Kestra name; a prefix ending with '.' matches a family).")
    values: dict[str, Any] = Field(description="Property values applied when the task does not set them.")
    forced: bool = Field(default=False, description="Override the task's own values.")


class FlowOutput(LannerModel):
    """A flow-level output, computed when the execution ends."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    type: str = Field(default="STRING", description="Type of the value (STRING, INT, JSON, ...).")
    value: Any = Field(description="The value; usually an expression such as {{ outputs.task.value }}.")
    description: str | None = None
    display_name: str | None = None


class Label(LannerModel):
    key: str
    value: str


def _label_map(labels: dict[str, str] | list[Label] | None) -> dict[str, str]:
    if not labels:
        return {}
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    return {lab.key: lab.value for lab in labels}


class SLA(LannerModel):
    """A flow's service-level agreement (Kestra's ``sla``): checked while an execution runs."""

    id: str = Field(min_length=1, description="Name of the SLA, shown in the log line of a violation.")
    type: Literal["MAX_DURATION", "EXECUTION_ASSERTION"] = Field(
        description="MAX_DURATION: the execution must end within `duration`; EXECUTION_ASSERTION: `assert` must stay true."
    )
    behavior: Literal["FAIL", "CANCEL", "NONE"] = Field(
        description="What a violation does to the execution: FAIL it, CANCEL it, or NONE (only the labels are added)."
    )
    duration: Duration | None = Field(default=None, description="MAX_DURATION: the longest an execution may run.")
    assert_: str | None = Field(default=None, alias="assert", description="EXECUTION_ASSERTION: an expression that must render true.")
    labels: dict[str, str] | list[Label] | None = Field(default=None, description="Labels added to the execution on a violation.")

    @model_validator(mode="after")
    def _fields_of_type(self) -> "SLA":
        if self.type == "MAX_DURATION" and self.duration is None:
            raise ValueError(f"SLA '{self.id}': a MAX_DURATION SLA needs duration, e.g. duration: PT1H")
        if self.type == "EXECUTION_ASSERTION" and not self.assert_:
            raise ValueError(f"SLA '{self.id}': an EXECUTION_ASSERTION SLA needs assert, an expression such as \"{{{{ outputs.t.value > 0 }}}}\"")
        return self

    def label_map(self) -> dict[str, str]:
        return _label_map(self.labels)


class Flow(LannerModel):
    """A flow: tasks plus everything that decides when and how they run."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$", max_length=100, description="Flow id, unique in its namespace.")
    namespace: str = Field(max_length=150, description="Dotted namespace, e.g. company.team.")
    revision: int | None = Field(default=None, description="Assigned by the store on save.")
    description: str | None = Field(default=None, description="Markdown description.")
    labels: dict[str, str] | list[Label] | None = Field(default=None, description="Key/value labels copied to every execution.")
    inputs: list[Input] | None = Field(default=None, description="Typed inputs of the flow.")
    variables: dict[str, Any] | None = Field(default=None, description="Constants available as {{ vars.x }}.")
    tasks: list[AnyTask] = Field(min_length=1, description="The tasks, run one after another.")
    errors: list[AnyTask] | None = Field(default=None, description="Tasks run when a task fails.")
    finally_: list[AnyTask] | None = Field(default=None, alias="finally", description="Tasks run at the end, whatever happened.")
    after_execution: list[AnyTask] | None = Field(default=None, description="Tasks run after the execution has ended (its state is final).")
    outputs: list[FlowOutput] | None = Field(default=None, description="Flow-level outputs.")
    triggers: list[AnyTrigger] | None = Field(default=None, description="What starts this flow by itself.")
    concurrency: Concurrency | None = None
    retry: Retry | None = Field(default=None, description="Retry policy of every task that has none of its own (nor an enclosing task's).")
    sla: list[SLA] | None = Field(default=None, description="Service-level agreements checked while an execution runs.")
    plugin_defaults: list[PluginDefault] | None = Field(default=None, description="Default property values per task type.")
    disabled: bool = Field(default=False, description="A disabled flow cannot be executed or triggered.")
    deleted: bool = Field(default=False, description="Kestra exports this; a deleted flow is not stored.")

    @field_validator("inputs")
    @classmethod
    def _input_ids(cls, v: list[Input] | None) -> list[Input] | None:
        problems = check_ids(v or [])
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return v

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not re.match(NAMESPACE_RE, v):
            raise ValueError(
                f"'{v}' is not a valid namespace: use lowercase dotted names such as company.team"
            )
        return v

    def label_map(self) -> dict[str, str]:
        return _label_map(self.labels)

    def top_level_lists(self) -> dict[str, list[Task]]:
        """The flow's task lists that are set (``tasks``, ``errors``, ``finally``, ``afterExecution``)."""
        out: dict[str, list[Task]] = {}
        for child_list in FLOW_CHILD_LISTS:
            tasks = getattr(self, field_name(Flow, child_list.name))
            if tasks:
                out[child_list.name] = list(tasks)
        return out
