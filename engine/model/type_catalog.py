"""The mechanics behind :mod:`engine.model.registry`: declared names, registered classes, loading.

Entry points (:mod:`engine.model.plugin_index`) say which names exist and where
their classes live; the ``@register_*`` decorators record each class with its
names when its module is imported. A name resolves through its entry point
(importing one module), else through a decorator alias of a class already
loaded, else, as a last resort, by loading every plugin of that kind (aliases a
plugin declares only in its decorator). An entry point whose class cannot be
used becomes a :class:`PluginError`, never an exception.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from engine.model import plugin_index
from engine.model.plain import Frozen, set_field
from engine.model.plugin_index import BUILTIN, GROUPS, KINDS, Declaration
from engine.model.polymorphic import UnknownType

if TYPE_CHECKING:
    from engine.model.registry import TypeClass

_LABEL = {"task": "task", "trigger": "trigger", "condition": "condition"}


# Source and PluginError are plain frozen classes, not dataclasses: every cold run imports this module,
# and building a dataclass costs ~0.5 ms (see engine/model/plain.py).


class Source(Frozen):
    """Where a type comes from: a distribution (Lanner's own is ``lanner``), or None for this process."""

    __slots__ = ("distribution", "version")
    distribution: str | None
    version: str | None

    def __init__(self, distribution: str | None, version: str | None = None) -> None:
        set_field(self, "distribution", distribution)
        set_field(self, "version", version)

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN


class PluginError(Frozen):
    """Why an entry point of a plugin was not loaded."""

    __slots__ = ("plugin", "version", "entry_point", "group", "target", "message")
    plugin: str
    version: str | None
    entry_point: str
    group: str
    target: str
    message: str

    def __init__(self, plugin: str, version: str | None, entry_point: str, group: str, target: str, message: str) -> None:
        set_field(self, "plugin", plugin)
        set_field(self, "version", version)
        set_field(self, "entry_point", entry_point)
        set_field(self, "group", group)
        set_field(self, "target", target)
        set_field(self, "message", message)

    def __str__(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"plugin {self.plugin}{version}: {self.group} entry point '{self.entry_point}' ({self.target}): {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"entryPoint": self.entry_point, "group": self.group, "target": self.target, "message": self.message}


class TypeCatalog:
    """Declared names (entry points), registered classes (decorators) and what was loaded."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Filled by the decorators, whatever imported the module: canonical -> class, name -> canonical.
        self.classes: dict[str, dict[str, type]] = {k: {} for k in KINDS}
        self.names: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self.sources: dict[type, Source] = {}
        self.sequence: dict[type, int] = {}  # registration order (definition order within a module)
        self.rejected: set[type] = set()  # classes an entry point named but that cannot be used
        self.accepted: set[type] = set()  # classes loaded through an entry point
        self.scanned = False
        self.builtin_missing = False
        self.index: dict[str, dict[str, Declaration]] = {k: {} for k in KINDS}
        self.loaded: dict[tuple[str, str], type | PluginError] = {}
        self.errors: list[PluginError] = []
        self.all_loaded: set[str] = set()

    # --- registration -------------------------------------------------------------------------------

    def register(self, kind: str, cls: type, canonical: str, aliases: tuple[str, ...]) -> None:
        # No lock on purpose: this runs inside a module's import, and load() holds the lock while it
        # imports; a thread importing a type module directly must never wait for it (deadlock).
        names = self.names[kind]
        old = self.classes[kind].get(canonical)
        if old is not None and old is not cls:  # the same name registered again (a reloaded test module)
            for name in [n for n, target in names.items() if target == canonical]:
                names.pop(name, None)
        self.classes[kind][canonical] = cls
        self.sequence.setdefault(cls, len(self.sequence))
        for name in (canonical, *aliases):
            names[name] = canonical

    # --- entry points -------------------------------------------------------------------------------

    def ensure_scanned(self) -> None:
        if self.scanned:
            return
        with self.lock:
            if self.scanned:
                return
            result = plugin_index.scan()
            self.index = {k: {} for k in KINDS}
            for decl in result.declarations:
                self.index[decl.kind][decl.name] = decl
            self.errors = [
                PluginError(lost.distribution, lost.version, lost.name, lost.group, lost.target,
                            f"type name '{lost.name}' is already provided by {kept.distribution}; this one is ignored")
                for lost, kept in result.conflicts
            ]
            self.builtin_missing = result.builtin_missing
            if result.builtin_missing:
                self.errors.append(PluginError(
                    BUILTIN, None, "*", GROUPS["task"], "engine.tasks",
                    "Lanner's own types are not registered: its installed metadata is out of date; "
                    "reinstall Lanner (make install, or pip install -e .)",
                ))
            plugin_index.remember(result.declarations)
            self.scanned = True

    def load(self, decl: Declaration) -> type | PluginError:
        """Import the class an entry point names (once) and check it is a usable type."""
        key = (decl.kind, decl.target)
        with self.lock:
            done = self.loaded.get(key)
            if done is not None:
                return done
            before = {c for per_kind in self.classes.values() for c in per_kind.values()}
            obj: Any = None
            unusable: str | None = None  # what makes the class itself unusable, whatever names it
            try:
                obj = importlib.import_module(decl.module)
                for part in decl.attr.split(".") if decl.attr else []:
                    obj = getattr(obj, part)
                unusable = check_class(decl, obj)
                problem = unusable or check_name(decl, obj)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin never stops Lanner
                obj, problem = None, f"{type(exc).__name__}: {exc}"
            # Classes the import registered belong to this plugin when they live in its package
            # (a plugin that imports one of Lanner's modules does not take its types).
            source = Source(decl.distribution, decl.version)
            package = decl.module.split(".", 1)[0]
            for per_kind in self.classes.values():
                for cls in per_kind.values():
                    if cls not in before and cls.__module__.split(".", 1)[0] == package:
                        self.sources.setdefault(cls, source)
            outcome: type | PluginError
            if problem:
                if unusable and isinstance(obj, type):
                    self.rejected.add(obj)
                outcome = PluginError(decl.distribution, decl.version, decl.name, decl.group, decl.target, problem)
                self.errors.append(outcome)
            else:
                outcome = obj
                self.sources[obj] = source
                self.accepted.add(obj)
            self.loaded[key] = outcome
            return outcome

    def load_kind(self, kind: str) -> None:
        self.ensure_scanned()
        if kind in self.all_loaded:
            return
        with self.lock:
            for decl in list(self.index[kind].values()):
                self.load(decl)
            self.all_loaded.add(kind)

    # --- lookups --------------------------------------------------------------------------------------

    def available(self, kind: str, canonical: str) -> type | None:
        """The registered class of ``canonical``, if it may be used.

        A class of a plugin counts once one of the plugin's entry points named it and it loaded,
        and as long as the plugin is installed; a class decorated in this process (no plugin) counts.
        """
        cls = self.classes[kind].get(canonical)
        if cls is None or cls in self.rejected:
            return None
        source = self.sources.get(cls)
        if source is not None and source.distribution is not None and (
            cls not in self.accepted or not any(d.distribution == source.distribution for d in self.index[kind].values())
        ):
            return None
        return cls

    def find(self, kind: str, name: str) -> type | PluginError | None:
        self.ensure_scanned()
        decl = self.index[kind].get(name)
        if decl is not None:
            return self.load(decl)
        canonical = self.names[kind].get(name)
        if canonical is not None:
            return self.available(kind, canonical)
        if kind == "condition":
            decl = _short_match(self.index[kind], name)
            if decl is not None:
                return self.load(decl)
        return None

    def resolve(self, kind: str, name: str) -> type:
        found = self.find(kind, name)
        if found is None and kind not in self.all_loaded:
            self.load_kind(kind)  # aliases declared only in a plugin's decorator
            found = self.find(kind, name)
            if found is None and kind == "condition":
                alias = _short_match({n: n for n in self.names[kind]}, name)
                found = self.available(kind, self.names[kind][alias]) if alias else None
        if isinstance(found, PluginError):
            raise UnknownType(
                f"{_LABEL[kind]} type '{name}' comes from plugin {found.plugin}, which could not be loaded "
                f"({found.message}); fix or reinstall that plugin"
            )
        if found is None:
            raise UnknownType(self.unknown_message(kind, name))
        return found

    def unknown_message(self, kind: str, name: str) -> str:
        if self.builtin_missing:
            return (
                f"unknown {_LABEL[kind]} type '{name}': Lanner's own types are not registered because its "
                "installed metadata is out of date; reinstall Lanner (make install, or pip install -e .)"
            )
        seen = plugin_index.recorded(kind, name)
        if seen is not None:
            dist, version = seen
            shown = f"{dist} {version}" if version else dist
            return (
                f"{_LABEL[kind]} type '{name}' is not installed; it came from plugin {shown}: "
                f"install it again (pip install {dist}) or change the type"
            )
        known = self.all_names(kind)
        gone = {n: e for n, e in plugin_index.read_record().get(kind, {}).items() if n not in known}
        hint = closest(name, [*known, *gone])
        if hint in gone:  # a type of a plugin that is gone, spelled wrong
            return (
                f"unknown {_LABEL[kind]} type '{name}'; did you mean '{hint}'? "
                f"(it came from plugin {gone[hint][0]}, which is not installed)"
            )
        return f"unknown {_LABEL[kind]} type '{name}'" + (f"; did you mean '{hint}'?" if hint else "")

    def all_names(self, kind: str) -> list[str]:
        self.ensure_scanned()
        names = list(self.index[kind])
        names += [n for n, c in self.names[kind].items() if n not in self.index[kind] and self.available(kind, c)]
        return names

    def suggest(self, kind: str, name: str) -> str | None:
        return closest(name, self.all_names(kind))

    def every_class(self, kind: str) -> dict[str, type]:
        """Canonical name -> class of every available type: Lanner's own first, then by plugin.

        Within a plugin: by module name, then in the order the module defines them.
        """
        self.load_kind(kind)
        out = {c: cls for c in self.classes[kind] if (cls := self.available(kind, c)) is not None}

        def rank(item: tuple[str, type]) -> tuple[int, str, str, int]:
            cls = item[1]
            source = self.sources.get(cls)
            plugin = "" if source is None or source.builtin else source.distribution or ""
            return (1 if plugin else 0, plugin, cls.__module__, self.sequence.get(cls, 0))

        return dict(sorted(out.items(), key=rank))

    def reset(self) -> None:
        """Read the entry points again at the next lookup; classes already registered are kept."""
        with self.lock:
            self.scanned = False
            self.loaded.clear()
            self.all_loaded.clear()
            self.errors = []


_BASES: dict[str, type] = {}


def base_class(kind: str) -> type:
    """The class every type of ``kind`` derives from (Task, Trigger or Condition)."""
    if not _BASES:
        from engine.model.condition import Condition
        from engine.model.task import Task
        from engine.model.trigger import Trigger

        _BASES.update(task=Task, trigger=Trigger, condition=Condition)
    return _BASES[kind]


def check_class(decl: Declaration, obj: object) -> str | None:
    """Why the object an entry point names cannot be used as a type of its kind (None when it can)."""
    from engine.model.flowable import FlowableTask, check_child_lists
    from engine.model.task import RunnableTask
    from engine.model.trigger import PollingTrigger

    base = base_class(decl.kind)
    if not isinstance(obj, type) or not issubclass(obj, base):
        return f"{decl.target} is not a {base.__name__} class"
    if "canonical" not in obj.__dict__ or not obj.canonical:  # type: ignore[attr-defined]
        return f"{obj.__name__} is not registered: decorate it with @register_{decl.kind}(...)"
    if issubclass(obj, RunnableTask) and obj.run is RunnableTask.run:
        return f"{obj.__name__} does not implement run(ctx)"
    if issubclass(obj, FlowableTask):
        try:
            check_child_lists(obj)
        except AttributeError as exc:
            return str(exc)
    if decl.kind == "condition" and obj.test is base.test:  # type: ignore[attr-defined]
        return f"{obj.__name__} does not implement test(ctx)"
    if decl.kind == "trigger" and decl.distribution != BUILTIN:
        if not issubclass(obj, PollingTrigger):
            return f"{obj.__name__} must derive from PollingTrigger: it is what the scheduler knows how to evaluate"
        if obj.poll is PollingTrigger.poll:
            return f"{obj.__name__} does not implement poll(ctx)"
    return None


def closest(name: str, candidates: list[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``name`` was probably meant to be, compared on the class name after the last dot.

    Whole dotted names are compared only when the package part is one nobody uses: otherwise the
    long shared prefix (``io.kestra.plugin.core.condition.``) would make any two names look alike.
    """
    import difflib  # only for an unknown name

    lowered = name.lower()
    prefix, _, tail = lowered.rpartition(".")
    for cand in candidates:
        if cand.lower() == lowered:
            return cand
    known_prefix = any(c.lower().rpartition(".")[0] == prefix for c in candidates)

    def score(cand: str) -> tuple[float, float]:
        cprefix, _, ctail = cand.lower().rpartition(".")
        whole = difflib.SequenceMatcher(None, lowered, cand.lower()).ratio()
        value = difflib.SequenceMatcher(None, tail, ctail).ratio() + (0.01 if cprefix == prefix else 0.0)
        # In a package nobody uses, the class name alone must be closer to count.
        return (value if known_prefix else max(value - 0.1, whole), whole)

    best = max(candidates, key=score, default=None)
    return best if best is not None and score(best)[0] >= cutoff else None


def check_name(decl: Declaration, cls: TypeClass) -> str | None:
    """An entry point must be named after one of the names its class registers."""
    names = (cls.canonical, *cls.aliases)
    if decl.name not in names:
        return f"the entry point is named '{decl.name}' but {cls.__name__} registers {', '.join(map(repr, names))}"
    return None


def _short(name: str) -> str:
    tail = name.rsplit(".", 1)[-1]
    return tail.removesuffix("Condition") or tail


def _short_match(candidates: dict[str, Any], name: str) -> Any:
    """Kestra matches conditions on their last segment without 'Condition': ``...DayWeek`` and ``...DayWeekCondition``."""
    wanted = _short(name)
    for cand, value in candidates.items():
        if _short(cand) == wanted:
            return value
    return None
