"""No lost work in the builder (issue 17, defects 1, 3, 4, 5, 6, 13), against the real ``lanner server local``.

One journey per theme, sharing the session's server: a new flow that starts calm
(no internal keys, no red), keyboard-added tasks, an unsaved-changes marker and the
browser's leave-page question, a rename onto an existing id refused, a save refused
when another tab saved in between, a delete that asks and can be undone, and the
form of every palette type filled without touching YAML.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from builder.forms import field_specs
from builder.yaml_sync import parse
from engine.model.schema import task_json_schema
from tests.browser.conftest import wait_until
from tests.browser.conftest_pages import fill, new_flow, open_page, yaml_text

pytestmark = pytest.mark.browser


def tab(page: Any, title: str) -> Any:
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{title}$")).first


def node(page: Any, task_id: str) -> Any:
    return page.locator(f'.lc-node[data-id="{task_id}"]')


def test_a_new_flow_starts_calm_and_no_edit_is_lost(page, builder_server):
    new_flow(page, builder_server, "acme.work", "kept")
    # Defect 13: no red, no internal key, no YAML line number the user has not seen.
    page.locator(".ln-start-hint").wait_for()
    errors = page.locator(".ln-errors").inner_text()
    assert "__flow__" not in errors and "line" not in errors
    assert page.locator(".ln-errors .ln-error").count() == 0
    assert page.locator(".lc-banner").is_hidden()
    assert page.locator(".ln-dirty").count() == 0

    # Keyboard only: the palette's Log item, Enter; its form opens; type the message; save.
    page.locator('.lc-item[data-type="log"]').focus()
    page.keyboard.press("Enter")
    node(page, "log_1").wait_for()
    page.locator(".ln-dirty", has_text="Unsaved changes").wait_for()  # defect 4: the marker
    fill(page, ".lf-field-message", "first line")
    page.locator(".ln-save button").click()
    page.locator(".ln-saved", has_text="Saved revision 1").wait_for()
    page.locator(".ln-dirty").wait_for(state="detached")

    page.locator('.lc-item[data-type="python"]').dblclick()
    node(page, "python_1").wait_for()
    page.locator(".ln-dirty").wait_for()

    # Defect 6: renaming onto an existing id is refused, and the form stays on its task.
    page.locator(".lf-field-id input").first.wait_for()
    fill(page, ".lf-field-id", "log_1")
    page.locator(".lf-error-text", has_text="already used").wait_for()
    tab(page, "YAML").click()
    data = parse(yaml_text(page))[0]
    assert [t["id"] for t in data["tasks"]] == ["log_1", "python_1"]
    assert data["tasks"][0] == {"id": "log_1", "type": "log", "message": "first line"}

    # Defect 3: another tab saves revision 2; this tab's save is refused instead of undoing it.
    node(page, "python_1").locator('[data-action="delete"]').click()
    node(page, "python_1").wait_for(state="detached")
    node(page, "log_1").click()
    tab(page, "Task").click()
    fill(page, ".lf-field-message", "second line")
    page.locator(".ln-errors", has_text="valid").wait_for()
    other = builder_server.flow_source("acme.work", "kept").replace("first line", "changed elsewhere")
    builder_server.deploy(other)
    page.locator(".ln-save button").click()
    page.locator(".ln-conflict", has_text="since you opened it").wait_for()
    assert builder_server.revisions("acme.work", "kept") == [1, 2]
    assert "changed elsewhere" in builder_server.flow_source("acme.work", "kept")

    # Defect 4: leaving with unsaved changes asks first (the page cancels "beforeunload", so the browser asks).
    leave = "() => !window.dispatchEvent(new Event('beforeunload', {cancelable: true}))"
    assert page.evaluate(leave) is True


def test_delete_asks_first_and_can_be_undone(page, builder_server):
    builder_server.deploy("id: doomed\nnamespace: acme.del\ntasks:\n  - id: a\n    type: log\n    message: hi\n")
    open_page(page, builder_server.page_url("flows"), '.ln-flow-row[data-flow="acme.del.doomed"]')
    row = page.locator(".bk-Row", has=page.locator('.ln-flow-row[data-flow="acme.del.doomed"]')).last
    row.locator(".ln-delete button").click()
    page.locator(".ln-delete-confirm button").wait_for()
    assert builder_server.flow_source("acme.del", "doomed") is not None  # one click deletes nothing
    page.locator(".ln-delete-cancel button").click()
    page.locator(".ln-delete-confirm button").wait_for(state="detached")

    row.locator(".ln-delete button").click()
    page.locator(".ln-delete-confirm button").click()
    page.locator(".ln-deleted", has_text="acme.del.doomed").wait_for()
    wait_until(lambda: builder_server.flow_source("acme.del", "doomed") is None)
    page.locator(".ln-undo-delete button").click()
    page.locator(".ln-message", has_text="Restored acme.del.doomed").wait_for()
    assert "message: hi" in builder_server.flow_source("acme.del", "doomed")
    page.locator('.ln-flow-row[data-flow="acme.del.doomed"]').wait_for()


# A value for a required field of each kind, typed into its widget (never into the YAML).
SAMPLES = {"text": "{{ inputs.region }}", "duration": "PT1S", "yaml": "north", "code": "print('hello')"}
SPECIAL = {("for_each", "values"): '["a", "b"]', ("output_values", "values"): "total: 3",
           ("return", "format"): "{{ inputs.region }}", ("subflow", "namespace"): "acme.forms",
           ("subflow", "flowId"): "target", ("schedule", "cron"): "0 7 * * *", ("webhook", "key"): "k3y",
           ("file", "directory"): "incoming", ("notebook", "notebook"): "notebooks/report.ipynb"}


def _type_into(page: Any, canonical: str, spec: Any) -> None:
    value = SPECIAL.get((canonical, spec.name), SAMPLES.get(spec.kind, "x"))
    field = page.locator(f".lf-field-{spec.name}").first
    if spec.kind in ("code", "yaml"):
        field.locator(".ace_content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(value)
        page.keyboard.press("End")  # the code editor hands its value over on key-up
    elif spec.kind == "select":
        field.locator("select").select_option(spec.options[0])
    else:
        fill(page, f".lf-field-{spec.name}", value)


def _one_per_form_shape(items: list[dict]) -> list[dict]:
    """One palette type per shape of required fields (their widget kinds), one per palette section, and the
    containers whose forms resolve their own schema: with 100+ types, adding each to one growing flow takes
    minutes; the shapes are what the browser can get wrong (tests/unit/test_builder_forms.py checks every type)."""
    keep, shapes, sections = [], set(), set()
    for item in items:
        canonical = item["type"]
        shape = tuple(sorted((s.kind, s.language) for s in field_specs(task_json_schema(canonical), canonical) if s.required))
        section = item.get("section") or item.get("group")
        if canonical in ("switch", "if", "for_each", "subflow") or shape not in shapes or section not in sections:
            keep.append(item)
            shapes.add(shape)
            sections.add(section)
    return keep


def test_the_form_of_every_palette_type_fills_every_required_field(page, builder_server):
    """Defect 1: each shape of palette form opens listing its properties; its required ones are filled there."""
    from builder.canvas.palette import palette_items

    new_flow(page, builder_server, "acme.forms", "every")
    tab(page, "Flow").click()
    fill(page, ".ln-new-input-id", "region")
    page.locator(".ln-add-input button").click()
    page.locator(".ln-input-item button", has_text="region (STRING)").wait_for()
    tab(page, "YAML").click()  # drawn once, then read while the Task tab is shown
    wait_until(lambda: "region" in yaml_text(page))
    # The palette the page shows (the server's registry): types other tests register in this process are not in it.
    on_page = set(page.locator('.lc-item[data-kind="task"]').evaluate_all("els => els.map(e => e.dataset.type)"))
    tasks = _one_per_form_shape([i for i in palette_items() if i["kind"] == "task" and i["type"] in on_page])
    for n, item in enumerate(tasks, start=1):
        canonical = item["type"]
        page.locator(f'.lc-item[data-kind="task"][data-type="{canonical}"]').dblclick()
        # Generous: each step re-validates the growing flow and rebuilds a form on a shared, loaded machine.
        wait_until(lambda n=n: len(parse(yaml_text(page))[0].get("tasks") or []) == n, timeout=45)
        tab(page, "Task").click()
        # The new task's form is open before anything is typed into it.
        def form_id() -> str:
            return page.locator(".ln-form-box .lf-field-id input").first.input_value()

        wait_until(lambda canonical=canonical: form_id() == re.sub(r"[^A-Za-z0-9_]", "_", canonical) + "_1", timeout=45,
                   why=lambda canonical=canonical: f"the form of the new {canonical} task did not open: it shows task {form_id()!r}")
        specs = [s for s in field_specs(task_json_schema(canonical), canonical) if s.required]
        for spec in specs:
            page.locator(f".lf-field-{spec.name}").first.wait_for()
            _type_into(page, canonical, spec)
        if specs:  # a code editor hands its text over when it loses focus: wait until the YAML has it all
            tab(page, "Task").click()
            def of_type(canonical: str = canonical) -> list[dict]:
                return [t for t in parse(yaml_text(page))[0]["tasks"] if t["type"] == canonical]

            wait_until(lambda specs=specs: all(t.get(s.name) not in (None, "", []) for t in of_type() for s in specs),
                       timeout=45, why=lambda specs=specs, canonical=canonical: f"{canonical}: required {[s.name for s in specs]} not all in the YAML: {of_type()}")
        # Every property of the type has a field (not just the id).
        schema_props = {s.name for s in field_specs(task_json_schema(canonical), canonical)}

        def shown() -> set[str]:  # the form is redrawn after an edit: read it once it has settled
            return set(page.locator(".ln-form-box .lf-field").evaluate_all(
                "els => els.map(e => [...e.classList].find(c => c.startsWith('lf-field-')).slice(9))"))

        wait_until(lambda specs=specs: {s.name for s in specs} <= shown(), timeout=45,
                   why=lambda specs=specs, canonical=canonical: f"{canonical}: required {sorted(s.name for s in specs)}, the form shows {sorted(shown())}")
        assert shown() <= schema_props, canonical
    data = parse(yaml_text(page))[0]
    assert sorted(t["type"] for t in data["tasks"]) == sorted(i["type"] for i in tasks)
    by_type = {t["type"]: t for t in data["tasks"]}
    assert by_type["switch"]["value"] == "north" and by_type["if"]["condition"] == "{{ inputs.region }}"
    assert by_type["for_each"]["values"] == ["a", "b"] and by_type["subflow"]["flowId"] == "target"
