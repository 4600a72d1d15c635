"""``mail_send`` (Kestra's ``MailSend``): send an email over SMTP with HTML and plain bodies and attachments.

Kestra's properties: ``host``, ``port``, ``username``, ``password``,
``transportStrategy`` (SMTPS by default), ``sessionTimeout`` (ms),
``verifyServerIdentity``, ``trustedHosts``, ``from``, ``to`` and ``cc``
(``;``-separated), ``subject``, ``htmlTextContent``, ``plainTextContent``,
``attachments`` and ``embeddedImages`` (internal storage files), ``accessToken``
(SMTP_OAUTH2). Every property takes expressions. The password and the access
token are masked in logs, outputs and errors, whether they come from a secret or not.
"""

from __future__ import annotations

from typing import Any

from engine.sdk import Field, RunContext, RunnableTask, TaskFailed, TaskResult, interruptible, register_task
from lanner_email.message import Attachment, addresses, attachments, build_message
from lanner_email.smtp import DEFAULT_PORTS, SmtpSettings, Strategy, send


@register_task(
    "mail_send",
    "io.kestra.plugin.email.MailSend",
    "io.kestra.plugin.notifications.mail.MailSend",
    group="Email",
    title="Send an email",
    icon="✉️",
    summary="Send an email (HTML and plain text, attachments from internal storage) over SMTP, SMTPS or STARTTLS.",
)
class MailSend(RunnableTask):
    host: str = Field(min_length=1, description="SMTP server host name.")
    port: int | str | None = Field(default=None, description="SMTP port (default 465 for SMTPS, 587 for SMTP_TLS, 25 for SMTP).")
    username: str | None = Field(default=None, description="Login user; {{ secret('SMTP_USER') }}.")
    password: str | None = Field(default=None, description="Login password; {{ secret('SMTP_PASSWORD') }}. Masked in logs.")
    access_token: str | None = Field(default=None, description="OAuth2 access token (transportStrategy SMTP_OAUTH2; default the password). Masked.")
    transport_strategy: Strategy | str = Field(default="SMTPS", description="SMTPS (TLS from the start), SMTP_TLS (STARTTLS required), SMTP (STARTTLS when offered) or SMTP_OAUTH2.")
    session_timeout: int | str = Field(default=10000, description="Milliseconds to wait for the server at each step (default 10000).")
    verify_server_identity: bool | str = Field(default=True, description="Verify the server's certificate and host name (default true).")
    trusted_hosts: list[str] | None = Field(default=None, description="Servers whose certificate is accepted without verification (self-signed relays).")
    from_: str = Field(alias="from", min_length=1, description="Sender address, e.g. Reports <reports@example.com>.")
    to: str | list[str] = Field(description="Recipients, separated by ';' (or a list).")
    cc: str | list[str] | None = Field(default=None, description="Copy recipients, separated by ';' (or a list).")
    subject: str | None = Field(default=None, description="Subject line.")
    html_text_content: str | None = Field(default=None, description="HTML body (mail clients show it instead of the plain text).")
    plain_text_content: str | None = Field(default=None, description="Plain-text body (default: a line asking for an HTML-capable client).")
    attachments: list[Attachment] | str | None = Field(default=None, description="Files to attach: [{uri, name, contentType}], or their JSON text.")
    embedded_images: list[Attachment] | str | None = Field(default=None, description="Images for the HTML body, which refers to each by cid:NAME (its name) in an img tag's src.")

    def run(self, ctx: RunContext) -> TaskResult:
        settings = self._settings(ctx)
        to = addresses(ctx.render(self.to), "to")
        cc = addresses(ctx.render(self.cc), "cc") if self.cc is not None else []
        if not to:
            raise TaskFailed("to: at least one recipient is required")
        sender = str(ctx.render(self.from_)).strip()
        addresses(sender, "from")
        message = build_message(
            ctx,
            sender=sender,
            to=to,
            cc=cc,
            subject=_opt(ctx, self.subject),
            html=_opt(ctx, self.html_text_content),
            plain=_opt(ctx, self.plain_text_content),
            files=attachments(ctx, self.attachments, "attachments"),
            images=attachments(ctx, self.embedded_images, "embeddedImages"),
        )
        ctx.logger.info(f"Sending an email to {', '.join(to + cc)} through {settings.where} ({settings.strategy})")
        refused = interruptible(ctx, lambda: send(settings, message, to + cc), what="sending the email")
        if refused:
            ctx.logger.warn("Refused recipients: " + ", ".join(f"{a} ({code})" for a, (code, _t) in refused.items()))
        ctx.logger.info("Email sent")
        return TaskResult({})

    def _settings(self, ctx: RunContext) -> SmtpSettings:
        strategy = ctx.render_as(self.transport_strategy, Strategy, "transportStrategy")
        password = _opt(ctx, self.password)
        token = _opt(ctx, self.access_token)
        for value in (password, token):
            ctx.add_secret(value)
        credential = (token or password) if strategy == "SMTP_OAUTH2" else password
        if strategy == "SMTP_OAUTH2" and not credential:
            raise TaskFailed("transportStrategy SMTP_OAUTH2 needs accessToken (or password)")
        port = ctx.render_as(self.port, int, "port") if self.port is not None else DEFAULT_PORTS[strategy]
        timeout_ms = ctx.render_as(self.session_timeout, int, "sessionTimeout")
        return SmtpSettings(
            host=str(ctx.render(self.host)).strip(),
            port=port,
            strategy=strategy,
            timeout=max(0.1, timeout_ms / 1000),
            username=_opt(ctx, self.username),
            credential=credential,
            verify=ctx.render_as(self.verify_server_identity, bool, "verifyServerIdentity"),
            trusted_hosts=[str(h) for h in ctx.render(self.trusted_hosts or [])],
        )


def _opt(ctx: RunContext, value: Any) -> str | None:
    return None if value is None else str(ctx.render(value))
