"""The file trigger: start one execution per new file in a local directory."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from engine.sdk import Duration, Trigger, register_trigger


@register_trigger(
    "file",
    "io.kestra.plugin.fs.local.Trigger",
    title="When a file arrives",
    icon="📂",
    summary="Poll a local directory and start one execution per new file.",
)
class FileTrigger(Trigger):
    kind_name: ClassVar[str] = "File trigger"

    directory: str = Field(description="Directory to watch.")
    glob: str = Field(default="*", description="Files to pick up, e.g. *.csv.")
    interval: Duration | None = Field(default=None, description="How often to look (default PT10S).")
    action: Literal["MOVE", "DELETE", "NONE"] = Field(default="MOVE", description="What to do with a file once its execution started.")
    move_directory: str | None = Field(default=None, description="Where MOVE puts files (default: <directory>/.processed).")
