"""Lanner plugin: chat notifications through incoming webhooks (Slack, Microsoft Teams, Discord, Google Chat).

Each service has a plain webhook task (``payload`` rendered, then posted) and
an execution-summary task (state, duration, failed task, link to the execution
page), under Kestra's current and older type names. Requests go through
Lanner's HTTP client and its SSRF guard; webhook URLs are masked like secrets.
"""
