"""Building the email: addresses, plain and HTML bodies, attachments and inline images from internal storage."""

from __future__ import annotations

import json
import mimetypes
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import Any

from engine.sdk import NSFILE_SCHEME, Field, LannerModel, RunContext, StorageError, TaskFailed, resolve_nsfile

#: Kestra's plain-text body when only HTML is given.
DEFAULT_PLAIN_TEXT = "Please view this email in a modern email client"


class Attachment(LannerModel):
    """A file of internal storage sent with the email (Kestra's attachment)."""

    uri: str = Field(min_length=1, description="The file: a lanner:/// URI (a task's output file, a FILE input) or nsfile:///path.")
    name: str = Field(min_length=1, description="File name shown in the email, e.g. report.xlsx.")
    content_type: str = Field(default="application/octet-stream", description="MIME type, e.g. text/csv.")


def addresses(value: Any, field: str) -> list[str]:
    """Kestra's recipient list: ``a@x; b@y`` (commas work too) or a YAML list; each RFC 2822, checked."""
    items = value if isinstance(value, list) else str(value or "").replace(";", ",").split(",")
    out = []
    for raw in items:
        text = str(raw).strip()
        if not text:
            continue
        parsed = getaddresses([text])
        if len(parsed) != 1 or "@" not in parsed[0][1] or " " in parsed[0][1]:
            raise TaskFailed(f"{field}: {text!r} is not an email address")
        out.append(text)
    return out


def attachments(ctx: RunContext, value: Any, field: str) -> list[Attachment]:
    """``attachments`` as Kestra accepts it: a list of maps, or JSON text of a list or of one map."""
    rendered = ctx.render(value)
    if rendered in (None, "", []):
        return []
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except json.JSONDecodeError as exc:
            raise TaskFailed(f"{field} is not a list of attachments nor its JSON text: {exc.msg}") from None
    if isinstance(rendered, dict):
        rendered = [rendered]
    if not isinstance(rendered, list):
        raise TaskFailed(f"{field} must be a list of {{uri, name, contentType}}, not {type(rendered).__name__}")
    out = []
    for i, item in enumerate(rendered):
        try:  # an Attachment parsed at validation still holds its expressions: its fields are rendered too
            out.append(Attachment.model_validate(ctx.render(item.to_data() if isinstance(item, LannerModel) else item)))
        except ValueError as exc:
            first = getattr(exc, "errors", lambda: [{}])()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "item"
            raise TaskFailed(f"{field}[{i}].{where}: {first.get('msg', exc)}") from None
    return out


def build_message(
    ctx: RunContext,
    *,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str | None,
    html: str | None,
    plain: str | None,
    files: list[Attachment],
    images: list[Attachment],
) -> EmailMessage:
    """The MIME message: text and HTML as alternatives, images inline (``cid:<name>``), files attached."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if subject:
        msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    msg.set_content(plain if plain is not None else DEFAULT_PLAIN_TEXT)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        if images:
            html_part = msg.get_payload()[-1]
            for image in images:
                maintype, subtype = _mime(image)
                html_part.add_related(_read(ctx, image), maintype=maintype, subtype=subtype, cid=f"<{image.name}>",
                                      filename=image.name, disposition="inline")
    for item in files:
        maintype, subtype = _mime(item)
        msg.add_attachment(_read(ctx, item), maintype=maintype, subtype=subtype, filename=item.name)
    return msg


def _read(ctx: RunContext, item: Attachment) -> bytes:
    uri = str(ctx.render(item.uri)).strip()
    try:
        if uri.startswith(NSFILE_SCHEME):
            return ctx.storage.namespace_files_get(ctx.namespace, resolve_nsfile(uri, ctx.namespace))
        return ctx.storage.read_bytes(uri, namespace=ctx.namespace)
    except (StorageError, OSError) as exc:
        raise TaskFailed(f"attachment {item.name!r}: cannot read {uri}: {exc}") from None


def _mime(item: Attachment) -> tuple[str, str]:
    ctype = item.content_type or mimetypes.guess_type(item.name)[0] or "application/octet-stream"
    maintype, _, subtype = ctype.partition("/")
    if not maintype or not subtype:
        raise TaskFailed(f"attachment {item.name!r}: contentType {ctype!r} is not a MIME type such as text/csv")
    return maintype.strip(), subtype.split(";", 1)[0].strip()


def _domain(sender: str) -> str | None:
    try:
        return Address(addr_spec=getaddresses([sender])[0][1]).domain or None
    except (ValueError, IndexError):
        return None
