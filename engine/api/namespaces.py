"""Namespaces: the tree, namespace files, and the key-value store (``{{ kv('key') }}``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine.api.errors import COMMON_RESPONSES, ApiError, not_found
from engine.api.models import KvValue, NamespaceFile, NamespacePage, SecretPage
from engine.api.services import engine
from engine.service import check_namespace

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


@router.get("", response_model=NamespacePage)
def namespace_tree(request: Request) -> dict[str, Any]:
    """Every namespace that has flows or key-value entries, with its parents, as a flat tree."""
    results = [n.to_dict() for n in engine(request).namespaces()]
    return {"results": results, "total": len(results)}


# --- namespace files -----------------------------------------------------------------------------------


@router.get("/{namespace}/files/directory", response_model=list[NamespaceFile])
def list_files(request: Request, namespace: str, path: str = Query("", max_length=1000, description="Only files under this prefix.")) -> list[dict[str, Any]]:
    """The namespace's files (relative paths, recursively)."""
    return [f.to_dict() for f in engine(request).namespace_files(namespace, path)]


@router.get("/{namespace}/files", responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def get_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> Response:
    """A namespace file's content."""
    return Response(engine(request).read_namespace_file(namespace, path), media_type="application/octet-stream")


@router.api_route("/{namespace}/files", methods=["POST", "PUT"], status_code=201, response_model=NamespaceFile, openapi_extra=FILE_BODY)
async def put_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> dict[str, Any]:
    """Create or replace a namespace file: raw body, or multipart with a ``fileContent`` part (Kestra)."""
    eng = engine(request)
    await run_in_threadpool(lambda: eng.storage)  # 409 before the body is read when there is no storage
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
    return (await run_in_threadpool(eng.write_namespace_file, namespace, path, data)).to_dict()


@router.delete("/{namespace}/files", status_code=204, response_class=Response)
def delete_file(request: Request, namespace: str, path: str = Query(..., min_length=1, max_length=1000)) -> Response:
    engine(request).delete_namespace_file(namespace, path)
    return Response(status_code=204)


# --- key-value store ----------------------------------------------------------------------------------


@router.get("/{namespace}/kv", response_model=list[KvValue])
def list_kv(request: Request, namespace: str) -> list[dict[str, Any]]:
    """Keys of the namespace with their types (values included)."""
    return [e.to_dict() for e in engine(request).kv_list(namespace)]


@router.get("/{namespace}/kv/{key}", response_model=KvValue)
def get_kv(request: Request, namespace: str, key: str) -> dict[str, Any]:
    """One value: ``{"key", "type", "value", "updated"}``."""
    entry = engine(request).kv_get(namespace, key)
    if entry is None:
        raise not_found(f"namespace {namespace} has no key {key!r}")
    return entry.to_dict()


@router.put("/{namespace}/kv/{key}", response_model=KvValue, openapi_extra=KV_BODY)
async def put_kv(request: Request, namespace: str, key: str,
                 ttl: str | None = Header(None, max_length=100, description="ISO-8601 duration after which the value expires (PT1H, P7D).")) -> dict[str, Any]:
    """Set a value: a JSON body (``Content-Type: application/json``) is stored as JSON, anything else as text."""
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
    return (await run_in_threadpool(lambda: engine(request).kv_put(namespace, key, value, ttl=ttl or None))).to_dict()


@router.delete("/{namespace}/kv/{key}", status_code=204, response_class=Response)
def delete_kv(request: Request, namespace: str, key: str) -> Response:
    engine(request).kv_delete(namespace, key)
    return Response(status_code=204)


# --- secrets (names only) -----------------------------------------------------------------------------


@router.get("/{namespace}/secrets", response_model=SecretPage)
def secret_names(request: Request, namespace: str) -> dict[str, Any]:
    """Names of the secrets flows of this namespace can read (its own, its parents', the global ones); never values."""
    results = [{"key": name} for name in engine(request).secret_names(namespace)]
    return {"results": results, "total": len(results)}
