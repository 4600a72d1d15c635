"""Amazon Ion text: the ``toIon`` filter and the ``fromIon`` function (PyPI ``amazon-ion``).

Kestra's serializer tasks write rows as Ion, one value after another;
``fromIon(text)`` gives the first row (``allRows=true``: all of them) as
plain data: maps, lists, texts, whole numbers, floats (decimals too), dates
(as ISO-8601 texts, like the rest of the context) and null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import pass_environment
from jinja2.runtime import Undefined

from engine.expressions import bounds, json_text
from engine.expressions.filters import FilterError
from engine.ion_rows import plain as _plain

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

_HEADER = "$ion_1_0 "


@pass_environment
def to_ion(env: LannerEnvironment, value: object) -> str:
    """``{{ row | toIon }}``: Ion text (``{a:1,b:"x"}``); null gives ``null``."""
    from amazon.ion import simpleion  # imported on first use: it takes a while
    from amazon.ion.exceptions import IonException

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    bounds.measure(value, env.limits, "the Ion text")
    plain = json_text.json_default(value) if not isinstance(value, (Mapping, list, tuple, str, int, float, type(None))) else value
    try:
        text = simpleion.dumps(plain, binary=False)
    except (IonException, TypeError, ValueError) as exc:
        raise FilterError(f"toIon cannot write this value as Ion: {exc}") from None
    return text[len(_HEADER):] if text.startswith(_HEADER) else text


def from_ion(env: LannerEnvironment, ion: object = None, allRows: object = False) -> Any:  # noqa: N803 - Kestra's name
    """``fromIon(read(outputs.t.uri))``: the first Ion value (``allRows=true``: all, as a list)."""
    from amazon.ion import simpleion
    from amazon.ion.exceptions import IonException

    if isinstance(ion, Undefined):
        ion._fail_with_undefined_error()
    if ion is None:
        return None
    if not isinstance(ion, (str, bytes)):
        raise FilterError(f"fromIon() expects Ion text, not {type(ion).__name__}")
    bounds.check_text(len(ion), env.limits, "the Ion text")
    try:
        values = simpleion.loads(ion, single_value=False)
    except (IonException, ValueError, TypeError) as exc:
        raise FilterError(f"fromIon() got invalid Ion: {' '.join(str(exc).split())[:200]}") from None
    rows = [_plain(v) for v in values]
    bounds.check_items(len(rows), env.limits, "the Ion rows")
    if allRows:
        return rows
    return rows[0] if rows else None
