"""Fields that hold "any task", "any trigger" or "any condition", validated by their ``type``.

A flow's ``tasks`` is a list of mappings whose ``type`` names the class that
validates them. Instead of one pydantic union over every class (which needs
every plugin module imported before the first flow can be read), the field
looks the ``type`` up in the registry when it validates a value: only the
modules of the types a flow uses are imported. The JSON Schema, which has to
list every type, asks the registry for all classes when it is generated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic_core import PydanticCustomError, core_schema

#: ``(json schema generator id) -> classes whose definition is being generated``: a recursive type
#: (a flowable holding tasks) refers to its own definition instead of generating it again.
_GENERATING: dict[int, set[type]] = {}

EXAMPLES = {
    "task": "log, python, io.kestra.plugin.core.log.Log",
    "trigger": "schedule, webhook, io.kestra.plugin.core.trigger.Schedule",
    "condition": "io.kestra.plugin.core.condition.DayWeek",
}


class UnknownType(ValueError):
    """A ``type`` the registry cannot give a class for; the message says why and what to do."""


class TypeDirectory(Protocol):
    """What a ``ByType`` field asks for classes: the registry (``engine.model.registry``), which
    installs itself here when imported, so this module depends on no module above it."""

    def base_class(self, kind: str) -> type: ...

    def resolve(self, kind: str, type_name: str) -> type[BaseModel]: ...

    def classes(self, kind: str) -> dict[str, type[BaseModel]]: ...


_directory: list[TypeDirectory] = []


def install_directory(directory: TypeDirectory) -> None:
    """Called once by the registry: where ``ByType`` fields find the class of a ``type``."""
    _directory[:] = [directory]


def _types() -> TypeDirectory:
    if not _directory:
        raise RuntimeError("engine.model.registry is not imported: import engine.sdk (or the registry) first")
    return _directory[0]


class ByType:
    """Annotation marker: ``Annotated[Task, ByType("task")]`` validates a mapping by its ``type``."""

    def __init__(self, kind: str):
        self.kind = kind

    def _validate(self, value: object) -> Any:
        registry = _types()
        base = registry.base_class(self.kind)
        if isinstance(value, base):
            return value
        if not isinstance(value, Mapping):
            raise PydanticCustomError(
                "lanner_not_a_mapping", "must be a mapping with a 'type' (a {kind} such as {example})",
                {"kind": self.kind, "example": EXAMPLES[self.kind]},
            )
        type_name = value.get("type")
        if type_name is None:
            raise PydanticCustomError(
                "lanner_missing_type", "'type' is required (e.g. {example})", {"example": EXAMPLES[self.kind]}
            )
        if not isinstance(type_name, str):
            raise PydanticCustomError("lanner_unknown_type", "'type' must be a string, not {got}", {"got": repr(type_name)})
        try:
            cls = registry.resolve(self.kind, type_name)
        except UnknownType as exc:
            raise PydanticCustomError("lanner_unknown_type", "{message}", {"message": str(exc)}) from None
        return cls.model_validate(value)

    def __get_pydantic_core_schema__(self, source: object, handler: object) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self._validate)

    def __get_pydantic_json_schema__(self, schema: object, handler: Any) -> dict[str, Any]:
        registry = _types()
        generator = handler.generate_json_schema
        busy = _GENERATING.setdefault(id(generator), set())
        options = []
        try:
            for cls in registry.classes(self.kind).values():
                core = cls.__pydantic_core_schema__
                if cls in busy:
                    options.append(generator.generate_inner(core_schema.definition_reference_schema(_ref(cls))))
                    continue
                busy.add(cls)
                try:
                    options.append(generator.generate_inner(core))
                finally:
                    busy.discard(cls)
        finally:
            if not busy:
                _GENERATING.pop(id(generator), None)
        return {"oneOf": options}


def _ref(cls: type[BaseModel]) -> str:
    schema: Any = cls.__pydantic_core_schema__
    if schema["type"] == "definitions":
        schema = schema["schema"]
    return schema.get("ref") or schema["schema_ref"]
