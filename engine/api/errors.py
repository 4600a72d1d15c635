"""Error bodies: ``{"message": "...", "errors": [{"path", "message", "line", "column"}]}``.

Every refusal is one sentence naming the field and the reason; no traceback
ever reaches a client (unexpected errors answer 500 with a generic message and
are logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.model.inputs import InputError
from engine.model.validation import FlowValidationError
from engine.service import EngineError

log = logging.getLogger("lanner.api")


class ErrorItem(BaseModel):
    path: str | None = None
    message: str
    line: int | None = None
    column: int | None = None


class ErrorBody(BaseModel):
    message: str
    errors: list[ErrorItem] | None = None


class ApiError(Exception):
    """Raise to answer ``status`` with an error body."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def body(message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message}
    if errors is not None:
        out["errors"] = errors
    return out


#: Documented on every route so the OpenAPI spec matches what the server answers.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request (e.g. a body that is not JSON)"},
    401: {"model": ErrorBody, "description": "Authentication required"},
    404: {"model": ErrorBody, "description": "Not found"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {"model": ErrorBody, "description": "Invalid request; errors name each field"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "Not allowed in the current state"}}


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def input_errors(exc: InputError) -> ApiError:
    """422 naming every refused input (``inputs.<id>``)."""
    messages = [e.message for e in exc.errors]
    errors: list[dict[str, Any]] = [{"path": f"inputs.{e.input_id}" if e.input_id else "inputs", "message": e.message, "line": None, "column": None} for e in exc.errors]
    return ApiError(422, messages[0] if len(messages) == 1 else f"{len(messages)} inputs are invalid: " + "; ".join(messages), errors)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.message, exc.errors), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(EngineError)
    async def _engine_error(_: Request, exc: EngineError) -> JSONResponse:
        errors = [e.to_dict() for e in exc.errors] if exc.errors is not None else None
        return JSONResponse(body(exc.message, errors), status_code=exc.status)

    @app.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        refused = input_errors(exc)
        return JSONResponse(body(refused.message, refused.errors), status_code=422)

    @app.exception_handler(FlowValidationError)
    async def _invalid_flow(_: Request, exc: FlowValidationError) -> JSONResponse:
        return JSONResponse(body(f"the flow is invalid: {exc.errors[0]}", [e.to_dict() for e in exc.errors]), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        for e in exc.errors():
            loc = tuple(e.get("loc") or ())
            where = loc[0] if loc else "request"
            msg = str(e.get("msg", "is invalid"))
            errors.append({"path": _loc(loc), "message": f"{where} parameter '{_loc(loc)}': {msg}", "line": None, "column": None})
        first = errors[0]["message"] if errors else "the request is invalid"
        return JSONResponse(body(first, errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(body(message), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(body(f"internal error ({type(exc).__name__}); see the server log"), status_code=500)
