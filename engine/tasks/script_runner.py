"""Where a script task runs: Kestra's task runners, and the one Lanner has.

Lanner runs scripts as processes on the worker's host (Kestra's ``Process``
runner). Kestra's default for script tasks is a Docker container, chosen with
``taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}``, a
``containerImage`` without a task runner, or the legacy ``runner: DOCKER`` and
``docker`` properties. Such a task is refused when the flow is saved, because
its commands expect the tools of an image that Lanner does not pull, unless the
server (or the CLI) runs with the *Docker as process* setting
(``--run-docker-as-process``, ``LANNER_RUN_DOCKER_AS_PROCESS=1``, or
``runDockerAsProcess: true`` in ``lanner.yaml``): then the task runs as a process
on the host, which must have those tools, and each attempt logs a WARNING that
the image is ignored. Remote runners (Kubernetes, cloud batch services) stay refused.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, model_validator

from engine.sdk import LannerModel

PROCESS_RUNNERS = ("io.kestra.plugin.core.runner.Process", "process")
DOCKER_RUNNERS = ("io.kestra.plugin.scripts.runner.docker.Docker", "io.kestra.core.models.tasks.runners.types.DockerTaskRunner")
PROCESS_RUNNER = PROCESS_RUNNERS[0]
#: The environment variable of the setting (the server's flag and lanner.yaml key set it for the process).
SETTING_ENV = "LANNER_RUN_DOCKER_AS_PROCESS"
HOW_TO_ALLOW = (
    "to run it as a process on this host (with the tools its image would bring installed here), start Lanner with "
    f"--run-docker-as-process ({SETTING_ENV}=1, or runDockerAsProcess: true in lanner.yaml)"
)


def docker_as_process() -> bool:
    """Whether tasks meant for a Docker container run as processes on this host instead."""
    return os.environ.get(SETTING_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def docker_refusal(what: str) -> str:
    """The sentence refusing a task meant for a container: ``what`` names the property that asks for one."""
    return f"{what} asks for a Docker container, which Lanner does not run: it runs scripts as processes ({PROCESS_RUNNER}); {HOW_TO_ALLOW}"


class TaskRunner(LannerModel):
    """Where a script runs. Lanner has one runner: a process on the worker's host (see the module doc)."""

    type: str = Field(
        description=f"The task runner type: {PROCESS_RUNNER} (or `process`); Kestra's Docker runner only with the "
        "Docker-as-process setting.",
        json_schema_extra={"enum": [*PROCESS_RUNNERS, DOCKER_RUNNERS[0]]},
    )
    image: str | None = Field(default=None, description="Docker runner: the image (ignored, with a warning, by the setting).")
    ignored: list[str] | None = Field(default=None, exclude=True, description="Docker runner properties Lanner ignores.")

    @model_validator(mode="before")
    @classmethod
    def _only_process(cls, data: object) -> Any:
        # Checked before the fields so a Docker runner's own properties (pullPolicy, cpu...)
        # do not bury the one error that matters under "unknown property" errors.
        if isinstance(data, dict):
            t = data.get("type")
            if isinstance(t, str) and t in DOCKER_RUNNERS:
                if not docker_as_process():
                    raise ValueError(docker_refusal(f"taskRunner type '{t}'"))
                rest = sorted(k for k in data if k not in ("type", "image"))
                return {"type": t, "image": data.get("image"), "ignored": rest or None}
            if isinstance(t, str) and t not in PROCESS_RUNNERS:
                raise ValueError(
                    f"taskRunner type '{t}' is not available in Lanner: only {PROCESS_RUNNER} (run on the worker's host) "
                    "is supported, and Kestra's Docker runner with the Docker-as-process setting"
                )
        return data

    @property
    def is_docker(self) -> bool:
        return self.type in DOCKER_RUNNERS
