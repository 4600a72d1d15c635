"""``start_imports`` in a fresh process: pydantic-core's annotations stay text and PyYAML's patterns are compiled
when used, and both libraries work as before."""

from __future__ import annotations

import subprocess
import sys


def test_start_imports_in_a_fresh_process_leaves_pydantic_and_pyyaml_working() -> None:
    code = (
        "import sys, typing, types\n"
        "from engine.model.start_imports import start_imports\n"
        "start_imports()\n"
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
        "import datetime, yaml\n"
        "from engine.model.lazy_patterns import LazyPattern\n"
        "assert isinstance(yaml.reader.Reader.NON_PRINTABLE, LazyPattern)\n"
        "assert yaml.safe_load('a: yes\\nb: 2001-12-14\\nc: 0x1f') == {'a': True, 'b': datetime.date(2001, 12, 14), 'c': 31}\n"
        "assert yaml.safe_dump({'x': 'yes', 'n': '12'}) == \"n: '12'\\nx: 'yes'\\n\"\n"
        "try:\n"
        "    yaml.safe_load('a: \\x07')\n"
        "except yaml.reader.ReaderError as exc:\n"
        "    assert 'special characters are not allowed' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no reader error')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
