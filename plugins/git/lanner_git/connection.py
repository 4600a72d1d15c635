"""Reaching a git repository: Kestra's connection properties, the clone itself (dulwich), one-sentence errors.

HTTP(S) URLs log in with ``username`` and ``password`` (a personal access
token); SSH URLs (``git@host:org/repo.git``) with ``privateKey``, through the
machine's ``ssh`` client. The password, the key and any credentials written in
the URL are masked like secrets in logs, outputs and errors. A clone runs in a
helper thread so that a kill or the task's ``timeout`` stops the attempt at once.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from engine.sdk import Field, LannerModel, RunContext, TaskFailed, interruptible


class KestraAuth(LannerModel):
    """Kestra's ``auth`` (credentials of the Kestra API): accepted, unused (Lanner deploys in-process)."""

    username: str | None = Field(default=None, description="Unused by Lanner.")
    password: str | None = Field(default=None, description="Unused by Lanner.")
    auto: bool | None = Field(default=None, description="Unused by Lanner.")


class GitConnection(LannerModel):
    """Where the repository is and how to log in (Kestra's ``AbstractGitTask`` properties)."""

    url: str = Field(min_length=1, description="Repository URL: https://host/org/repo.git, git@host:org/repo.git or a local path.")
    username: str | None = Field(default=None, description="HTTP user (with a token as password: any non-empty name, e.g. git).")
    password: str | None = Field(default=None, description="HTTP password or personal access token; {{ secret('GITHUB_TOKEN') }}. Masked.")
    private_key: str | None = Field(default=None, description="PEM private key for SSH URLs; {{ secret('SSH_KEY') }}. Masked.")
    passphrase: str | None = Field(default=None, description="Passphrase of privateKey (not supported: use a key without one).")
    trusted_ca_pem_path: str | None = Field(default=None, description="PEM file of extra certificate authorities for HTTPS.")
    no_proxy: bool | None = Field(default=None, description="Accepted for Kestra compatibility; proxies come from the environment.")
    connect_timeout: int | str | None = Field(default=None, description="Accepted for Kestra compatibility (milliseconds); the task's timeout bounds the clone.")
    read_timeout: int | str | None = Field(default=None, description="Accepted for Kestra compatibility (milliseconds); the task's timeout bounds the clone.")
    git_config: dict[str, Any] | None = Field(default=None, description="git config entries set in the cloned repository, e.g. core.autocrlf: false.")
    clone_submodules: bool | str | None = Field(default=None, description="Clone submodules too (default false).")
    kestra_url: str | None = Field(default=None, description="Accepted for Kestra compatibility; unused (Lanner needs no API URL).")
    auth: KestraAuth | None = Field(default=None, description="Accepted for Kestra compatibility; unused.")

    def clone_into(self, ctx: RunContext, target: Path, *, branch: str | None, depth: int | None) -> Any:
        """Clone into ``target`` (which must not exist or be empty); the dulwich ``Repo``."""
        url = str(ctx.render(self.url)).strip()
        username, password = text_or_none(ctx, self.username), text_or_none(ctx, self.password)
        ctx.add_secret(password)
        split = urlsplit(url) if "://" in url else None
        if split is not None and split.password:  # credentials written in the URL
            ctx.add_secret(unquote(split.password))
            ctx.add_secret(split.password)
            username, password = username or unquote(split.username or ""), password or unquote(split.password)
            url = url.replace(split.netloc, split.netloc.rsplit("@", 1)[-1], 1)
        if self.passphrase is not None:
            ctx.add_secret(text_or_none(ctx, self.passphrase))
            raise TaskFailed("passphrase: keys protected by a passphrase are not supported; use a deploy key without one")
        options: dict[str, Any] = {}
        if username or password:
            options.update(username=username or "git", password=password or "")
        key_file = self._key_file(ctx)
        if key_file is not None:
            options["key_filename"] = str(key_file)
        submodules = ctx.render_as(self.clone_submodules, bool, "cloneSubmodules") if self.clone_submodules is not None else False
        errors = io.BytesIO()
        started = time.monotonic()

        def work() -> Any:
            from dulwich import porcelain

            return porcelain.clone(url, str(target), depth=depth, branch=branch, errstream=errors,
                                   recurse_submodules=submodules, config=self._dulwich_config(ctx), **options)

        try:
            ctx.logger.info(f"Cloning {url}" + (f" (branch {branch})" if branch else "") + (f", depth {depth}" if depth else ""))
            repo = interruptible(ctx, lambda: _explained(work, url, branch), what=f"cloning {url}")
        finally:
            if key_file is not None:
                shutil.rmtree(key_file.parent, ignore_errors=True)
        self._apply_git_config(ctx, repo)
        ctx.logger.info(f"Cloned {url} at {repo.head().decode()[:12]} in {time.monotonic() - started:.2f}s")
        return repo

    def _key_file(self, ctx: RunContext) -> Path | None:
        if self.private_key is None:
            return None
        key = str(ctx.render(self.private_key)).strip() + "\n"
        ctx.add_secret(key.strip())
        folder = Path(tempfile.mkdtemp(prefix="lanner-git-key-"))
        path = folder / "id"
        path.write_text(key, encoding="utf-8")
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
        return path

    def _dulwich_config(self, ctx: RunContext) -> Any:
        if self.trusted_ca_pem_path is None:
            return None
        from dulwich.config import ConfigDict

        pem = str(ctx.render(self.trusted_ca_pem_path))
        if not os.path.isfile(pem):
            raise TaskFailed(f"trustedCaPemPath: {pem} is not a file")
        config = ConfigDict()
        config.set((b"http",), b"sslCAInfo", pem.encode())
        return config

    def _apply_git_config(self, ctx: RunContext, repo: Any) -> None:
        if not self.git_config:
            return
        config = repo.get_config()
        for key, value in (ctx.render(self.git_config) or {}).items():
            section, _, name = str(key).rpartition(".")
            if not section or not name:
                ctx.logger.warn(f"gitConfig key {key!r} is not section.name (e.g. core.autocrlf): ignored")
                continue
            first, _, sub = section.partition(".")
            value_text = str(value).lower() if isinstance(value, bool) else str(value)
            config.set((first.encode(), sub.encode()) if sub else (first.encode(),), name.encode(), value_text.encode())
        config.write_to_path()


def _explained(work: Any, url: str, branch: str | None) -> Any:
    """Run the clone; turn dulwich's and urllib3's failures into one sentence naming the repository."""
    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

    try:
        return work()
    except HTTPUnauthorized:
        raise TaskFailed(f"The git server refused the credentials for {url}: check username and password (token)") from None
    except NotGitRepository:
        raise TaskFailed(f"No git repository at {url}: check the url") from None
    except ValueError as exc:
        if branch and "not a valid branch" in str(exc):
            raise TaskFailed(f"Branch or tag {branch!r} does not exist in {url}") from None
        raise TaskFailed(f"Cloning {url} failed: {exc}") from None
    except HangupException as exc:
        raise TaskFailed(f"The git server of {url} hung up: {' '.join(str(exc).split()) or 'check the url and the SSH key'}") from None
    except GitProtocolError as exc:
        text = str(exc)
        reason = text.split("Caused by", 1)[-1].strip(" ()") if "Caused by" in text else text
        if "Connection refused" in reason:
            reason = "connection refused"
        elif "Name or service not known" in reason or "nodename nor servname" in reason:
            reason = "unknown host"
        raise TaskFailed(f"Could not reach the git server of {url}: {' '.join(reason.split())[:300]}") from None
    except OSError as exc:
        raise TaskFailed(f"Cloning {url} failed: {exc.strerror or exc}") from None


def scratch_dir(ctx: RunContext, purpose: str) -> Path:
    """An empty folder for a clone the task throws away (under LANNER_HOME/tmp when there is one)."""
    base = Path(ctx.home) / "tmp" if ctx.home is not None else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"lanner-{purpose}-{ctx.task_id}-", dir=base))


def text_or_none(ctx: RunContext, value: Any) -> str | None:
    """A rendered optional property: None when unset or blank."""
    return None if value is None else (str(ctx.render(value)).strip() or None)
