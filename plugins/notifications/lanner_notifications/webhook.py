"""What every webhook notification shares: the URL, the ``payload`` template, HTTP options, the POST itself.

The payload is Kestra's: a JSON text with expressions, rendered against the
execution, checked to be JSON, then posted as ``application/json`` through
Lanner's HTTP client (SSRF guard: a destination on this machine or a private
network needs ``LANNER_HTTP_ALLOW``). The webhook URL carries its token, so the
task masks it like a secret in logs, outputs and errors before anything is sent.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from engine.sdk import (
    DEFAULT_MAX_BODY,
    Duration,
    Field,
    HttpRefused,
    LannerModel,
    RunContext,
    RunnableTask,
    TaskFailed,
    TaskResult,
    http_send,
    parse_http_url,
)


class RequestOptions(LannerModel):
    """Kestra's ``options`` of the notification tasks."""

    connect_timeout: Duration | None = Field(default=None, description="How long to wait for the connection (default PT10S).")
    read_timeout: Duration | None = Field(default=None, description="How long to wait for the answer (default PT10S).")
    read_idle_timeout: Duration | None = Field(default=None, description="Accepted for Kestra compatibility; readTimeout bounds the wait.")
    connection_pool_idle_timeout: Duration | None = Field(default=None, description="Accepted for Kestra compatibility; unused.")
    max_content_length: int | None = Field(default=None, ge=1, description="Largest answer accepted, in bytes (default 10 MiB).")
    default_charset: str | None = Field(default=None, description="Accepted for Kestra compatibility; the payload is sent as UTF-8.")
    headers: dict[str, str] | None = Field(default=None, description="Extra request headers; values are rendered.")


class WebhookTask(RunnableTask):
    """Posts a JSON message to an incoming-webhook URL."""

    #: The service's name, for messages ("Slack").
    service: ClassVar[str] = "webhook"

    url: str = Field(min_length=1, description="The incoming-webhook URL; keep it in a secret: {{ secret('WEBHOOK') }}. Masked in logs.")
    options: RequestOptions | None = Field(default=None, description="Timeouts, answer size limit and extra headers.")

    def message(self, ctx: RunContext) -> Any:
        """The JSON value to post (a dict or list); each service builds its own."""
        raise NotImplementedError

    def run(self, ctx: RunContext) -> TaskResult:
        url = hide_url(ctx, str(ctx.render(self.url)).strip())
        body = json.dumps(self.message(ctx), ensure_ascii=False)
        ctx.logger.debug(f"Send {self.service} webhook: {body}")
        self.post(ctx, url, body)
        return TaskResult({})

    def post(self, ctx: RunContext, url: str, body: str) -> None:
        """POST ``body`` to ``url``; a refused, unreachable or failing webhook fails the attempt with one sentence."""
        opts = self.options or RequestOptions()
        headers = {"Content-Type": "application/json"}
        headers.update({str(k): str(v) for k, v in (ctx.render(opts.headers or {}) or {}).items()})
        try:
            answer = http_send(
                ctx, "POST", url, headers=headers, content=body.encode("utf-8"),
                connect_timeout=_seconds(opts.connect_timeout), read_timeout=_seconds(opts.read_timeout) or 10.0,
                max_body=opts.max_content_length or DEFAULT_MAX_BODY,
            )
        except HttpRefused:
            raise
        except TaskFailed as exc:
            raise TaskFailed(f"Could not send the {self.service} notification: {exc.message}") from None
        ctx.logger.debug(f"Response: {answer.text[:2000]}")
        if not 200 <= answer.status < 300:
            detail = " ".join(answer.text.split())[:300]
            raise TaskFailed(
                f"The {self.service} webhook refused the notification with HTTP {answer.status} {answer.reason}"
                + (f": {detail}" if detail else "")
            )
        ctx.logger.info(f"{self.service} notification sent (HTTP {answer.status})")


class PayloadWebhook(WebhookTask):
    """A webhook task whose message is Kestra's ``payload`` template."""

    payload: str | dict[str, Any] | None = Field(
        default=None,
        description="The message as JSON text (or a map); expressions such as {{ execution.id }} are rendered first.",
    )

    def message(self, ctx: RunContext) -> Any:
        if self.payload is None:
            raise TaskFailed("payload is required: the JSON message to post")
        return rendered_json(ctx, self.payload, "payload")


def rendered_json(ctx: RunContext, template: Any, field: str) -> Any:
    """Render ``template`` and read it as JSON (a map or a list); the error names ``field`` and where the JSON breaks."""
    value = ctx.render(template)
    if isinstance(value, (dict, list)):
        return value
    text = str(value)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskFailed(f"{field} is not valid JSON after rendering: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(parsed, (dict, list)):
        raise TaskFailed(f"{field} must render to a JSON object, not {type(parsed).__name__}")
    return parsed


def hide_url(ctx: RunContext, url: str) -> str:
    """Mask the secret part of a webhook URL (its path and query) for the rest of the attempt; return the URL."""
    try:
        parsed = parse_http_url(url, "url")
    except TaskFailed:
        ctx.add_secret(url)
        raise TaskFailed("url must be an http:// or https:// webhook URL with a host") from None
    secret = url.split(parsed.netloc.decode("ascii", "replace"), 1)[-1] if parsed.netloc else ""
    ctx.add_secret(secret if len(secret) >= 8 else url)
    return url


def _seconds(value: Any) -> float | None:
    return value.total_seconds() if value is not None else None
