"""Namespaces: the tree, namespace files, and the key-value store (``{{ kv('key') }}``)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine.api.errors import COMMON_RESPONSES, ApiError, not_found
from engine.api.models import KvValue, NamespaceFile, NamespacePage
from engine.api.services import Services, services
from engine.model.flow import NAMESPACE_RE
from engine.storage import StorageError
from engine.store.kv import KvError

router = APIRouter(prefix="/api/v1/namespaces", tags=["Namespaces"], responses=COMMON_RESPONSES)

MAX_FILE = 50 * 1024 * 1024
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"fileContent": {"type": "string", "format": "binary"}}}},
        },
    }
}
KV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {}}, "text/plain": {"schema": {"type": "string"}}},
    }
}


def check_namespace(namespace: str) -> str:
    if len(namespace) > 150 or not re.match(NAMESPACE_RE, namespace):
        raise ApiError(422, f"namespace {namespace!r} is invalid: use lowercase dotted names such as company.team",
                       [{"path": "namespace", "message": "invalid namespace", "line": None, "column": None}])
    return namespace


def _storage(svc: Services) -> Any:
    if svc.runner.storage is None:
        raise ApiError(409, "internal storage is not configured")
    return svc.runner.storage


def check_path(path: str) -> str:
    if any(len(part.encode()) > 255 for part in path.split("/")):
        raise ApiError(422, "path: each part of a namespace file path must be at most 255 bytes",
                       [{"path": "path", "message": "a path segment is longer than 255 bytes", "line": None, "column": None}])
    return path


def _storage_error(exc: StorageError | OSError, field: str = "path") -> ApiError:
    if isinstance(exc, OSError):
        message = f"{field}: the file cannot be stored ({exc.strerror or exc})"
        return ApiError(422, message, [{"path": field, "message": message, "line": None, "column": None}])
    message = str(exc)
    if "has no file" in message or "does not exist" in message:
        return not_found(message)
    return ApiError(422, message, [{"path": field, "message": message, "line": None, "column": None}])


@router.get("", response_model=NamespacePage)
def namespace_tree(request: Request) -> dict[str, Any]:
    """Every namespace that has flows or key-value entries, with its parents, as a flat tree."""
    svc = services(request)
    counts: dict[str, int] = {}
    for rec in svc.runner.store.list_flows():
        counts[rec.namespace] = counts.get(rec.namespace, 0) + 1
    names = set(counts) | set(svc.kv.namespaces())
    for name in list(names):
        parts = name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts)))
    results = [{"id": n, "parent": n.rpartition(".")[0] or None, "flowCount": counts.get(n, 0)} for n in sorted(names)]
    return {"results": results, "total": len(results)}


# --- namespace files -----------------------------------------------------------------------------------


@router.get("/{namespace}/files/directory", response_model=list[NamespaceFile])
def list_files(request: Request, namespace: str, path: str = Query("", max_length=1000, description="Only files under this prefix.")) -> list[dict[str, Any]]:
    """The namespace's files (relative paths, recursively)."""
    storage = _storage(services(request))
    check_namespace(namespace)
    try:
        names = storage.namespace_files_list(namespace, path)
        return [{"path": n, "size": storage.namespace_files_size(namespace, n)} for n in names]
    except (StorageError, OSError) as exc:
        raise _storage_error(exc) from None


@router.get("/{namespace}/files", responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def get_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> Response:
    """A namespace file's content."""
    storage = _storage(services(request))
    check_namespace(namespace)
    try:
        data = storage.namespace_files_get(namespace, path)
    except (StorageError, OSError) as exc:
        raise _storage_error(exc) from None
    return Response(data, media_type="application/octet-stream")


@router.api_route("/{namespace}/files", methods=["POST", "PUT"], status_code=201, response_model=NamespaceFile, openapi_extra=FILE_BODY)
async def put_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> dict[str, Any]:
    """Create or replace a namespace file: raw body, or multipart with a ``fileContent`` part (Kestra)."""
    storage = _storage(services(request))
    check_namespace(namespace)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("fileContent")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "the multipart body needs a file part named fileContent", [{"path": "fileContent", "message": "is required", "line": None, "column": None}])
        data = await upload.read()
    else:
        data = await request.body()
    if len(data) > MAX_FILE:
        raise ApiError(413, "namespace files are limited to 50 MiB")
    check_path(path)
    try:
        rel = await run_in_threadpool(storage.namespace_files_put, namespace, path, data)
    except (StorageError, OSError) as exc:
        raise _storage_error(exc) from None
    return {"path": rel, "size": len(data)}


@router.delete("/{namespace}/files", status_code=204, response_class=Response)
def delete_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> Response:
    storage = _storage(services(request))
    check_namespace(namespace)
    try:
        storage.namespace_files_delete(namespace, path)
    except (StorageError, OSError) as exc:
        raise _storage_error(exc) from None
    return Response(status_code=204)


# --- key-value store ----------------------------------------------------------------------------------


def _kv_error(exc: KvError) -> ApiError:
    return ApiError(422, str(exc), [{"path": "key", "message": str(exc), "line": None, "column": None}])


@router.get("/{namespace}/kv", response_model=list[KvValue])
def list_kv(request: Request, namespace: str) -> list[dict[str, Any]]:
    """Keys of the namespace with their types (values included)."""
    svc = services(request)
    check_namespace(namespace)
    return [svc.mask(e.to_dict()) for e in svc.kv.list(namespace)]


@router.get("/{namespace}/kv/{key}", response_model=KvValue)
def get_kv(request: Request, namespace: str, key: str) -> dict[str, Any]:
    """One value: ``{"key", "type", "value", "updated"}``."""
    svc = services(request)
    check_namespace(namespace)
    try:
        entry = svc.kv.get(namespace, key)
    except KvError as exc:
        raise _kv_error(exc) from None
    if entry is None:
        raise not_found(f"namespace {namespace} has no key {key!r}")
    return svc.mask(entry.to_dict())


@router.put("/{namespace}/kv/{key}", response_model=KvValue, openapi_extra=KV_BODY)
async def put_kv(request: Request, namespace: str, key: str) -> dict[str, Any]:
    """Set a value: a JSON body (``Content-Type: application/json``) is stored as JSON, anything else as text."""
    svc = services(request)
    check_namespace(namespace)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "the value must be UTF-8 text or JSON") from None
    if "json" in request.headers.get("content-type", "").lower():
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ApiError(422, f"the value is not valid JSON: {exc.msg} (line {exc.lineno})", [{"path": "body", "message": exc.msg, "line": exc.lineno, "column": exc.colno}]) from None
    else:
        value = text
    try:
        entry = await run_in_threadpool(svc.kv.put, namespace, key, value)
    except KvError as exc:
        raise _kv_error(exc) from None
    return svc.mask(entry.to_dict())


@router.delete("/{namespace}/kv/{key}", status_code=204, response_class=Response)
def delete_kv(request: Request, namespace: str, key: str) -> Response:
    svc = services(request)
    check_namespace(namespace)
    try:
        if not svc.kv.delete(namespace, key):
            raise not_found(f"namespace {namespace} has no key {key!r}")
    except KvError as exc:
        raise _kv_error(exc) from None
    return Response(status_code=204)
