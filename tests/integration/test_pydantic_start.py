"""``start_pydantic`` in a fresh process: pydantic-core's annotations stay text, and pydantic works as before."""

from __future__ import annotations

import subprocess
import sys


def test_start_pydantic_in_a_fresh_process_leaves_pydantic_working() -> None:
    code = (
        "import sys, typing, types\n"
        "from engine.model.pydantic_start import start_pydantic\n"
        "start_pydantic()\n"
        "import pydantic_core.core_schema as cs\n"
        "ref = cs.IntSchema.__annotations__['type']\n"
        "assert isinstance(ref, typing.ForwardRef) and isinstance(ref.__forward_code__, str), ref\n"
        "assert 'compile' not in vars(typing)\n"
        "hints = typing.get_type_hints(cs.IntSchema)\n"
        "assert hints['type'] == typing.Literal['int'], hints\n"
        "from pydantic import BaseModel, ValidationError\n"
        "class M(BaseModel):\n"
        "    n: int\n"
        "assert M(n='3').n == 3\n"
        "try:\n"
        "    M(n='x')\n"
        "except ValidationError as exc:\n"
        "    assert exc.errors()[0]['loc'] == ('n',)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
