"""Plain record classes: what ``@dataclass`` gives a small record, without building a dataclass at import time.

A cold ``lanner flow run`` imports a few dozen modules that each define a record or two. Building a dataclass
generates the source of ``__init__``, ``__repr__`` and ``__eq__`` (and ``__setattr__``, ``__delattr__`` and
``__hash__`` when frozen) and compiles it, ~0.5 ms a class; the eighteen of the cold path were ~9 ms of every run.
A subclass of :class:`Plain` or :class:`Frozen` writes its ``__init__`` by hand and lists its fields, in the
order of that ``__init__``, in ``__slots__``; the base gives it, from ``__slots__``, what the dataclass did:

* equality by type and fields (``NotImplemented`` against another type, as a dataclass does);
* a ``repr`` of the form ``Name(field=value, ...)``;
* ``__match_args__`` (positional ``match`` patterns);
* a pickle and ``copy`` round trip through ``__init__``;
* :class:`Frozen` only: assignment and deletion raise :class:`dataclasses.FrozenInstanceError`, and
  instances hash by their fields; a :class:`Plain` record is unhashable, like a dataclass with ``eq``.

``typing.dataclass_transform`` makes type checkers treat the subclasses as dataclasses (frozen ones for
:class:`Frozen`), so mypy still checks constructor calls and refuses assignments to a frozen record.
Fields are the subclass's own ``__slots__``: a record does not extend another record.
(``engine.runtime.events`` has its own base of the same kind, for the runner loop's events.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from operator import attrgetter
from typing import Any, ClassVar, dataclass_transform


class _Record:
    """Equality, ``repr``, ``match`` and pickling by the fields named in ``__slots__``."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    __match_args__: ClassVar[tuple[str, ...]] = ()
    #: A record's field values, in order: an ``operator.attrgetter`` (as fast as a dataclass's own
    #: ``__hash__``, which matters for records used as cache keys such as the expression limits).
    _values_of: ClassVar[Callable[[Any], tuple[Any, ...]]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        names = cls.__slots__
        cls.__match_args__ = names  # type: ignore[misc]  # a dataclass's: its fields, in order
        if len(names) > 1:
            cls._values_of = attrgetter(*names)
        else:  # attrgetter of one name gives the value itself, of none fails
            cls._values_of = staticmethod(lambda record: tuple([getattr(record, name) for name in names]))

    def _values(self) -> tuple[Any, ...]:
        return type(self)._values_of(self)

    def __eq__(self, other: object) -> bool:  # defined without __hash__: a Plain record is unhashable
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        return cls._values_of(self) == cls._values_of(other)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:  # rebuilt through __init__, with every field positional
        return type(self), self._values()


@dataclass_transform()
class Plain(_Record):
    """A mutable record (a ``@dataclass``); unhashable, as it is compared by value."""

    __slots__ = ()


#: Sets a field of a :class:`Frozen` record in its ``__init__`` (its own ``__setattr__`` refuses).
set_field = object.__setattr__


@dataclass_transform(frozen_default=True)
class Frozen(_Record):
    """An immutable record (a ``@dataclass(frozen=True)``), hashable by its fields.

    Its ``__init__`` sets the fields with :func:`set_field`.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self.__class__._values_of(self))
