"""Server configuration: flags, then ``LANNER_*`` environment variables, then ``lanner.yaml``, then defaults.

``lanner.yaml`` (in the working directory, or ``--config FILE``) holds the same
settings in camelCase, at the top level or under ``server:``::

    server:
      host: 127.0.0.1
      port: 8080
      flows: flows
      workers: 8
      grace: 30
      maxBody: 10MiB
      allowedHosts: [lanner.example.com]
      url: https://lanner.example.com
      auth:
        users: ["admin:change-me"]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from engine.api.request_guard import parse_hosts
from engine.api.security import parse_users

ENV = {
    "host": "LANNER_HOST",
    "port": "LANNER_PORT",
    "flows": "LANNER_FLOWS",
    "workers": "LANNER_WORKERS",
    "grace": "LANNER_GRACE",
    "home": "LANNER_HOME",
    "database_url": "LANNER_DATABASE_URL",
    "auth_users": "LANNER_AUTH_USERS",
    "max_body": "LANNER_MAX_BODY",
    "log_level": "LANNER_LOG_LEVEL",
    "watch": "LANNER_WATCH",
    "ui": "LANNER_UI",
    "dask": "LANNER_DASK_ADDRESS",
    "allowed_hosts": "LANNER_ALLOWED_HOSTS",
    "header_timeout": "LANNER_HEADER_TIMEOUT",
    "run_docker_as_process": "LANNER_RUN_DOCKER_AS_PROCESS",
    "url": "LANNER_URL",
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024, "m": 10**6, "mb": 10**6, "mi": 2**20, "mib": 2**20, "g": 10**9, "gb": 10**9, "gi": 2**30, "gib": 2**30}


class ConfigError(ValueError):
    """A setting with a bad value; the message names it and where it came from."""


def parse_size(value: object) -> int:
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a size such as 10485760, 512KiB or 10MiB")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


class ServerConfig(BaseModel):
    """Every setting of ``lanner server local``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)

    host: str = Field(default="127.0.0.1", description="Address to bind (127.0.0.1 keeps the server private to this machine).")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port.")
    flows: Path = Field(default=Path("flows"), description="Directory of flow YAML files deployed at start and re-deployed on change.")
    workers: int | None = Field(default=None, ge=1, le=1024, description="Worker threads running task attempts (default: 4 x CPUs, at least 4).")
    grace: float = Field(default=30.0, ge=0, le=3600, description="Seconds running attempts may take to finish after SIGTERM.")
    home: Path | None = Field(default=None, description="LANNER_HOME: embedded database and internal storage (default ./.lanner).")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the store (default SQLite in home).")
    auth_users: dict[str, str] = Field(default_factory=dict, validation_alias=AliasChoices("authUsers", "auth_users", "auth"), description="Basic-auth users, 'user:password,...'.")
    max_body: int = Field(default=10 * 1024 * 1024, ge=1024, validation_alias=AliasChoices("maxBody", "max_body"), description="Largest request body in bytes (413 beyond).")
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    watch: bool = Field(default=True, description="Re-deploy flow files when they change (polled every second).")
    ui: bool = Field(default=True, description="Load the builder UI at /ui (a placeholder page when off or not installed).")
    dask: str | None = Field(default=None, description="Dask scheduler address (tcp://HOST:8786): runnable task attempts go to that cluster instead of local threads.")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host names the server answers to besides localhost, 127.0.0.1, [::1] and the bind address ('*.example.com' wildcards; '*' = any).")
    header_timeout: float = Field(default=10.0, gt=0, le=3600, description="Seconds a client has to send a request's headers before the connection is closed.")
    run_docker_as_process: bool = Field(
        default=False,
        description="Run script tasks meant for a Docker container (taskRunner Docker, containerImage) as processes on "
        "this host instead of refusing them; each attempt logs a WARNING that the image is ignored.",
    )
    url: str | None = Field(default=None, description="Public URL of the server, as users reach it (links to execution pages in notifications); default http://HOST:PORT.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not re.match(r"^https?://[^/\s]+", v.strip()):
            raise ValueError(f"{v!r} is not an http:// or https:// URL such as https://lanner.example.com")
        return v.strip().rstrip("/")

    def public_url(self) -> str:
        """``url``, else the address the server binds (the machine's name when it binds every interface)."""
        if self.url:
            return self.url
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            import socket

            host = socket.getfqdn()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, v: Any) -> list[str]:
        return parse_hosts(v)

    @field_validator("auth_users", mode="before")
    @classmethod
    def _users(cls, v: Any) -> dict[str, str]:
        if isinstance(v, dict) and "users" in v:
            v = v["users"]
        return parse_users(v)

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, v: object) -> int:
        return parse_size(v)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError(f"'{v}' is not a log level (debug, info, warning, error)")
        return v.lower()


def _describe(exc: ValidationError, origin: dict[str, str]) -> str:
    e = exc.errors()[0]
    field = str(e["loc"][0]) if e["loc"] else "?"
    msg = str(e["msg"]).removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown setting"
    return f"{origin.get(field, field)}: {msg}"


def load_config(flags: dict[str, Any] | None = None, *, environ: dict[str, str] | None = None, config_file: Path | None = None, cwd: Path | None = None) -> ServerConfig:
    """Merge the sources (flags > environment > lanner.yaml > defaults) into a validated config."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    path = config_file or (Path(cwd or ".") / "lanner.yaml")
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"--config {config_file}: no such file")
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("server"), dict):
            data = data["server"]
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        for key, value in data.items():
            values[str(key)] = value
            origin[str(key)] = f"{path}: {key}"
    for name, var in ENV.items():
        if var in environ and environ[var] != "":
            alias = to_camel(name)
            values.pop(name, None)
            values[alias] = environ[var]
            origin[alias] = var
    for name, value in (flags or {}).items():
        if value is not None:
            alias = to_camel(name)
            values.pop(name, None)
            values[alias] = value
            origin[alias] = "--" + name.replace("_", "-")
    if "auth" in values and "authUsers" in values:
        values.pop("auth")
    try:
        return ServerConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
