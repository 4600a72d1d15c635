"""The cloud storage plugin as users meet it: `lanner plugins list`, the JSON Schema, the builder's palette,
README's task table, and flow validation naming the field at fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DIST = "lanner-plugin-cloud-storage"
TASKS = sorted([
    "s3_copy", "s3_create_bucket", "s3_delete", "s3_delete_list", "s3_download", "s3_downloads", "s3_list", "s3_upload",
    "gcs_copy", "gcs_create_bucket", "gcs_delete", "gcs_delete_list", "gcs_download", "gcs_downloads", "gcs_list", "gcs_upload",
    "azure_blob_copy", "azure_blob_delete", "azure_blob_delete_list", "azure_blob_download", "azure_blob_downloads",
    "azure_blob_list", "azure_blob_upload",
])
TRIGGERS = ["azure_blob_trigger", "gcs_trigger", "s3_trigger"]
ROOT = Path(__file__).resolve().parents[3]


def test_plugins_list_and_the_json_schema_show_every_s3_gcs_and_azure_type(lanner_cmd: list[str], cli_env: dict[str, str]) -> None:
    listed = subprocess.run([*lanner_cmd, "plugins", "list", "--json"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    ours = next(p for p in json.loads(listed.stdout) if p["name"] == DIST)
    assert sorted(t["type"] for t in ours["tasks"]) == TASKS and not ours["errors"]
    assert sorted(t["type"] for t in ours["triggers"]) == TRIGGERS
    for short, kestra in (("s3_upload", "io.kestra.plugin.aws.s3.Upload"), ("gcs_upload", "io.kestra.plugin.gcp.gcs.Upload"),
                          ("azure_blob_upload", "io.kestra.plugin.azure.storage.blob.Upload")):
        upload = next(t for t in ours["tasks"] if t["type"] == short)
        assert upload["aliases"] == [kestra] and upload["group"] == "Cloud storage"

    schema = subprocess.run([*lanner_cmd, "flow", "schema"], env=cli_env, capture_output=True, text=True, timeout=120)
    defs = json.loads(schema.stdout)["$defs"]
    assert defs["S3Upload"]["x-lanner"]["plugin"] == DIST
    assert {"from", "key", "bucket"} <= set(defs["S3Upload"]["required"])
    assert "io.kestra.plugin.aws.s3.Trigger" in defs["S3Trigger"]["properties"]["type"]["enum"]
    assert {"secretKeyId", "endpointOverride", "moveTo", "moveDirectory", "maxFiles"} <= set(defs["S3Trigger"]["properties"])
    assert {"from", "to"} <= set(defs["GcsUpload"]["required"])
    assert {"serviceAccount", "projectId", "scopes", "endpointOverride", "from", "listingType", "regExp", "moveDirectory",
            "action", "on", "stateTtl"} <= set(defs["GcsTrigger"]["properties"])
    assert {"from", "container", "name"} <= set(defs["BlobUpload"]["required"])
    assert {"endpoint", "connectionString", "sharedKeyAccountName", "sharedKeyAccountAccessKey", "sasToken", "container",
            "prefix", "delimiter", "regexp", "filter", "moveTo", "maxFiles"} <= set(defs["BlobTrigger"]["properties"])


def test_the_palette_has_a_section_for_the_plugin_with_icons_and_summaries() -> None:
    from builder.canvas.palette import palette_items

    ours = [i for i in palette_items() if i["plugin"] == DIST]
    assert sorted(i["type"] for i in ours if i["kind"] == "task") == TASKS
    assert all(i["section"] == DIST and i["icon"] and i["summary"] and "\n" not in i["summary"] for i in ours)
    triggers = {i["type"]: i for i in ours if i["kind"] == "trigger"}
    assert sorted(triggers) == TRIGGERS and triggers["s3_trigger"]["template"]["type"] == "s3_trigger"
    assert set(triggers["s3_trigger"]["template"]) >= {"bucket", "action"}
    assert set(triggers["gcs_trigger"]["template"]) >= {"from"}
    assert set(triggers["azure_blob_trigger"]["template"]) >= {"container", "action"}


def test_readme_lists_every_type() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in [*TASKS, *TRIGGERS, "io.kestra.plugin.aws.s3.Downloads", "io.kestra.plugin.gcp.gcs.Trigger",
                 "io.kestra.plugin.azure.storage.blob.Trigger"]:
        assert f"`{name}`" in readme, name


def test_a_flow_missing_a_property_is_refused_naming_the_field_and_line(lanner_cmd: list[str], cli_env: dict[str, str],
                                                                      tmp_path: Path) -> None:
    flow = tmp_path / "bad.yaml"
    flow.write_text("id: bad\nnamespace: tests.s3\ntasks:\n  - id: up\n    type: io.kestra.plugin.aws.s3.Upload\n"
                    "    bucket: b\n    from: lanner:///x\n    regexp: nope\n")
    done = subprocess.run([*lanner_cmd, "flow", "validate", str(flow)], env=cli_env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "tasks[0].key" in out and "tasks[0].regexp" in out, out


def test_validating_flows_of_every_provider_imports_no_storage_client(cli_env: dict[str, str]) -> None:
    """The clients (fsspec, which reads every distribution's entry points when imported, s3fs, gcsfs, adlfs and
    their SDKs) are imported by a task that runs, not by a server validating the flows that name it."""
    flows = [ROOT / "flows" / f for f in ("s3_sales_files.yaml", "gcs_sales_files.yaml", "azure_blob_sales_files.yaml")]
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from engine.model.validation import load_flow\n"
        f"for path in {[str(f) for f in flows]!r}:\n"
        "    load_flow(Path(path).read_text())\n"
        "clients = ('fsspec', 's3fs', 'gcsfs', 'adlfs', 'boto3', 'botocore', 'aiobotocore', 'azure', 'google.cloud')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(clients)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
