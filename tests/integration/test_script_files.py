"""Scripts see namespace files and receive files produced by earlier tasks."""

from __future__ import annotations

from textwrap import dedent


def test_namespace_files_and_output_files_chain(runner, tmp_path):
    src = tmp_path / "nsfiles"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "helper.py").write_text("def greet(name):\n    return 'hello ' + name\n")
    (src / "notes.txt").write_text("not wanted\n")
    runner.storage.upload_namespace_dir("test.files", src)
    s = runner.run(dedent("""
        id: files
        namespace: test.files
        tasks:
          - id: produce
            type: python
            namespaceFiles:
              enabled: true
              include: ["lib/*.py"]
            script: |
              import os, sys
              sys.path.insert(0, "lib")
              from helper import greet
              assert not os.path.exists("notes.txt")
              open("report.txt", "w").write(greet("lanner"))
            outputFiles: ["report.txt"]
          - id: consume
            type: shell
            inputFiles:
              in.txt: "{{ outputs.produce.outputFiles['report.txt'] }}"
            commands:
              - 'echo "::{\\"outputs\\": {\\"got\\": \\"$(cat in.txt)\\"}}::"'
    """), timeout=60)
    assert s["state"] == "SUCCESS", s
    produce = next(tr for tr in s["taskRuns"] if tr["taskId"] == "produce")
    uri = produce["outputs"]["outputFiles"]["report.txt"]
    assert uri.startswith("lanner:///test.files/files/executions/")
    consume = next(tr for tr in s["taskRuns"] if tr["taskId"] == "consume")
    assert consume["outputs"]["vars"] == {"got": "hello lanner"}
