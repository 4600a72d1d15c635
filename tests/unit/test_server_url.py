"""The server's public URL (links to execution pages in notifications): setting, default, and the link itself."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.runtime.task_services import StoreExecutions
from engine.server.config import ConfigError, load_config


def test_url_comes_from_flag_env_or_file_and_defaults_to_the_bind_address(tmp_path) -> None:
    assert load_config(environ={}, cwd=tmp_path).public_url() == "http://127.0.0.1:8080"
    assert load_config({"port": 9000}, environ={}, cwd=tmp_path).public_url() == "http://127.0.0.1:9000"
    assert load_config(environ={"LANNER_URL": "https://lanner.example.com/"}, cwd=tmp_path).public_url() == "https://lanner.example.com"
    (tmp_path / "lanner.yaml").write_text("server:\n  url: https://from-file.example.com\n")
    assert load_config(environ={}, cwd=tmp_path).url == "https://from-file.example.com"
    assert load_config({"url": "http://flag.example.com:81"}, environ={}, cwd=tmp_path).url == "http://flag.example.com:81"


def test_a_url_that_is_not_http_names_its_source(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"LANNER_URL: 'lanner.example.com' is not an http:// or https:// URL"):
        load_config(environ={"LANNER_URL": "lanner.example.com"}, cwd=tmp_path)


def test_execution_page_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_URL", raising=False)
    runner = SimpleNamespace(public_url=None, store=None)
    assert StoreExecutions(runner, "current").page_url("abc") is None  # no known URL: no link
    monkeypatch.setenv("LANNER_URL", "https://env.example.com/")
    assert StoreExecutions(runner, "current").page_url("abc") == "https://env.example.com/ui/execution?id=abc"
    runner.public_url = "http://10.0.0.5:8080"
    assert StoreExecutions(runner, "current").page_url("a b") == "http://10.0.0.5:8080/ui/execution?id=a%20b"
