"""Kestra's ``dependencies`` (1.x): the Python packages a script needs, in a cached virtual environment.

A Python task that lists ``dependencies`` runs in a virtual environment that
holds exactly them, built once per dependency list, package manager and
interpreter (the environment's name is a hash of those) under
``$LANNER_HOME/venvs`` and reused by every task and execution that asks for the
same list. It is built with uv (pinned in Lanner's lock; ``packageManager: PIP``
uses ``python -m venv`` and pip instead), under a file lock, so two tasks that
need the same environment at the same time (threads, processes, machines sharing
the home) never build it twice: the second waits and reuses it. The
installer's output goes to the task's logs; a package that cannot be installed
fails the attempt with the installer's own sentence. uv and pip read their usual
settings from the environment (``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_OFFLINE``,
``PIP_INDEX_URL``...), so a private index or an offline machine works as usual.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Literal

from engine.sdk import RunContext, TaskFailed, run_process

#: Bumped when the layout of an environment changes (old ones are then rebuilt under new names).
LAYOUT = 1
#: The file that says an environment was built completely.
READY = ".lanner-venv"
PackageManager = Literal["UV", "PIP"]


def clean(dependencies: list[str]) -> list[str]:
    """The dependency list as installed: blank entries dropped, each stripped; options are refused."""
    out = []
    for dep in dependencies:
        text = str(dep).strip()
        if not text:
            continue
        if text.startswith("-"):
            raise ValueError(f"dependency {text!r} is an installer option, not a package: list requirements such as pandas>=2")
        out.append(text)
    return out


def environment_name(dependencies: list[str], manager: PackageManager, extra: tuple[str, ...] = ()) -> str:
    """The cache key of an environment: the dependency list, the package manager and Lanner's interpreter."""
    identity = {
        "layout": LAYOUT,
        "python": sys.version,
        "interpreter": os.path.realpath(sys.executable),
        "manager": manager,
        "dependencies": dependencies,
        "extra": list(extra),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def venvs_root(ctx: RunContext) -> Path:
    return Path(ctx.home if ctx.home is not None else os.environ.get("LANNER_HOME", ".lanner")).resolve() / "venvs"


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def is_dependency_env_python(interpreter: str) -> bool:
    """Whether ``interpreter`` is the Python of a complete dependency environment (a fork server may run it)."""
    return (Path(interpreter).parent.parent / READY).is_file()


def ensure(
    ctx: RunContext, dependencies: list[str], manager: PackageManager, extra: tuple[str, ...] = (), *, scratch: Path | None = None
) -> Path:
    """The directory of the environment with ``dependencies`` (and ``extra``), built first if needed.

    With ``scratch`` (``dependencyCacheEnabled: false``) a throwaway environment is built in that folder.
    """
    deps = clean(dependencies)
    root = venvs_root(ctx)
    if scratch is not None:
        env = Path(tempfile.mkdtemp(prefix=".lanner-venv-", dir=scratch))
        ctx.logger.info(f"installing {', '.join([*deps, *extra])} into a throwaway virtual environment ({manager.lower()})")
        shutil.rmtree(env)
        _build(ctx, env, deps + list(extra), manager, root)
        (env / READY).write_text("{}")
        return env
    env = root / environment_name(deps, manager, extra)
    if (env / READY).is_file():
        ctx.logger.debug(f"reusing the virtual environment {env.name} ({', '.join(deps)})")
        return env
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{env.name}.lock", "w") as lock:
        _acquire(ctx, lock)
        try:
            if (env / READY).is_file():  # built meanwhile by the task that held the lock
                ctx.logger.debug(f"reusing the virtual environment {env.name}, built meanwhile by another task")
                return env
            shutil.rmtree(env, ignore_errors=True)  # what a build that died left behind
            started = time.monotonic()
            ctx.logger.info(f"installing {', '.join([*deps, *extra])} into a new virtual environment ({manager.lower()})")
            try:
                _build(ctx, env, deps + list(extra), manager, root)
            except BaseException:
                shutil.rmtree(env, ignore_errors=True)
                raise
            (env / READY).write_text(json.dumps({"dependencies": deps, "extra": list(extra), "manager": manager,
                                                 "python": sys.version.split()[0]}))
            ctx.logger.info(f"virtual environment {env.name} ready in {time.monotonic() - started:.1f}s; "
                            "tasks with the same dependencies reuse it")
            return env
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _acquire(ctx: RunContext, lock: IO[str] | IO[bytes]) -> None:
    """Take the environment's lock, waiting (a kill or timeout of the task stops the wait)."""
    waited = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not waited:
                ctx.logger.info("another task is building this virtual environment: waiting for it")
                waited = True
            if ctx.wait(0.2):
                ctx.raise_if_killed()


def _uv() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise TaskFailed("uv is not installed: reinstall Lanner (make install) or use packageManager: PIP") from None
        return found


def _build(ctx: RunContext, env: Path, packages: list[str], manager: PackageManager, root: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LANNER_SECRET") and k != "VIRTUAL_ENV"}
    if manager == "UV":
        uv = _uv()
        base["UV_NO_PROGRESS"] = "1"
        _run(ctx, [uv, "venv", str(env), "--python", sys.executable, "--no-project"], base, "uv")
        _run(ctx, [uv, "pip", "install", "--python", str(python_of(env)), *packages], base, "uv")
    else:
        _run(ctx, [sys.executable, "-m", "venv", str(env)], base, "python -m venv")
        _run(ctx, [str(python_of(env)), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *packages], base, "pip")


def _run(ctx: RunContext, argv: list[str], env: dict[str, str], tool: str) -> None:
    errors: list[str] = []

    def on_line(stream: str, line: str) -> None:
        ctx.logger.info(line)
        if stream == "stderr" and line.strip():
            errors.append(line.strip())

    result = run_process(argv, cwd=Path(argv[0]).parent if os.path.isabs(argv[0]) else Path.cwd(), env=env,
                         timeout=ctx.timeout, kill_event=ctx.kill_event, on_line=on_line)
    if result.killed or result.timed_out:
        ctx.raise_if_killed()
        raise TaskFailed(f"{tool} was stopped before the dependencies were installed")
    if result.exit_code != 0:
        raise TaskFailed(f"the dependencies could not be installed ({tool}): {_reason(errors)}")


def _reason(lines: list[str]) -> str:
    """The installer's own explanation: from its first error line on (uv's "×", pip's "ERROR:"), as one sentence."""
    start = next((i for i, line in enumerate(lines) if line.startswith(("×", "error:", "ERROR:"))), max(0, len(lines) - 3))
    text = " ".join(line.lstrip("×╰─▶│ ").strip() for line in lines[start:start + 6])
    return text[:1000] or "the installer failed without a message"
