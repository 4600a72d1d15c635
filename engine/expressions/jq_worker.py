"""The process that runs jq programs for :mod:`engine.expressions.jq`.

jq is C code: once a program runs, nothing in the Python process can stop it
(an asynchronous exception only lands between bytecodes) and it can take all
the memory. So programs run here, in a child process the parent kills when a
render's time is up, with its address space capped and an empty
environment (``$ENV`` shows nothing of the server's).

Protocol on stdin/stdout, one request at a time::

    request:  b"<program bytes> <input bytes> <max output chars> <seconds>\\n" + program + input
    reply:    b"OK <n>\\n" + JSON list of results   or   b"ERR <n>\\n" + message

This file imports nothing from Lanner so it starts fast and runs with ``-I``.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from functools import lru_cache

#: Address-space cap of this process (bytes): jq's working memory plus the interpreter's.
MEMORY_LIMIT = 768 * 1024 * 1024


@lru_cache(maxsize=256)
def _compiled(program: str):
    import jq

    return jq.compile(program)


def _run(program: str, data: str, max_output: int) -> tuple[bool, str]:
    try:
        results = _compiled(program).input_text(data).all()
    except ValueError as exc:  # jq reports compile and runtime errors as ValueError
        return False, " ".join(str(exc).split())
    except MemoryError:
        return False, "jq ran out of memory"
    text = json.dumps(results, ensure_ascii=False, separators=(",", ":"))
    if len(text) > max_output:
        return False, f"the jq result would be {len(text):,} characters, over the limit of {max_output:,}"
    return True, text


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    sys.setrecursionlimit(10_000)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            return
        program_len, data_len, max_output, seconds = (int(x) for x in header.split())
        program = stdin.read(program_len).decode("utf-8")
        data = stdin.read(data_len).decode("utf-8")
        # The parent kills this process when a render's time is up; should the parent be gone,
        # SIGALRM's default action ends a program that outlives its time all the same.
        signal.alarm(seconds + 1)
        try:
            ok, text = _run(program, data, max_output)
        except (RecursionError, MemoryError):
            ok, text = False, "the jq result is nested too deeply or too large"
        finally:
            signal.alarm(0)
        body = text.encode("utf-8")
        stdout.write(b"%s %d\n" % (b"OK" if ok else b"ERR", len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    main()
