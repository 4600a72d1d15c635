"""Trigger base classes. Concrete triggers live in ``engine/triggers`` and in plugins."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from engine.model.base import LannerModel
from engine.model.condition import AnyCondition, Condition
from engine.model.durations import Duration
from engine.model.plain import Frozen, Plain, set_field
from engine.model.polymorphic import ByType

if TYPE_CHECKING:
    import logging


class Trigger(LannerModel):
    """Properties every trigger has."""

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", max_length=100, description="Unique id of the trigger in the flow.")
    type: str = Field(description="Trigger type: a short canonical name (`schedule`) or a Kestra name.")
    description: str | None = Field(default=None, description="What this trigger is for.")
    disabled: bool = Field(default=False, description="A disabled trigger never fires.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the executions this trigger starts.")
    conditions: list[AnyCondition] | None = Field(default=None, description="Conditions that must all hold for the trigger to fire.")

    #: What its firings offer conditions (see :attr:`Condition.needs`): a schedule has a date, a Flow
    #: trigger an upstream execution, a polling trigger the date of its event.
    condition_context: ClassVar[frozenset[str]] = frozenset({"date"})
    #: How messages name this kind of trigger ("a Schedule trigger").
    kind_name: ClassVar[str] = "trigger"

    canonical: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str] = "Triggers"
    title: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def validation_warnings(self) -> list[tuple[str, str]]:
        """``(property, message)`` for a definition that is valid but surely not what its author meant."""
        return []

    def condition_lists(self) -> dict[str, list[Condition]]:
        """Its lists of conditions, by property name (a Schedule also has ``scheduleConditions``)."""
        return {"conditions": list(self.conditions or [])}

    def condition_errors(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Conditions its firings cannot evaluate, as (path inside the trigger, message): refused at save."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        offered = self.condition_context
        for prop, conditions in self.condition_lists().items():
            for i, condition in enumerate(conditions):
                missing = condition.requirements() - offered
                if missing:
                    what = " and ".join(_PARTS.get(m, m) for m in sorted(missing))
                    out.append(((prop, i, "type"), f"condition type '{condition.type}' needs {what}, which a "
                                f"{self.kind_name} does not have: it could never be evaluated; remove it or use another trigger"))
        return out


_PARTS = {"date": "the date of the firing", "execution": "an upstream execution that ended (Flow triggers)"}

#: A trigger of any registered type (validated by its ``type``).
AnyTrigger = Annotated[Trigger, ByType("trigger")]


# TriggerEvent and TriggerContext are plain classes, not dataclasses: every cold run imports this module,
# and building a dataclass costs ~0.5 ms (see engine/model/plain.py).


class TriggerEvent(Frozen):
    """One thing a polling trigger found: it starts one execution (once per ``key``).

    ``key`` identifies the event for good: a trigger that reports the same key
    again (at the next poll, after a restart, on a second server) starts
    nothing more. ``variables`` become ``{{ trigger.<name> }}`` in the
    execution; ``inputs`` are merged over the trigger's own ``inputs``
    (both default to a new empty dict).
    """

    __slots__ = ("key", "variables", "inputs")
    key: str
    variables: Mapping[str, Any]
    inputs: Mapping[str, Any]

    def __init__(self, key: str, variables: Mapping[str, Any] | None = None, inputs: Mapping[str, Any] | None = None) -> None:
        set_field(self, "key", key)
        set_field(self, "variables", {} if variables is None else variables)
        set_field(self, "inputs", {} if inputs is None else inputs)


class TriggerContext(Plain):
    """What :meth:`PollingTrigger.poll` may use.

    ``now``: the time of this poll (timezone-aware UTC).
    ``state``: small JSON-able state kept in the store between polls (a cursor, the last id seen...);
    a new empty dict by default.
    ``storage``: internal storage (``put_bytes`` a file an event brings, then pass its URI as a variable).
    ``renderer``: renders expressions in the trigger's own properties (``{{ secret('DB_PASSWORD') }}``,
    ``{{ flow.id }}``).
    """

    __slots__ = ("namespace", "flow_id", "trigger_id", "now", "logger", "state", "storage", "renderer")
    namespace: str
    flow_id: str
    trigger_id: str
    now: datetime
    logger: "logging.Logger"
    state: dict[str, Any]
    storage: Any
    renderer: Any

    def __init__(self, namespace: str, flow_id: str, trigger_id: str, now: datetime, logger: "logging.Logger",
                 state: dict[str, Any] | None = None, storage: object = None, renderer: object = None) -> None:
        self.namespace = namespace
        self.flow_id = flow_id
        self.trigger_id = trigger_id
        self.now = now
        self.logger = logger
        self.state = {} if state is None else state
        self.storage = storage
        self.renderer = renderer

    def render(self, value: object) -> Any:
        """``value`` with its expressions rendered (unchanged when the scheduler gives no renderer)."""
        return value if self.renderer is None else self.renderer(value)


class PollingTrigger(Trigger):
    """A trigger the scheduler asks every ``interval`` whether something happened.

    Subclasses implement :meth:`poll`. Each event it returns is checked against
    the trigger's ``conditions``, recorded once in the store and starts one
    execution, so a plugin trigger never fires twice for the same event.
    """

    #: Seconds between two polls when the flow does not set ``interval``.
    default_interval: ClassVar[float] = 60.0

    interval: Duration | None = Field(default=None, description="How often the trigger looks for events (ISO-8601 duration).")

    def poll(self, ctx: TriggerContext) -> TriggerEvent | Iterable[TriggerEvent] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def interval_seconds(self) -> float:
        return self.interval.total_seconds() if self.interval is not None else self.default_interval
