"""Reading execution inputs from a request: a JSON object, or a form (multipart for FILE inputs).

Uploaded files are written to a private temporary directory, handed to the
runner (which copies them into internal storage) and removed afterwards. A
FILE input given in JSON must be a ``lanner:///`` URI of the flow's own
namespace: a server-side path is never accepted from a client.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.datastructures import UploadFile

from engine.api.errors import ApiError

if TYPE_CHECKING:
    from engine.model.flow import Flow
from engine.storage import StorageError, parse_uri

MAX_FORM_FILES = 20
MAX_FORM_FIELDS = 500
#: The longest file name most file systems take (bytes of UTF-8).
MAX_NAME_BYTES = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def _error(name: str, message: str) -> ApiError:
    return ApiError(422, message, [{"path": f"inputs.{name}", "message": message, "line": None, "column": None}])


def upload_name(input_id: str, given: str | None) -> str:
    """The name an uploaded file is stored under: its last path component (``/`` or ``\\``), checked.

    A client may send a whole path (old browsers on Windows send ``C:\\dir\\f.csv``):
    only the file's own name is kept. Names with a NUL or control character,
    or longer than a file system allows, are refused with 422.
    """
    name = re.split(r"[/\\]", given or "")[-1].strip()
    if name in ("", ".", ".."):  # no name of its own: the input's id, when that is a plain file name
        return input_id if _PLAIN_NAME.fullmatch(input_id) and input_id not in (".", "..") else "upload"
    if _CONTROL.search(name):
        raise _error(input_id, f"input '{input_id}': the uploaded file's name contains a NUL or control character; rename the file")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise _error(input_id, f"input '{input_id}': the uploaded file's name is {size} bytes long, more than the "
                               f"{MAX_NAME_BYTES} a file name may have; rename the file")
    return name


class RequestInputs:
    """Inputs of one request; use as a context manager so temporary files are removed."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.uploaded: set[str] = set()
        self._tmp: Path | None = None

    def __enter__(self) -> RequestInputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    async def read(self, request: Request) -> RequestInputs:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("", "multipart/form-data", "application/json") and not ctype.endswith("+json"):
            raise ApiError(415, f"send inputs as JSON (Content-Type: application/json) or as multipart/form-data, not {ctype}")
        if ctype == "multipart/form-data":
            form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    self.values[name] = await self._save(name, value)
                    self.uploaded.add(name)
                else:
                    self.values[name] = value
            return self
        raw = await request.body()
        if not raw.strip():
            return self
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(422, "inputs must be a JSON object (Content-Type: application/json) or a multipart form") from None
        if not isinstance(data, dict):
            raise ApiError(422, "inputs must be a JSON object mapping input ids to values")
        self.values = data
        return self

    async def _save(self, name: str, upload: UploadFile) -> str:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="lanner-upload-"))
        filename = upload_name(name, upload.filename)
        folder = self._tmp / str(len(self.uploaded))
        folder.mkdir()
        target = folder / filename
        with target.open("wb") as fh:
            while chunk := await upload.read(1024 * 1024):
                fh.write(chunk)
        return str(target)

    def check_files(self, flow: Flow) -> None:
        """FILE inputs come from an upload or a URI of the flow's namespace; uploads only fill FILE inputs."""
        types = {d.id: d.type for d in flow.inputs or []}
        for name, value in self.values.items():
            kind = types.get(name)
            if name in self.uploaded and kind is not None and kind != "FILE":
                raise _error(name, f"input '{name}' is {kind}, not FILE: send it as a form field, not a file")
            if kind == "FILE" and name not in self.uploaded and value not in (None, ""):
                if not isinstance(value, str):
                    raise _error(name, f"input '{name}': upload the file as multipart/form-data")
                try:
                    uri = parse_uri(value)
                except StorageError:
                    raise _error(name, f"input '{name}': upload the file as multipart/form-data or give a lanner:/// URI") from None
                if uri.namespace != flow.namespace:
                    raise _error(name, f"input '{name}': {value} belongs to namespace {uri.namespace}, not {flow.namespace}")
