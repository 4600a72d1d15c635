"""The expression functions that need the runtime: secrets, KV, files in storage, logs, task states.

The runner builds them once per namespace and passes them to every render.
Functions marked with ``pass_context`` (Jinja's, without importing Jinja) receive the template's
variables first (``execution.id``, ``flow`` ...), so one set serves every
execution of the namespace. Each is bounded: files are looked up by size, never read whole,
and every path goes through storage's namespace isolation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from engine.expressions.lite import pass_context
from engine.storage import (
    NSFILE_SCHEME,
    InternalStorage,
    StorageError,
    is_storage_uri,
    normalize_uri,
    resolve_nsfile,
    safe_relative_path,
)

if TYPE_CHECKING:
    from jinja2.runtime import Context

Function = Callable[..., Any]


def _context_function(fn: Function) -> Function:
    """Jinja passes the template's variables first (``execution.id`` ...)."""
    return pass_context(fn)


def _execution_id(context: Context) -> str:
    execution = context.get("execution")
    return str(execution.get("id")) if isinstance(execution, Mapping) else ""


def file_functions(storage: InternalStorage, namespace: str) -> dict[str, Function]:
    """``fileURI``, ``fileSize``, ``fileExists``, ``isFileEmpty`` (alias ``fileEmpty``)."""

    def where(path: object, what: str) -> tuple[str, str]:
        """('uri', lanner URI) for an internal-storage file, ('ns', relative path) for a namespace file."""
        ref = str(path)
        if is_storage_uri(ref):
            return "uri", normalize_uri(ref)
        if ref.startswith(NSFILE_SCHEME):
            return "ns", resolve_nsfile(ref, namespace)
        if "://" in ref:
            raise StorageError(f"{what}(): {ref!r} is neither a lanner:/// URI nor a namespace file")
        return "ns", safe_relative_path(ref, f"{what}() path")

    def size(path: object, what: str) -> int | None:
        kind, ref = where(path, what)
        if kind == "uri":
            return storage.size(ref, namespace) if storage.exists(ref, namespace) else None
        try:
            return storage.namespace_files_size(namespace, ref)
        except (StorageError, FileNotFoundError):
            return None

    def file_uri(path: object = None) -> str:
        kind, ref = where(path, "fileURI")
        if kind == "uri":
            return ref
        if size(path, "fileURI") is None:
            raise StorageError(f"fileURI(): namespace {namespace!r} has no file {ref!r}")
        return f"{NSFILE_SCHEME}/{ref}"

    def file_size(path: object = None) -> int:
        found = size(path, "fileSize")
        if found is None:
            raise StorageError(f"fileSize(): {path!r} does not exist")
        return found

    def file_exists(path: object = None) -> bool:
        return size(path, "fileExists") is not None

    def is_file_empty(path: object = None) -> bool:
        found = size(path, "isFileEmpty")
        if found is None:
            raise StorageError(f"isFileEmpty(): {path!r} does not exist")
        return found == 0

    return {
        "fileURI": file_uri,
        "fileSize": file_size,
        "fileExists": file_exists,
        "isFileEmpty": is_file_empty,
        "fileEmpty": is_file_empty,
    }


def error_logs_function(
    error_logs: Callable[[str], list[dict[str, Any]]], task_runs: Callable[[str], Iterable[Any]] | None = None
) -> Function:
    """``errorLogs()``: the ERROR lines of the current execution, oldest first.

    A failed attempt's error counts as one (Kestra logs it at ERROR), also when
    the task wrote no log line of its own.
    """

    @_context_function
    def error_logs_of(context: Context) -> list[dict[str, Any]]:
        execution_id = _execution_id(context)
        found = [
            {
                "executionId": execution_id,
                "taskId": row.get("taskId"),
                "taskRunId": row.get("taskRunId"),
                "attemptNumber": row.get("attempt"),
                "timestamp": row.get("timestamp"),
                "level": row.get("level"),
                "message": row.get("message"),
            }
            for row in error_logs(execution_id)
        ]
        logged = {(e["taskRunId"], e["message"]) for e in found}
        for tr in task_runs(execution_id) if task_runs is not None else ():
            for number, attempt in enumerate(tr.attempts):
                if str(attempt.state) == "FAILED" and attempt.message and (tr.id, attempt.message) not in logged:
                    found.append({
                        "executionId": execution_id, "taskId": tr.task_id, "taskRunId": tr.id, "attemptNumber": number,
                        "timestamp": attempt.end_date, "level": "ERROR", "message": attempt.message,
                    })  # fmt: skip
        return sorted(found, key=lambda e: e["timestamp"] or "")

    return error_logs_of


def tasks_with_state_function(task_runs: Callable[[str], Iterable[Any]]) -> Function:
    """``tasksWithState('FAILED')``: ``[{taskId, state[, value]}]`` of the task runs in that state."""

    @_context_function
    def tasks_with_state(context: Context, state: object = None) -> list[dict[str, Any]]:
        if not isinstance(state, str) or not state:
            raise ValueError("tasksWithState() expects a state, like tasksWithState('FAILED')")
        wanted = state.upper()
        found = []
        for tr in task_runs(_execution_id(context)):
            if str(tr.state).upper() == wanted:
                item = {"taskId": tr.task_id, "state": wanted}
                if tr.value is not None:
                    item["value"] = tr.value
                found.append(item)
        return found

    return tasks_with_state


def runtime_functions(
    namespace: str,
    *,
    secret: Function,
    storage: InternalStorage | None = None,
    kv: Function | None = None,
    error_logs: Callable[[str], list[dict[str, Any]]] | None = None,
    task_runs: Callable[[str], Iterable[Any]] | None = None,
) -> dict[str, Function]:
    """Every runtime function a render of ``namespace`` gets (those whose service is available)."""
    functions: dict[str, Function] = {"secret": secret}
    if storage is not None:
        functions["read"] = storage.make_read_function(namespace)
        functions.update(file_functions(storage, namespace))
    if kv is not None:
        functions["kv"] = kv
    if error_logs is not None:
        functions["errorLogs"] = error_logs_function(error_logs, task_runs)
    if task_runs is not None:
        functions["tasksWithState"] = tasks_with_state_function(task_runs)
    return functions
