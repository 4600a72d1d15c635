"""The first-party plugins' types reach every front end: plugins list, JSON Schema, palette, README table."""

from __future__ import annotations

import json
import subprocess

import pytest

from engine.model import registry
from engine.model.reference import first_party_plugins, plugin_table_markdown
from engine.model.schema import flow_json_schema, task_json_schema

EXPECTED = {
    "lanner-plugin-notifications": {
        "slack_webhook": ["io.kestra.plugin.slack.notifications.SlackIncomingWebhook", "io.kestra.plugin.slack.SlackIncomingWebhook",
                          "io.kestra.plugin.notifications.slack.SlackIncomingWebhook"],
        "slack_execution": ["io.kestra.plugin.slack.notifications.SlackExecution", "io.kestra.plugin.slack.SlackExecution",
                            "io.kestra.plugin.notifications.slack.SlackExecution"],
        "teams_webhook": ["io.kestra.plugin.microsoft365.teams.TeamsIncomingWebhook", "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook"],
        "teams_execution": ["io.kestra.plugin.microsoft365.teams.TeamsExecution", "io.kestra.plugin.notifications.teams.TeamsExecution"],
        "discord_webhook": ["io.kestra.plugin.discord.DiscordIncomingWebhook", "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook"],
        "discord_execution": ["io.kestra.plugin.discord.DiscordExecution", "io.kestra.plugin.notifications.discord.DiscordExecution"],
        "google_chat_webhook": ["io.kestra.plugin.googleworkspace.chat.GoogleChatIncomingWebhook",
                                "io.kestra.plugin.notifications.google.GoogleChatIncomingWebhook"],
        "google_chat_execution": ["io.kestra.plugin.googleworkspace.chat.GoogleChatExecution",
                                  "io.kestra.plugin.notifications.google.GoogleChatExecution"],
    },
    "lanner-plugin-email": {"mail_send": ["io.kestra.plugin.email.MailSend", "io.kestra.plugin.notifications.mail.MailSend"]},
    "lanner-plugin-git": {
        "git_clone": ["io.kestra.plugin.git.Clone"],
        "git_sync_flows": ["io.kestra.plugin.git.SyncFlows"],
        "git_sync_namespace_files": ["io.kestra.plugin.git.SyncNamespaceFiles"],
    },
}


def test_the_plugins_are_first_party_and_listed_with_every_name(lanner_cmd: list[str], cli_env: dict[str, str]) -> None:
    assert set(EXPECTED) <= set(first_party_plugins())
    res = subprocess.run([*lanner_cmd, "plugins", "list", "--json"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    listed = {p["name"]: p for p in json.loads(res.stdout)}
    for dist, types in EXPECTED.items():
        plugin = listed[dist]
        assert plugin["errors"] == [] and not plugin["builtin"]
        assert {t["type"]: sorted(t["aliases"]) for t in plugin["tasks"]} == {k: sorted(v) for k, v in types.items()}


@pytest.mark.parametrize("dist", sorted(EXPECTED))
def test_schema_palette_and_readme_show_each_type(dist: str) -> None:
    from builder.canvas.palette import palette_items

    schema = flow_json_schema()
    in_schema = {d["x-lanner"]["canonical"]: d for d in schema["$defs"].values() if isinstance(d.get("x-lanner"), dict)}
    palette = {e["type"]: e for e in palette_items()}
    table = plugin_table_markdown()
    for canonical, aliases in EXPECTED[dist].items():
        definition = in_schema[canonical]
        assert definition["x-lanner"]["plugin"] == dist
        assert set(definition["properties"]["type"]["enum"]) == {canonical, *aliases}
        for name in aliases:
            assert task_json_schema(name)["x-lanner"]["canonical"] == canonical
        entry = palette[canonical]
        assert entry["section"] == dist and entry["icon"] and entry["summary"] and entry["title"]
        assert registry.task_class(canonical).summary == entry["summary"]
        assert f"| {dist} | `{canonical}`" in table
