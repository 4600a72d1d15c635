"""The process that runs jq programs for :mod:`engine.expressions.jq`.

jq is C code: once a program runs, nothing in the Python process can stop it
(an asynchronous exception only lands between bytecodes) and it can take all
the memory. So programs run here, in a child process with its address space
capped and an empty environment (``$ENV`` shows nothing of the server's).
A program may use the CPU time the render has left: a profiling timer
(``ITIMER_PROF``, which counts this process's CPU time, not the wall clock)
delivers ``SIGPROF``, whose default action ends the process mid-program, so a
busy machine does not cut a legitimate program short and an endless one ends
even when no parent is left to kill it.

Protocol on stdin/stdout, one request at a time::

    request:  b"<program bytes> <input bytes> <max output chars> <CPU milliseconds>\\n" + program + input
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
        program_len, data_len, max_output, millis = (int(x) for x in header.split())
        program = stdin.read(program_len).decode("utf-8")
        data = stdin.read(data_len).decode("utf-8")
        # SIGPROF's default action ends this process once the program used its CPU time
        # (the parent reports that as the render's timeout).
        signal.setitimer(signal.ITIMER_PROF, max(millis, 1) / 1000)
        try:
            ok, text = _run(program, data, max_output)
        except (RecursionError, MemoryError):
            ok, text = False, "the jq result is nested too deeply or too large"
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        body = text.encode("utf-8")
        stdout.write(b"%s %d\n" % (b"OK" if ok else b"ERR", len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    main()
