"""Retry policies (Kestra's ``retry`` property): constant, exponential, random.

``maxAttempts`` counts every attempt including the first; Kestra's older
spelling ``maxAttempt`` is accepted as an alias. A task uses its own ``retry``,
else the nearest enclosing flowable task's, else the flow's (Kestra's order).
"""

import random
from datetime import timedelta
from typing import Literal

from pydantic import AliasChoices, Field, model_validator

from engine.model.base import LannerModel
from engine.model.durations import Duration


class Retry(LannerModel):
    """When and how often a failed attempt is tried again."""

    type: Literal["constant", "exponential", "random"] = Field(description="How the wait between attempts grows.")
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("maxAttempts", "maxAttempt", "max_attempts", "max_attempt"),
        serialization_alias="maxAttempts",
        description="Attempts in total, the first included.",
    )
    max_duration: Duration | None = Field(default=None, description="Stop retrying once this much time has passed since the first attempt.")
    interval: Duration | None = Field(default=None, description="Wait between attempts (constant) or the first wait (exponential).")
    max_interval: Duration | None = Field(default=None, description="Upper bound of the wait (exponential, random).")
    min_interval: Duration | None = Field(default=None, description="Lower bound of the wait (random).")
    delay_factor: float | None = Field(default=None, gt=1, description="Growth factor of the wait (exponential, default 2).")
    warning_on_retry: bool = Field(default=False, description="End in WARNING when the task succeeded only after a retry.")
    behavior: Literal["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"] = Field(
        default="RETRY_FAILED_TASK",
        description="RETRY_FAILED_TASK: a new attempt of the failed task in the same execution; CREATE_NEW_EXECUTION: "
        "the execution ends RETRIED and a new execution of the flow starts after the interval (attempts and "
        "maxDuration then count executions, from the first one's creation).",
    )

    @model_validator(mode="after")
    def _rules(self) -> "Retry":
        if self.max_attempts is None and self.max_duration is None:
            raise ValueError("set maxAttempts (or maxDuration) so that retries end")
        if self.type == "constant" and self.interval is None:
            raise ValueError("a constant retry needs an interval, e.g. interval: PT1S")
        if self.type == "exponential" and self.interval is None:
            raise ValueError("an exponential retry needs an interval (the first wait), e.g. interval: PT1S")
        if self.type == "random" and (self.min_interval is None or self.max_interval is None):
            raise ValueError("a random retry needs minInterval and maxInterval")
        return self

    def next_delay(self, attempts_done: int, elapsed: timedelta) -> timedelta | None:
        """Wait before the next attempt, or None when no attempt is left.

        ``attempts_done`` counts the attempts already made (>= 1).
        """
        if self.max_attempts is not None and attempts_done >= self.max_attempts:
            return None
        if self.type == "constant":
            delay = self.interval or timedelta(0)
        elif self.type == "exponential":
            base = (self.interval or timedelta(seconds=1)).total_seconds()
            delay = timedelta(seconds=base * (self.delay_factor or 2.0) ** (attempts_done - 1))
        else:
            lo = (self.min_interval or timedelta(0)).total_seconds()
            hi = (self.max_interval or timedelta(0)).total_seconds()
            delay = timedelta(seconds=random.uniform(lo, max(lo, hi)))
        if self.max_interval is not None and self.type != "random":
            delay = min(delay, self.max_interval)
        if self.max_duration is not None and elapsed + delay > self.max_duration:
            return None
        return delay
