"""B9: the cost of rendering one expression, warm (compiled template cached) and cold.

Every task property goes through ``engine.expressions.render``, so this is
the per-property cost behind B2/B3. Each figure is the best of several runs
in CPU µs per render (CPU time of this process, so other processes on a
shared machine disturb it little); the floor is plain
Python building the same strings (an f-string and a dict lookup), so the ratio
compares across machines. Templates a version cannot parse are reported as
unavailable, which lets the same file measure an older checkout.

    .venv/bin/python -m bench.b9_render --n 20000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench.common import emit, unavailable

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "World", "n": 3, "flag": True, "items": ["a", "b", "c"], "missing": None},
    "outputs": {"t": {"value": {"k": 1, "l": [1, 2]}}},
    "execution": {"id": "ex1", "startDate": "2026-11-24T10:15:30.123456+00:00"},
    "taskrun": {"value": "a"},
}

#: label -> (template, the same string built by plain Python)
CASES: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "text": ("Hello {{ inputs.name }}!", lambda c: f"Hello {c['inputs']['name']}!"),
    "native value": ("{{ outputs.t.value }}", lambda c: c["outputs"]["t"]["value"]),
    "arithmetic": ("{{ inputs.n * 2 + 1 }}", lambda c: c["inputs"]["n"] * 2 + 1),
    "date filter": ("{{ execution.startDate | date('yyyy-MM-dd') }}", lambda c: c["execution"]["startDate"][:10]),
    "loop": ("{% for i in inputs.items %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}", lambda c: ", ".join(c["inputs"]["items"])),
    "condition": ("{{ inputs.flag and inputs.n > 2 }}", lambda c: bool(c["inputs"]["flag"] and c["inputs"]["n"] > 2)),
    "coalesce": ("{{ inputs.missing ?? inputs.name }}", lambda c: c["inputs"]["missing"] if c["inputs"]["missing"] is not None else c["inputs"]["name"]),
    "ternary": ("{{ inputs.n > 2 ? 'big' : 'small' }}", lambda c: "big" if c["inputs"]["n"] > 2 else "small"),
}


def best_of(fn: Callable[[], Any], n: int, repeat: int) -> float:
    """Best CPU µs per call over ``repeat`` runs of ``n`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="renders per run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from engine.expressions import ExpressionError, render
    from engine.expressions.full_render import compile_template, default_environment

    env = default_environment()
    total, floor_total = 0.0, 0.0
    for label, (template, plain) in CASES.items():
        try:
            expected = plain(CONTEXT)
            got = render(template, CONTEXT)
        except ExpressionError as exc:
            unavailable("B9", f"{label}: {exc}")
            continue
        if got != expected and str(got) != str(expected).lower():
            unavailable("B9", f"{label}: rendered {got!r}, expected {expected!r}")
            continue
        micros = best_of(lambda t=template: render(t, CONTEXT), args.n, args.repeat)
        floor = best_of(lambda p=plain: p(CONTEXT), args.n, args.repeat)
        cold = best_of(lambda t=template: compile_template.__wrapped__(env, t), max(args.n // 200, 20), args.repeat)
        emit("B9", f"render {label}", micros, "µs", floor=floor)
        emit("B9", f"compile {label}", cold, "µs")
        if label not in ("coalesce", "ternary"):  # the mix every version can render
            total, floor_total = total + micros, floor_total + floor
    emit("B9", "render mix of 6 (sum)", total, "µs", floor=floor_total)


if __name__ == "__main__":
    main()
