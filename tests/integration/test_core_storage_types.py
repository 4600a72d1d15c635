"""storage.*, log Fetch and namespace file tasks through the real runner and internal storage."""

from __future__ import annotations

from typing import Any

import pytest

from engine.ion_rows import parse_row
from tests.integration.flow_runs import error_of, out, run


def text_of(runner: Any, uri: str, namespace: str = "test.files") -> str:
    return runner.storage.read_text(uri, namespace=namespace)


def test_write_size_concat_split_reverse_delete(runner: Any) -> None:
    s = run(runner, """
        id: files
        namespace: test.files
        tasks:
          - {id: one, type: io.kestra.plugin.core.storage.Write, content: "a\\nb\\nc\\n", extension: .txt}
          - {id: two, type: io.kestra.plugin.core.storage.Write, content: "d\\ne\\n", extension: txt}
          - {id: json, type: io.kestra.plugin.core.storage.Write, content: {k: v}}
          - {id: size, type: io.kestra.plugin.core.storage.Size, uri: "{{ outputs.one.uri }}"}
          - {id: concat, type: io.kestra.plugin.core.storage.Concat, files: ["{{ outputs.one.uri }}", "{{ outputs.two.uri }}"], extension: .csv}
          - {id: concat-json, type: io.kestra.plugin.core.storage.Concat, files: '["{{ outputs.two.uri }}", "{{ outputs.one.uri }}"]', separator: "--\\n"}
          - {id: rows, type: io.kestra.plugin.core.storage.Split, from: "{{ outputs.concat.uri }}", rows: 2}
          - {id: bytes, type: io.kestra.plugin.core.storage.Split, from: "{{ outputs.concat.uri }}", bytes: 4, separator: ";"}
          - {id: parts, type: io.kestra.plugin.core.storage.Split, from: "{{ outputs.concat.uri }}", partitions: 2}
          - {id: reverse, type: io.kestra.plugin.core.storage.Reverse, from: "{{ outputs.concat.uri }}"}
          - {id: delete, type: io.kestra.plugin.core.storage.Delete, uri: "{{ outputs.two.uri }}"}
          - {id: delete-again, type: io.kestra.plugin.core.storage.Delete, uri: "{{ outputs.two.uri }}"}
    """)
    assert s["state"] == "SUCCESS", [(tr["taskId"], tr["attempts"][-1].get("message")) for tr in s["taskRuns"]]
    assert out(s, "one")["uri"].endswith("/content.txt") and out(s, "two")["uri"].endswith("/content.txt")
    assert out(s, "json")["uri"].endswith(".ion") and text_of(runner, out(s, "json")["uri"]) == '{"k": "v"}'
    assert out(s, "size") == {"size": 6}
    assert out(s, "concat")["uri"].endswith(".csv") and text_of(runner, out(s, "concat")["uri"]) == "a\nb\nc\nd\ne\n"
    assert text_of(runner, out(s, "concat-json")["uri"]) == "d\ne\n--\na\nb\nc\n--\n"
    assert [text_of(runner, u) for u in out(s, "rows")["uris"]] == ["a\nb\n", "c\nd\n", "e\n"]
    assert all(u.endswith(".csv") for u in out(s, "rows")["uris"])
    assert [text_of(runner, u) for u in out(s, "bytes")["uris"]] == ["a;b;", "c;d;", "e;"]
    assert [text_of(runner, u) for u in out(s, "parts")["uris"]] == ["a\nc\ne\n", "b\nd\n"]
    assert text_of(runner, out(s, "reverse")["uri"]) == "e\nd\nc\nb\na\n"
    assert out(s, "delete")["deleted"] is True and out(s, "delete-again")["deleted"] is False
    assert not runner.storage.exists(out(s, "two")["uri"], "test.files")


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{id: t, type: io.kestra.plugin.core.storage.Size, uri: /etc/passwd}", "t.uri: '/etc/passwd' is not an internal storage URI"),
        ("{id: t, type: io.kestra.plugin.core.storage.Size, uri: 'lanner:///test.files/x/executions/e/tasks/t/r/nope.txt'}",
         "does not exist in internal storage"),
        ("{id: t, type: io.kestra.plugin.core.storage.Size, uri: 'lanner:///other.ns/x/executions/e/tasks/t/r/f.txt'}",
         "belongs to namespace 'other.ns'"),
        ("{id: t, type: io.kestra.plugin.core.storage.Split, from: 'lanner:///test.files/x/executions/e/tasks/t/r/f', rows: 1, bytes: 1KB}",
         "give one of rows, bytes or partitions, not rows and bytes"),
        ("{id: t, type: io.kestra.plugin.core.storage.Split, from: 'lanner:///test.files/x/executions/e/tasks/t/r/f', rows: 0}",
         "t.rows: must be at least 1"),
        ("{id: t, type: io.kestra.plugin.core.storage.Concat, files: 'not json'}", "t.files: 'not json' is not a list of URIs"),
        ("{id: t, type: io.kestra.plugin.core.storage.Delete, uri: 'kestra:///test.files/x/executions/e/tasks/t/r/f', errorOnMissing: true}",
         "does not exist (errorOnMissing is true)"),
        ("{id: t, type: io.kestra.plugin.core.storage.Reverse, from: 'lanner:///test.files/x/executions/e/tasks/t/r/f', charset: KLINGON}",
         "'KLINGON' is not a known encoding"),
    ],
)
def test_storage_tasks_refuse_with_a_reason(runner: Any, task: str, message: str) -> None:
    s = run(runner, f"""
        id: files-bad
        namespace: test.files
        tasks:
          - {task}
    """)
    assert s["state"] == "FAILED" and message in error_of(s, "t"), error_of(s, "t")


def test_deduplicate_and_filter_items(runner: Any) -> None:
    s = run(runner, """
        id: items
        namespace: test.files
        tasks:
          - id: src
            type: io.kestra.plugin.core.storage.Write
            content: |
              {"id": 1, "v": "a"}
              {id: 2, v: "b"}
              {"id": 1, "v": "c"}
              {"id": 3, "v": null}
          - {id: dedup, type: io.kestra.plugin.core.storage.DeduplicateItems, from: "{{ outputs.src.uri }}", expr: "{{ id }}"}
          - {id: keep, type: io.kestra.plugin.core.storage.FilterItems, from: "{{ outputs.src.uri }}", filterCondition: "{{ id == 1 }}"}
          - id: drop
            type: io.kestra.plugin.core.storage.FilterItems
            from: "{{ outputs.src.uri }}"
            filterCondition: "{{ v }}"
            filterType: EXCLUDE
            errorOrNullBehavior: INCLUDE
          - {id: strict, type: io.kestra.plugin.core.storage.FilterItems, from: "{{ outputs.src.uri }}", filterCondition: "{{ v }}"}
    """)
    assert s["state"] == "FAILED"
    assert "strict.filterCondition gave null on line 4" in error_of(s, "strict")
    dedup = out(s, "dedup")
    assert (dedup["numKeys"], dedup["processedItemsTotal"], dedup["droppedItemsTotal"]) == (3, 4, 1)
    assert [parse_row(line) for line in text_of(runner, dedup["uri"]).splitlines()] == [
        {"id": 2, "v": "b"}, {"id": 1, "v": "c"}, {"id": 3, "v": None}]
    keep = out(s, "keep")
    assert [parse_row(x)["v"] for x in text_of(runner, keep["uri"]).splitlines()] == ["a", "c"] and keep["droppedItemsTotal"] == 2
    assert [parse_row(x)["id"] for x in text_of(runner, out(s, "drop")["uri"]).splitlines()] == [3]


def test_purge_current_execution_files_and_local_files(runner: Any) -> None:
    s = run(runner, """
        id: local
        namespace: test.files
        tasks:
          - {id: src, type: io.kestra.plugin.core.storage.Write, content: "stored", extension: .txt}
          - id: wd
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - id: make
                type: io.kestra.plugin.core.storage.LocalFiles
                inputs:
                  hello.txt: "hi {{ flow.id }}"
                  data/copy.txt: "{{ outputs.src.uri }}"
                  conf.json: {a: 1}
                outputs: ["**/*.txt"]
              - {id: see, type: shell, commands: ["cat hello.txt data/copy.txt"]}
          - {id: alone, type: io.kestra.plugin.core.storage.LocalFiles, inputs: '{"x.csv": "1,2"}', outputs: ["*.csv"]}
          - {id: purge, type: io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles}
    """)
    assert s["state"] == "SUCCESS", [(tr["taskId"], tr["attempts"][-1].get("message")) for tr in s["taskRuns"]]
    uris = out(s, "make")["uris"]
    assert sorted(uris) == ["data/copy.txt", "hello.txt"]
    assert any("hi local" in log["message"] for log in runner.logs(s["id"], task_id="see"))
    assert any("stored" in log["message"] for log in runner.logs(s["id"], task_id="see"))
    assert sorted(out(s, "alone")["uris"]) == ["x.csv"]
    purged = out(s, "purge")["uris"]
    assert out(s, "src")["uri"] in purged and uris["hello.txt"] in purged
    assert runner.storage.execution_files("test.files", "local", s["id"]) == []
    bad = run(runner, """
        id: local-bad
        namespace: test.files
        tasks:
          - {id: t, type: io.kestra.plugin.core.storage.LocalFiles, inputs: {"../escape.txt": x}}
    """)
    assert "'../escape.txt' is refused" in error_of(bad, "t")


def test_log_fetch_stores_the_execution_logs(runner: Any) -> None:
    s = run(runner, """
        id: fetch
        namespace: test.files
        tasks:
          - {id: task-1, type: io.kestra.plugin.core.debug.Echo, format: task 1}
          - {id: task-2, type: io.kestra.plugin.core.debug.Echo, format: task 2, level: WARN}
          - {id: all, type: io.kestra.plugin.core.log.Fetch}
          - {id: one, type: io.kestra.plugin.core.log.Fetch, tasksId: [task-1]}
          - {id: warn, type: io.kestra.plugin.core.log.Fetch, level: WARN, executionId: "{{ execution.id }}"}
    """)
    assert s["state"] == "SUCCESS"
    rows = [parse_row(x) for x in text_of(runner, out(s, "all")["uri"]).splitlines()]
    assert out(s, "all")["size"] == 2 and [r["message"] for r in rows] == ["task 1", "task 2"]
    assert rows[0]["taskId"] == "task-1" and rows[0]["executionId"] == s["id"] and rows[0]["level"] == "INFO"
    assert out(s, "one")["size"] == 1 and out(s, "warn")["size"] == 1
    other = run(runner, """
        id: fetch-other
        namespace: test.files
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: f, type: io.kestra.plugin.core.log.Fetch, executionId: "{{ inputs.target }}"}
    """, {"target": s["id"]})
    assert "belongs to test.files.fetch, not test.files.fetch-other" in error_of(other, "f")
    allowed = run(runner, """
        id: fetch-other
        namespace: test.files
        inputs:
          - {id: target, type: STRING}
        tasks:
          - {id: f, type: io.kestra.plugin.core.log.Fetch, executionId: "{{ inputs.target }}", namespace: test.files, flowId: fetch}
    """, {"target": s["id"]})
    assert out(allowed, "f")["size"] == 2


def test_namespace_file_tasks_upload_download_and_delete(runner: Any) -> None:
    runner.storage.namespace_files_put("company.team", "scripts/old.sql", b"select 1")
    s = run(runner, """
        id: nsfiles
        namespace: company.team
        tasks:
          - {id: src, type: io.kestra.plugin.core.storage.Write, content: "a,b", extension: .csv}
          - id: wd
            type: io.kestra.plugin.core.flow.WorkingDirectory
            tasks:
              - {id: make, type: shell, commands: ["mkdir -p q && echo 'select 2' > q/new.sql && echo x > skip.txt"]}
              - {id: up, type: io.kestra.plugin.core.namespace.UploadFiles, files: ["**/*.sql"], destination: /scripts}
          - {id: map, type: io.kestra.plugin.core.namespace.UploadFiles, filesMap: {"data/in.csv": "{{ outputs.src.uri }}"}}
          - {id: down, type: io.kestra.plugin.core.namespace.DownloadFiles, files: ["/scripts/**"], destination: copies}
          - {id: keep, type: io.kestra.plugin.core.namespace.UploadFiles, filesMap: {"data/in.csv": "{{ outputs.src.uri }}"}, conflict: SKIP}
          - {id: clash, type: io.kestra.plugin.core.namespace.UploadFiles, filesMap: {"data/in.csv": "{{ outputs.src.uri }}"}, conflict: ERROR}
    """)
    assert s["state"] == "FAILED"
    assert "namespace file /data/in.csv already exists (conflict is ERROR)" in error_of(s, "clash")
    assert out(s, "up")["files"] == {"/scripts/q/new.sql": "nsfile:///scripts/q/new.sql"}
    assert out(s, "keep")["files"] == {}
    assert runner.storage.namespace_files_list("company.team") == ["data/in.csv", "scripts/old.sql", "scripts/q/new.sql"]
    downloaded = out(s, "down")["files"]
    assert sorted(downloaded) == ["/scripts/old.sql", "/scripts/q/new.sql"]
    assert "/copies/scripts/q/" in downloaded["/scripts/q/new.sql"]
    assert text_of(runner, downloaded["/scripts/q/new.sql"], "company.team") == "select 2\n"
    s = run(runner, """
        id: nsfiles-delete
        namespace: company.team
        tasks:
          - {id: rm, type: io.kestra.plugin.core.namespace.DeleteFiles, files: "/scripts/**"}
          - {id: other, type: io.kestra.plugin.core.namespace.DeleteFiles, namespace: company.other, files: "/**"}
    """)
    assert out(s, "rm")["files"] == ["/scripts/old.sql", "/scripts/q/new.sql"]
    assert runner.storage.namespace_files_list("company.team") == ["data/in.csv"]
    assert "may use its own namespace and the namespaces above it, not 'company.other'" in error_of(s, "other")
    s = run(runner, """
        id: nsfiles-no-wd
        namespace: company.team
        tasks:
          - {id: up, type: io.kestra.plugin.core.namespace.UploadFiles, files: ["*.sql"]}
    """)
    assert "globs need a working directory" in error_of(s, "up")
