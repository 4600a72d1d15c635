"""Trigger conditions: the base class and what a condition is tested against.

A condition is a typed mapping in a trigger's ``conditions`` list (Kestra's
shape). It says yes or no for one firing: a schedule tick (its local date), an
ended upstream execution (Flow triggers) or an event of a polling trigger.
Concrete conditions live in ``engine/triggers/conditions.py`` and in plugins.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field

from engine.model.base import LannerModel
from engine.model.plain import Frozen, set_field
from engine.model.polymorphic import ByType


class ConditionError(ValueError):
    """A condition that cannot be evaluated here; the message names it and says why."""


class ConditionContext(Frozen):
    """What a condition is tested against; fields a firing does not have are None.

    ``where`` names the kind of trigger for messages ("schedule", "Flow trigger", "trigger").
    ``date``: local wall time of a schedule tick, or the UTC time of a polling trigger's event.
    ``execution``: the summary of the upstream execution that ended (Flow triggers).
    ``trigger``: the firing's ``trigger`` variables (``{{ trigger.x }}`` of the execution it would start).
    ``flow``: ``{"namespace": ..., "id": ...}`` of the flow the trigger belongs to.
    ``state``: memory of stateful conditions (MultipleCondition's window), kept in the store by the
    caller between firings; None where nothing can be kept.
    (``trigger`` and ``flow`` default to a new empty dict.)

    A plain frozen class rather than a dataclass: every cold run imports it, and building a dataclass
    costs ~0.5 ms (see :mod:`engine.model.plain`).
    """

    __slots__ = ("where", "date", "execution", "trigger", "flow", "state")
    where: str
    date: datetime | None
    execution: Mapping[str, Any] | None
    trigger: Mapping[str, Any]
    flow: Mapping[str, Any]
    state: dict[str, Any] | None

    def __init__(self, where: str, date: datetime | None = None, execution: Mapping[str, Any] | None = None,
                 trigger: Mapping[str, Any] | None = None, flow: Mapping[str, Any] | None = None,
                 state: dict[str, Any] | None = None) -> None:
        set_field(self, "where", where)
        set_field(self, "date", date)
        set_field(self, "execution", execution)
        set_field(self, "trigger", {} if trigger is None else trigger)
        set_field(self, "flow", {} if flow is None else flow)
        set_field(self, "state", state)

    def variables(self) -> dict[str, Any]:
        """What expressions in a condition see: ``flow``, ``trigger`` (with ``date``) and the upstream ``execution``."""
        trigger = dict(self.trigger)
        if self.date is not None and "date" not in trigger:
            trigger["date"] = self.date.isoformat()
        out: dict[str, Any] = {"flow": dict(self.flow), "trigger": trigger}
        if self.execution is not None:
            ex = self.execution
            out["execution"] = {k: ex.get(k) for k in ("id", "namespace", "flowId", "state", "labels", "outputs", "startDate")}
            trigger.setdefault("outputs", ex.get("outputs") or {})
            trigger.setdefault("executionId", ex.get("id"))
            trigger.setdefault("namespace", ex.get("namespace"))
            trigger.setdefault("flowId", ex.get("flowId"))
            trigger.setdefault("state", ex.get("state"))
        return out

    def require_date(self, condition: "Condition") -> datetime:
        """The firing's date, or a ConditionError saying the condition needs one."""
        if self.date is None:
            raise ConditionError(f"condition type '{condition.type}' cannot be used on a {self.where}")
        return self.date

    def require_execution(self, condition: "Condition") -> Mapping[str, Any]:
        """The upstream execution, or a ConditionError saying the condition needs one."""
        if self.execution is None:
            raise ConditionError(f"condition type '{condition.type}' cannot be used on a {self.where}")
        return self.execution


#: What a firing may offer a condition (:attr:`Condition.needs`, :attr:`Trigger.condition_context`):
#: ``date`` (a schedule's tick, a polling trigger's event), ``execution`` (the upstream execution of a Flow trigger).
ContextPart = str


class Condition(LannerModel):
    """Properties every condition has. Subclasses implement :meth:`test`.

    A condition that reads ``ctx.date`` or ``ctx.execution`` declares it in :attr:`needs`, so a trigger
    whose firings never have it refuses the condition when the flow is saved (instead of skipping
    every firing later); conditions nested in a condition's fields (``Not``, ``Or``) count too.
    """

    type: str = Field(description="Condition type (a Kestra name such as io.kestra.plugin.core.condition.DayWeek).")

    #: The parts of :class:`ConditionContext` this condition reads: ``"date"``, ``"execution"``.
    needs: ClassVar[frozenset[ContextPart]] = frozenset()

    canonical: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    group: ClassVar[str] = "Conditions"
    title: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    #: The condition keeps memory between firings (``ConditionContext.state``): evaluated after the others.
    stateful: ClassVar[bool] = False

    def test(self, ctx: ConditionContext) -> bool:  # pragma: no cover - abstract
        """True when the firing may go ahead; raise ConditionError when it cannot be decided here."""
        raise NotImplementedError

    def requirements(self) -> frozenset[ContextPart]:
        """What this condition, and the conditions nested in its properties, read from a firing."""
        found = set(self.needs)
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Condition):
                    found |= item.requirements()
        return frozenset(found)


#: A condition of any registered type (validated by its ``type``).
AnyCondition = Annotated[Condition, ByType("condition")]
