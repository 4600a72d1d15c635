"""Canvas and form edits keep the YAML's comments, quotes and block styles (defect 8 of issue 17)."""

from __future__ import annotations

from builder.canvas.flow_edit import delete_task, insert_task, move_task
from builder.yaml_sync import YamlSync, parse

TEXT = """# Nightly sales report: read me first.
id: report
namespace: acme.sales  # where the team's flows live
tasks:
  # Extract the rows
  - id: extract
    type: python
    script: |
      print("rows")
  - id: notify
    type: log
    message: 'done: {{ outputs.extract.vars }}'  # quoted on purpose
    # the end
  - id: archive
    type: log
    message: archived
"""


def test_an_insert_keeps_every_comment_quote_and_block_style():
    sync = YamlSync(text=TEXT)
    new = insert_task(sync.data, ["tasks", 1], {"id": "check", "type": "log", "message": "checking"})
    text = sync.from_data(new)
    assert text is not None
    assert parse(text)[0] == new
    for kept in ("# Nightly sales report: read me first.", "# where the team's flows live", "# Extract the rows",
                 "# quoted on purpose", "'done: {{ outputs.extract.vars }}'", "script: |"):
        assert kept in text, kept


def test_a_move_and_a_delete_keep_the_comments_of_the_tasks_that_remain():
    sync = YamlSync(text=TEXT)
    moved = move_task(sync.data, ["tasks", 1], ["tasks", 0])
    text = sync.from_data(moved)
    assert [t["id"] for t in parse(text)[0]["tasks"]] == ["notify", "extract", "archive"]
    assert "# quoted on purpose" in text and text.startswith("# Nightly sales report")
    text = sync.from_data(delete_task(sync.data, ["tasks", 2]))
    assert [t["id"] for t in parse(text)[0]["tasks"]] == ["notify", "extract"]
    assert "# quoted on purpose" in text and "# Nightly sales report" in text


def test_a_form_edit_of_one_property_changes_only_that_line():
    sync = YamlSync(text=TEXT)
    data = parse(TEXT)[0]
    data["tasks"][2]["message"] = "archived twice"
    text = sync.from_data(data)
    assert text == TEXT.replace("message: archived", "message: archived twice")
