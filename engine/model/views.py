"""What the front door (:class:`engine.service.Engine`) returns: typed views of stored records.

Every front end (CLI, REST API, builder, Jupyter) and both implementations of the
Engine (in-process and over HTTP) share these types, so a value read in-process and
the same value read from a server compare equal. Fields are snake_case in Python and
camelCase in JSON, exactly the REST API's shapes: ``View.model_validate(answer)``
reads an API answer and ``view.to_dict()`` gives the JSON object back (the execution
summary of ``lanner flow run --json`` included).

This module holds the views of executions, logs and flows, what running a flow uses;
the events of a followed execution are in :mod:`engine.model.views_live`, and those of
namespaces, templates, triggers and dashboards in :mod:`engine.model.views_workspace`,
so that a cold ``lanner flow run`` does not build their models.

The annotations are real objects, not text (no ``from __future__ import annotations``):
pydantic turns each annotation given as text into a ``ForwardRef``, which compiles it,
and the ~140 of this module cost ~1 % of a cold ``lanner flow run``.
"""

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from engine.model.state import State
from engine.model.validation import FlowError

#: Label values are text; a number or boolean written in YAML or rendered by an expression reads as text.
Text = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))]
Labels = dict[str, Text]


class View(BaseModel):
    """Base of the views: camelCase aliases, immutable, unknown keys (a newer server's) ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore",
                              defer_build=True)  # validators built on first use: a CLI run uses two or three views

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the REST API: camelCase keys, JSON values only (a state is its name)."""
        return self.model_dump(mode="json", by_alias=True, fallback=str)


# --- executions -----------------------------------------------------------------------------------


class AttemptView(View):
    state: State
    start_date: str | None = None
    end_date: str | None = None
    message: str | None = Field(default=None, exclude_if=lambda v: v is None)


class StateChange(View):
    """One entry of a state history: the state and when it was entered (stored ISO-8601 UTC)."""

    state: State
    date: str


class TaskRunView(View):
    id: str
    task_id: str
    parent_task_run_id: str | None = None
    value: str | None = None
    state: State
    attempts: list[AttemptView] = []
    outputs: dict[str, Any] = {}
    start_date: str | None = None
    end_date: str | None = None
    state_history: list[StateChange] = []
    #: What the task published (metric Publish, ``RunContext.metric``): {type, name, value, tags}.
    metrics: list[dict[str, Any]] = Field(default=[], exclude_if=lambda v: not v)


class ExecutionSummary(View):
    """One execution with its task runs: the summary JSON of the CLI and the REST API.

    Dates are the stored ISO-8601 UTC text. Search results carry no task runs.
    """

    id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State
    inputs: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    labels: Labels = {}
    trigger: dict[str, Any] | None = None
    parent: dict[str, Any] | None = None
    start_date: str | None = None
    end_date: str | None = None
    state_history: list[StateChange] = []
    task_runs: list[TaskRunView] = []

    @property
    def ended(self) -> bool:
        return self.state.terminal

    def to_dict(self, *, task_runs: bool = True) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, fallback=str, exclude=None if task_runs else {"task_runs"})


class LogLine(View):
    """A stored log line; ``namespace`` and ``flow_id`` are set in a search across executions."""

    id: int
    execution_id: str
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None
    level: str
    timestamp: str
    message: str
    namespace: str | None = Field(default=None, exclude_if=lambda v: v is None)
    flow_id: str | None = Field(default=None, exclude_if=lambda v: v is None)


class Page[T](View):
    """One page of a search, and how many match in all."""

    results: list[T]
    total: int


# --- flows --------------------------------------------------------------------------------------------


class FlowInfo(View):
    """A stored flow revision. ``source`` is its YAML (None in search results read over HTTP)."""

    namespace: str
    id: str
    revision: int
    deleted: bool = False
    updated: str | None = None
    description: str | None = None
    labels: Labels = {}
    disabled: bool = False
    source: str | None = None
    warnings: list[FlowError] = []  # deprecated spellings, filled in the answer of a local deploy only


class Validation(View):
    """The outcome of validating one flow document."""

    valid: bool
    namespace: str | None = None
    flow_id: str | None = Field(default=None, serialization_alias="flow", validation_alias=AliasChoices("flow", "flow_id"))
    errors: list[FlowError] = []
    warnings: list[FlowError] = []
