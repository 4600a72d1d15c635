"""The builder loads in the background: the API answers at once, /ui waits for it, a broken one leaves the placeholder."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.api import ui
from engine.api.app import create_app
from engine.local_engine import LocalEngine

pytestmark = pytest.mark.timeout(180)


def test_the_api_answers_while_the_builder_loads_and_ui_pages_wait_for_it(runner) -> None:
    app = create_app(LocalEngine(runner), ui=True)
    loader = app.state.ui_loader
    assert not loader.loaded.is_set(), "creating the app does not import the builder"
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/health").json()["status"] == "UP"
        page = client.get("/ui/flows")
        assert page.status_code == 200 and "bokeh" in page.text.lower()
        assert loader.loaded.is_set() and loader.app is not None
        assert client.get("/api/v1/flows/search").status_code == 200


def test_a_builder_that_fails_to_load_leaves_the_placeholder(runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str):
        raise RuntimeError(f"{name} is broken")

    monkeypatch.setattr(ui.importlib, "import_module", broken)
    with TestClient(create_app(LocalEngine(runner), ui=True), base_url="http://127.0.0.1") as client:
        page = client.get("/ui")
        assert page.status_code == 200 and "The UI is not installed" in page.text
        assert client.get("/health").json()["status"] == "UP"


def test_static_scripts_are_kept_by_the_browser_and_sent_compressed(runner) -> None:
    from pathlib import Path

    import bokeh

    original = (Path(bokeh.__file__).parent / "server" / "static" / "js" / "bokeh.min.js").read_bytes()
    with TestClient(create_app(LocalEngine(runner), ui=True), base_url="http://127.0.0.1") as client:
        for _ in range(2):  # compressed once, then served from memory: the same bytes
            r = client.get("/ui/static/js/bokeh.min.js", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            assert r.headers["cache-control"] == "max-age=3600" and r.headers["vary"] == "Accept-Encoding"
            assert int(r.headers["content-length"]) < len(original) / 3
            assert r.content == original  # httpx decodes gzip
        plain = client.get("/ui/static/js/bokeh.min.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == original
        assert plain.headers["cache-control"] == "max-age=3600"
        missing = client.get("/ui/static/js/nothing-here.js", headers={"Accept-Encoding": "gzip"})
        assert missing.status_code == 404 and "content-encoding" not in missing.headers
