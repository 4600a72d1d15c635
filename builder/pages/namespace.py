"""Namespace page (``/ui/namespace?ns=company.team``): its files, its key-value entries and its secret names.

Namespace files are what flows read with ``nsfile:///``, ``namespaceFiles`` or ``read()``:
listed with their sizes, viewed and edited in place when they are text, uploaded, created
and deleted (after a confirmation). KV entries are set with a type and an optional expiry
(``ttl``) and deleted. Secrets show by name only, with where a value is set: a value never
reaches the browser.
"""

from __future__ import annotations

import json
import re
from typing import Any

from builder.pages.common import arg, esc, html_pane, shell, url
from builder.services import Services
from builder.services_assist import Problem

KV_TYPES = ("STRING", "NUMBER", "BOOLEAN", "JSON")
_LANGUAGES = {".py": "python", ".sql": "sql", ".sh": "sh", ".yaml": "yaml", ".yml": "yaml", ".json": "json",
              ".md": "markdown", ".ipynb": "json", ".csv": "text", ".txt": "text", ".html": "html"}
#: Text files above this size open read-only (the browser editor is not meant for big data files).
EDIT_LIMIT = 512 * 1024


def kv_value(kind: str, text: str) -> Any:
    """The value typed in the form as the KV type says; ValueError with a sentence naming the field."""
    if kind == "STRING":
        return text
    if kind == "NUMBER":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"value: {text!r} is not a number") from None
        return int(number) if number.is_integer() and re.fullmatch(r"\s*-?\d+\s*", text) else number
    if kind == "BOOLEAN":
        if text.strip().lower() not in ("true", "false"):
            raise ValueError("value: a BOOLEAN is true or false")
        return text.strip().lower() == "true"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"value: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 120 else text[:120] + "…"


class NamespacePage:
    def __init__(self, services: Services, namespace: str):
        import panel as pn

        self.services = services
        self.ns = namespace
        self.message = html_pane("", css_classes=["ln-ns-message"])
        # files
        self.files = pn.Column(sizing_mode="stretch_width", css_classes=["ln-ns-files"])
        self.pending_delete = ""
        self.upload = pn.widgets.FileInput(css_classes=["ln-ns-upload"])
        self.upload_dir = pn.widgets.TextInput(name="Into folder (optional)", placeholder="scripts", width=200,
                                               css_classes=["ln-ns-upload-dir"])
        self.upload_button = pn.widgets.Button(name="Upload", button_type="primary", align="end",
                                               css_classes=["ln-ns-upload-button"])
        self.upload_button.on_click(self.do_upload)
        self.new_path = pn.widgets.TextInput(name="New file", placeholder="scripts/clean.py", width=260,
                                             css_classes=["ln-ns-new-path"])
        self.create_button = pn.widgets.Button(name="Create", css_classes=["ln-ns-create"], align="end")
        self.create_button.on_click(lambda _e: self.open_file((self.new_path.value_input or self.new_path.value or "").strip(),
                                                  new=True))
        self.editor_box = pn.Column(sizing_mode="stretch_width", css_classes=["ln-ns-editor"])
        # key-value store
        self.kv = pn.Column(sizing_mode="stretch_width", css_classes=["ln-kv-list"])
        self.kv_key = pn.widgets.TextInput(name="Key", placeholder="last_run", width=180, css_classes=["ln-kv-key"])
        self.kv_type = pn.widgets.Select(name="Type", options=list(KV_TYPES), value="STRING", width=110,
                                         css_classes=["ln-kv-type"])
        self.kv_value = pn.widgets.TextAreaInput(name="Value", height=70, sizing_mode="stretch_width",
                                                 css_classes=["ln-kv-value"])
        self.kv_ttl = pn.widgets.TextInput(name="Expires after (ISO-8601, optional)", placeholder="P7D or PT1H",
                                           width=220, css_classes=["ln-kv-ttl"])
        kv_set = pn.widgets.Button(name="Set", button_type="primary", css_classes=["ln-kv-set"], align="end")
        kv_set.on_click(self.do_kv_set)
        self.kv_form = pn.Row(self.kv_key, self.kv_type, self.kv_value, self.kv_ttl, kv_set,
                              sizing_mode="stretch_width")
        self.secrets = html_pane("", css_classes=["ln-secrets"])
        self.refresh()

    # --- files --------------------------------------------------------------------------------------

    def refresh_files(self) -> None:
        import panel as pn

        rows: list[Any] = []
        for f in self.services.namespace_files(self.ns):
            path = f["path"]
            link = html_pane(f"<code class='ln-ns-file' data-path='{esc(path)}'>{esc(path)}</code> "
                             f"<span class='ln-muted'>{f.get('size') or 0} bytes</span>", width=420)
            open_button = pn.widgets.Button(name="Open", width=70, css_classes=["ln-ns-open"])
            open_button.on_click(lambda _e, p=path: self.open_file(p))
            if self.pending_delete == path:
                sure = pn.widgets.Button(name="Delete it", button_type="danger", width=90,
                                         css_classes=["ln-ns-delete-confirm"])
                keep = pn.widgets.Button(name="Keep", width=70, css_classes=["ln-ns-delete-cancel"])
                sure.on_click(lambda _e, p=path: self.delete_file(p))
                keep.on_click(lambda _e: self.ask_delete(""))
                rows.append(pn.Row(link, open_button, html_pane(f"<span class='ln-error'>Delete {esc(path)}? Flows "
                                                               "reading it will fail.</span>", width=240),
                                   sure, keep, css_classes=["ln-ns-file-row"]))
                continue
            delete = pn.widgets.Button(name="Delete", button_type="danger", button_style="outline", width=80,
                                       css_classes=["ln-ns-delete"])
            delete.on_click(lambda _e, p=path: self.ask_delete(p))
            rows.append(pn.Row(link, open_button, delete, css_classes=["ln-ns-file-row"]))
        if not rows:
            rows.append(html_pane("<p class='ln-muted'>No file in this namespace yet: upload one or create one.</p>"))
        self.files.objects = rows

    def ask_delete(self, path: str) -> None:
        self.pending_delete = path
        self.refresh_files()

    def delete_file(self, path: str) -> None:
        self.pending_delete = ""
        try:
            self.services.delete_namespace_file(self.ns, path)
        except Problem as exc:
            return self.say(str(exc), error=True)
        self.editor_box.objects = []
        self.say(f"Deleted {path}.")
        self.refresh_files()

    def do_upload(self, _event: Any = None) -> None:
        if not self.upload.value or not self.upload.filename:
            return self.say("Choose a file to upload first.", error=True)
        folder = (self.upload_dir.value_input or self.upload_dir.value or "").strip().strip("/")
        path = f"{folder}/{self.upload.filename}" if folder else self.upload.filename
        try:
            self.services.write_namespace_file(self.ns, path, self.upload.value)
        except Problem as exc:
            return self.say(f"Not uploaded: {exc}", error=True)
        self.say(f"Uploaded {path} ({len(self.upload.value)} bytes).")
        self.refresh_files()

    def open_file(self, path: str, new: bool = False) -> None:
        import panel as pn

        if not path:
            return self.say("New file: type the file's path first (for example scripts/clean.py).", error=True)
        data = b""
        if not new:
            try:
                data = self.services.read_namespace_file(self.ns, path)
            except Problem as exc:
                return self.say(str(exc), error=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.editor_box.objects = [html_pane(f"<p class='ln-muted ln-ns-binary'><b>{esc(path)}</b> is a binary "
                                                 f"file ({len(data)} bytes): it cannot be edited here.</p>")]
            return None
        suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
        editor = pn.widgets.CodeEditor(value=text, language=_LANGUAGES.get(suffix, "text"), height=320,
                                       sizing_mode="stretch_width", readonly=len(data) > EDIT_LIMIT,
                                       css_classes=["ln-ns-code"])
        save = pn.widgets.Button(name="Save file", button_type="primary", width=110, css_classes=["ln-ns-save"],
                                 disabled=len(data) > EDIT_LIMIT)
        close = pn.widgets.Button(name="Close", width=80, css_classes=["ln-ns-close"])

        def do_save(_e: Any) -> None:
            content = editor.value_input if editor.value_input is not None else editor.value
            try:
                self.services.write_namespace_file(self.ns, path, (content or "").encode())
            except Problem as exc:
                return self.say(f"Not saved: {exc}", error=True)
            self.say(f"Saved {path}.")
            self.refresh_files()

        save.on_click(do_save)
        close.on_click(lambda _e: setattr(self.editor_box, "objects", []))
        title = html_pane(f"<b class='ln-ns-editing'>{esc(path)}</b>" + (" <span class='ln-muted'>(new)</span>"
                                                                          if new else ""))
        self.editor_box.objects = [pn.Row(title, save, close, sizing_mode="stretch_width"), editor]

    # --- key-value store ----------------------------------------------------------------------------

    def refresh_kv(self) -> None:
        import panel as pn

        rows: list[Any] = [html_pane("<table class='ln-table'><tr><th style='width:22%'>Key</th><th style='width:10%'>"
                                     "Type</th><th style='width:38%'>Value</th><th>Expires</th></tr></table>")]
        for e in self.services.kv_entries(self.ns):
            cells = html_pane(f"<table class='ln-table'><tr class='ln-kv-row' data-key='{esc(e['key'])}'>"
                              f"<td style='width:22%'><code>{esc(e['key'])}</code></td>"
                              f"<td style='width:10%'>{esc(e['type'])}</td>"
                              f"<td style='width:38%' class='ln-kv-shown'>{esc(_shown(e.get('value')))}</td>"
                              f"<td class='ln-kv-expires'>{esc(e.get('expirationDate') or 'never')}</td></tr></table>")
            delete = pn.widgets.Button(name="Delete", button_type="danger", button_style="outline", width=80,
                                       css_classes=["ln-kv-delete"])
            delete.on_click(lambda _e, k=e["key"]: self.do_kv_delete(k))
            rows.append(pn.Row(cells, delete, sizing_mode="stretch_width"))
        if len(rows) == 1:
            rows.append(html_pane("<p class='ln-muted'>No key in this namespace yet. Flows read keys with "
                                  "<code>{{ kv('key') }}</code> and write them with the KV Set task.</p>"))
        self.kv.objects = rows

    def do_kv_set(self, _event: Any = None) -> None:
        key = (self.kv_key.value_input or self.kv_key.value or "").strip()
        text = self.kv_value.value_input if self.kv_value.value_input is not None else self.kv_value.value
        if not key:
            return self.say("key: type the key to set.", error=True)
        try:
            value = kv_value(self.kv_type.value, text or "")
            self.services.kv_set(self.ns, key, value, (self.kv_ttl.value_input or self.kv_ttl.value or "").strip())
        except (ValueError, Problem) as exc:
            return self.say(f"Key {key} not set: {exc}", error=True)
        self.say(f"Set {key}.")
        self.refresh_kv()

    def do_kv_delete(self, key: str) -> None:
        try:
            self.services.kv_delete(self.ns, key)
        except Problem as exc:
            return self.say(str(exc), error=True)
        self.say(f"Deleted key {key}.")
        self.refresh_kv()

    # --- secrets ------------------------------------------------------------------------------------

    def refresh_secrets(self) -> None:
        names = self.services.secret_names(self.ns)
        items = "".join(f"<li><code class='ln-secret-name'>{esc(n)}</code></li>" for n in names)
        listed = f"<ul>{items}</ul>" if names else "<p class='ln-muted'>No secret is visible to this namespace.</p>"
        self.secrets.object = (
            f"{listed}<p class='ln-muted'>Names only: values never leave the server. Flows read them with "
            "<code>{{ secret('NAME') }}</code>. Set one as an environment variable of the server, "
            "<code>SECRET_&lt;NAME&gt;</code> (every namespace) or <code>LANNER_SECRET_&lt;NAMESPACE&gt;__&lt;NAME&gt;"
            "</code> (this namespace and those below), holding the base64-encoded value, or in the file "
            "<code>LANNER_SECRETS_FILE</code> names.</p>")

    # --- page ---------------------------------------------------------------------------------------

    def say(self, text: str, error: bool = False) -> None:
        self.message.object = f"<span class='{'ln-error' if error else 'ln-ok'}'>{esc(text)}</span>"

    def refresh(self) -> None:
        self.refresh_files()
        self.refresh_kv()
        self.refresh_secrets()

    def view(self) -> Any:
        import panel as pn

        files = pn.Column(self.files, pn.Row(self.upload, self.upload_dir, self.upload_button, sizing_mode="stretch_width"),
                          pn.Row(self.new_path, self.create_button), self.editor_box, sizing_mode="stretch_width")
        tabs = pn.Tabs(("Files", files), ("KV store", pn.Column(self.kv, self.kv_form, sizing_mode="stretch_width")),
                       ("Secrets", self.secrets), dynamic=False, sizing_mode="stretch_width",
                       css_classes=["ln-ns-tabs"])
        links = html_pane(f"<a href='{url('flows', namespace=self.ns)}'>Flows of {esc(self.ns)}</a>")
        return shell("namespace", f"Namespace {esc(self.ns)}",
                     pn.Column(links, self.message, tabs, sizing_mode="stretch_width", margin=(0, 16)))


def chooser(services: Services) -> Any:
    """Without ``?ns=``: every namespace, each a link to its page."""
    names = services.namespaces()
    items = "".join(f"<li><a class='ln-ns-link' href='{url('namespace', ns=n)}'>{esc(n)}</a></li>" for n in names)
    body = f"<ul>{items}</ul>" if names else "<p class='ln-muted'>No namespace yet: create a flow first.</p>"
    return shell("namespace", "Namespaces", html_pane(body, margin=(0, 16)))


def page(services: Services) -> Any:
    from engine.service import check_namespace

    namespace = arg("ns")
    if not namespace:
        return chooser(services)
    try:
        check_namespace(namespace)
    except ValueError as exc:
        return shell("namespace", "Namespace", html_pane(f"<p class='ln-error'>{esc(exc)}</p>", margin=(0, 16)))
    return NamespacePage(services, namespace).view()
