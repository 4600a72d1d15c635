"""The ``log`` task, in a module of its own.

Task types are imported when a flow uses them (the registry finds each through its entry
point), and building a task model costs ~0.75 ms: a flow of ``log`` tasks, the shortest
kind of run, builds only this one.
"""

from typing import ClassVar, Literal

from pydantic import Field

from engine.sdk import RunContext, RunnableTask, TaskResult, register_task


@register_task(
    "log",
    "io.kestra.plugin.core.log.Log",
    "io.kestra.core.tasks.log.Log",
    group="Basics",
    title="Write a log message",
    icon="📝",
    summary="Write a message (or several) to the execution logs.",
)
class Log(RunnableTask):
    light: ClassVar[bool] = True
    message: str | list[str] = Field(description="The message; expressions such as {{ inputs.name }} are rendered.")
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = Field(default="INFO", description="Log level of the message.")

    def run(self, ctx: RunContext) -> TaskResult:
        rendered = ctx.render(self.message)
        for line in rendered if isinstance(rendered, list) else [rendered]:
            ctx.logger.log(self.level, str(line))
        return TaskResult()
