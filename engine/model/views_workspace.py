"""Views of namespaces, files, key-value entries, flow templates, expression previews, triggers,
backfills and dashboards: what the builder's other pages and the REST API's other routes answer.

Apart from :mod:`engine.model.views` (executions, logs, flows) because running a flow needs none of them,
and building these pydantic models was a few per cent of a cold ``lanner flow run``. They share its base,
:class:`~engine.model.views.View`, and its shapes.
"""

from typing import Any

from engine.model.views import Labels, View

# --- namespaces, files, key-value ----------------------------------------------------------------------


class NamespaceInfo(View):
    id: str
    parent: str | None = None
    flow_count: int = 0


class NamespaceFile(View):
    path: str
    size: int | None = None


class KvEntry(View):
    namespace: str
    key: str
    type: str
    value: Any = None
    updated: str | None = None
    expiration_date: str | None = None  # when a value with a ttl stops being readable (UTC)


# --- templates, task tests, expression previews ----------------------------------------------------------


class FlowTemplate(View):
    """A flow Lanner ships to start from ("New flow"): its story, YAML and what it uses."""

    id: str
    title: str
    story: str
    source: str
    uses: list[str] = []  # titles of its task and trigger types
    plugins: list[str] = []  # plugin distributions it needs besides Lanner's own
    files: list[str] = []  # namespace files it adds when opened (a notebook...)
    available: bool = True
    problem: str | None = None  # why it does not validate here (a missing plugin)


class ExpressionPreview(View):
    """What a template renders to against an execution's context, or the sentence that says why not."""

    value: str | None = None
    error: str | None = None
    execution_id: str | None = None


# --- triggers and backfills -------------------------------------------------------------------------


class BackfillInfo(View):
    id: str
    namespace: str
    flow_id: str
    trigger_id: str
    start: str
    end: str
    current_date: str | None = None
    inputs: dict[str, Any] = {}
    labels: Labels = {}
    state: str
    total: int
    done: int
    paused: bool = False
    created: str | None = None
    updated: str | None = None


class TriggerInfo(View):
    """A trigger of a deployed flow: its schedule, last firing and whether it is disabled.

    ``disabled`` is true when it is disabled either way; ``disabled_in_flow`` when
    the flow's YAML disables it (then only editing the flow enables it again).
    """

    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    disabled: bool = False
    disabled_in_flow: bool = False
    next_execution_date: str | None = None
    last_trigger_date: str | None = None
    last_execution_id: str | None = None
    last_execution_state: str | None = None
    last_error: str | None = None
    cron: str | None = None
    timezone: str | None = None
    backfills: list[BackfillInfo] = []


# --- dashboards ---------------------------------------------------------------------------------------


class ChartInfo(View):
    id: str
    type: str
    title: str


class DashboardInfo(View):
    """A stored custom dashboard: its YAML definition as written, and what lists show of it."""

    id: str
    title: str
    description: str | None = None
    source: str
    charts: list[ChartInfo] = []
    created: str | None = None
    updated: str | None = None


class ChartData(View):
    """The rows of one chart for one set of filters, aggregated by the store.

    ``rows`` are keyed by the chart's column names; ``execution_ids[i]`` is an
    execution behind row ``i`` (its only one when ``execution_counts[i]`` is 1), for
    drill-down. ``bucket`` says how dates were grouped (``hour``, ``day``, or None:
    per run). ``truncated``: more rows matched than a chart draws.
    """

    dashboard_id: str
    chart_id: str
    columns: list[str]
    rows: list[dict[str, Any]]
    execution_ids: list[str | None] = []
    execution_counts: list[int] = []
    bucket: str | None = None
    since: str | None = None
    until: str | None = None
    truncated: bool = False
