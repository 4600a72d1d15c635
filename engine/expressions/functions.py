"""Kestra's built-in expression functions that need nothing but the render itself.

Functions that read the template's variables take Jinja's context
(``@pass_context``): ``render()``, ``renderOnce()``, ``printContext()``,
``currentEachOutput()``, ``iterationOutput()``, ``env()``. Functions that
need the runtime (``secret``, ``read``, ``kv``, files in storage, logs) are
supplied per render by the runner (``engine.runtime.expression_functions``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from jinja2 import pass_context
from jinja2.runtime import Context, Undefined

from engine.expressions import bounds
from engine.expressions.errors import shown
from engine.expressions.filters import FilterError, whole_number

if TYPE_CHECKING:
    from engine.expressions.sandbox import LannerEnvironment

#: Most re-renders of one value by render(): a variable that refers to itself stops here.
MAX_RENDERS = 100
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NANOID_ALPHABET = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: KSUID's epoch (2014-05-13T16:53:20Z), in Unix seconds.
_KSUID_EPOCH = 1_400_000_000


# --- rendering and the context -----------------------------------------------------------------


def _variables(context: Context) -> dict[str, Any]:
    return dict(context.get_all())


def _render_once(context: Context, value: object) -> Any:
    from engine.expressions.full_render import compile_template, execute, is_expression

    if isinstance(value, str):
        if not is_expression(value):
            return value
        env = context.environment
        # Texts rendered here may come from data: only small ones enter the shared compile cache.
        compile_fn = compile_template if len(value) <= 4096 else compile_template.__wrapped__
        return execute(env, compile_fn(env, value), _variables(context))  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        return {k: _render_once(context, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render_once(context, v) for v in value]
    return value


@pass_context
def render(context: Context, toRender: object = None, recursive: object = True) -> Any:  # noqa: N803 - Kestra's names
    """Render a value that holds expressions (a variable, a namespace variable ...).

    With ``recursive`` (the default) the result is rendered again while it
    still holds expressions and changes, at most 100 times.
    """
    if isinstance(toRender, Undefined):
        toRender._fail_with_undefined_error()
    if not isinstance(recursive, bool):
        raise FilterError("render(): recursive must be true or false")
    # Rendering copies lists and maps item by item, and compares the copy with the original in C.
    environment = cast("LannerEnvironment", context.environment)  # templates render only in Lanner's
    bounds.measure(toRender, environment.limits, "the value given to render()")
    current = toRender
    for _ in range(MAX_RENDERS):
        rendered = _render_once(context, current)
        if not recursive or rendered == current:
            return rendered
        current = rendered
    raise FilterError(f"render(): too many rendering attempts ({MAX_RENDERS}); does a variable refer to itself?")


@pass_context
def render_once(context: Context, toRender: object = None) -> Any:  # noqa: N803
    """``render(x, recursive=false)``."""
    return render(context, toRender, False)


@pass_context
def print_context(context: Context) -> dict[str, Any]:
    """Every variable the expression sees (functions left out), for debugging."""
    return {
        k: v
        for k, v in context.get_all().items()
        if not callable(v) and not isinstance(v, Undefined) and k not in ("null", "_context")
    }


def _current_value(outputs: object, context: Context) -> Any:
    """Walk ``outputs`` by the values of the enclosing loops, outermost first."""
    parents = context.get("parents")
    if isinstance(parents, list):
        for parent in reversed(parents):
            taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
            value = taskrun.get("value") if isinstance(taskrun, Mapping) else None
            if value is not None and isinstance(outputs, Mapping):  # a parent without a value is no loop level
                outputs = outputs.get(value)
    return outputs


@pass_context
def current_each_output(context: Context, outputs: object = None) -> Any:
    """``currentEachOutput(outputs.t)``: the output of sibling ``t`` for the current loop value."""
    if not isinstance(outputs, Mapping):
        raise FilterError("currentEachOutput() expects the outputs of a task inside a loop, like currentEachOutput(outputs.my_task)")
    outputs = _current_value(outputs, context)
    taskrun = context.get("taskrun")
    value = taskrun.get("value") if isinstance(taskrun, Mapping) else None
    return outputs.get(value) if isinstance(outputs, Mapping) else None


@pass_context
def iteration_output(context: Context, taskId: object = None, iteration: object = None) -> Any:  # noqa: N803
    """``iterationOutput(...)``: the ``value`` output of an earlier iteration of a repeating task."""
    taskrun = context.get("taskrun")
    if not isinstance(taskrun, Mapping) or "iteration" not in taskrun:
        raise FilterError("iterationOutput() can only be used inside a task that repeats (it needs taskrun.iteration)")
    task = context.get("task")
    task_id = str(taskId) if taskId is not None else (task or {}).get("id")
    index = whole_number(iteration, "iterationOutput(): iteration") if iteration is not None else int(taskrun["iteration"]) - 1
    if index < 0:
        raise FilterError(f"iterationOutput(): cannot fetch iteration {index}, there is no earlier iteration")
    outputs = context.get("outputs")
    target = _current_value(outputs.get(task_id) if isinstance(outputs, Mapping) else None, context)
    if not isinstance(target, Mapping):
        return None
    values = list(target)
    if index >= len(values):
        raise FilterError(f"iterationOutput(): iteration {index} has no outputs yet (the last one is {len(values) - 1})")
    found = target[values[index]]
    return found.get("value") if isinstance(found, Mapping) else None


def loop_outputs(outputs: object = None, name: object = None) -> list[Any]:
    """``loopOutputs(outputs.loop.outputs, 'result')``: one declared output per iteration, in order."""
    if not isinstance(outputs, (list, tuple)):
        raise FilterError("loopOutputs() expects the list of iterations of a loop, like loopOutputs(outputs.loop.outputs, 'result')")
    found = []
    for item in outputs:
        values = item.get("outputs") if isinstance(item, Mapping) else None
        found.append(values.get(str(name)) if isinstance(values, Mapping) else None)
    return found


@pass_context
def env_function(context: Context, name: object = None, default: object = None) -> Any:
    """``env('api_url_' ~ inputs.stage)``: an ``ENV_*`` variable by a computed name."""
    envs = context.get("envs")
    value = envs.get(str(name).lower()) if isinstance(envs, Mapping) else None
    return default if value in (None, "") else value


# --- identifiers and random values -------------------------------------------------------------


def _base62(number: int, width: int) -> str:
    out = []
    while number:
        number, rest = divmod(number, 62)
        out.append(_BASE62[rest])
    return "".join(reversed(out)).rjust(width, "0")


def new_uuid() -> str:
    """A random UUID (``3f1c...-...``)."""
    import uuid  # imported on first use, as the other generators' modules: start-up stays fast

    return str(uuid.uuid4())


def new_id() -> str:
    """A short unique id: a random UUID in base 62 (22 characters), as Kestra's ids."""
    import uuid

    return _base62(uuid.uuid4().int, 22)


def ksuid() -> str:
    """A K-Sortable Unique IDentifier: 4 bytes of seconds since 2014-05-13 then 16 random bytes, base 62."""
    import secrets

    stamp = int(time.time()) - _KSUID_EPOCH
    return _base62(int.from_bytes(stamp.to_bytes(4, "big") + secrets.token_bytes(16), "big"), 27)


def nano_id(length: object = 21, alphabet: object = _NANOID_ALPHABET) -> str:
    """A NanoID of ``length`` characters drawn from ``alphabet``."""
    import secrets

    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 1024:
        raise FilterError("nanoId() length must be a whole number from 1 to 1024")
    chars = str(alphabet)
    if not chars:
        raise FilterError("nanoId() alphabet must not be empty")
    return "".join(secrets.choice(chars) for _ in range(length))


def random_int(lower: object = None, upper: object = None) -> int:
    """A random whole number from ``lower`` to ``upper``, ``upper`` excluded."""
    low, high = _random_bound("lower", lower), _random_bound("upper", upper)
    if high < low:
        raise FilterError(f"randomInt(): upper ({high}) is less than lower ({low})")
    import secrets

    return low if high == low else low + secrets.randbelow(high - low)


def _random_bound(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FilterError(f"randomInt() expects whole numbers: randomInt(lower, upper); {name} is {shown(value)}")
    return value


def random_port() -> int:
    """A TCP port free on this machine right now (127.0.0.1)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
