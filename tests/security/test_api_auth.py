"""With auth on, nothing but ``/health`` answers without credentials, however the path is spelled.

Every path of the OpenAPI spec (with each of its methods) and of the UI is
sent without credentials, as is and disguised: ``/health`` appended or
prepended with ``..``, ``/./``, ``%2e%2e``, ``//``, mixed case, a trailing
slash, ``;jsessionid=x``, ``%2f``. Each must answer 401, never 404 or
anything else: authentication runs before routing. Webhook URLs are the one
other documented exception (they carry their own key), so their disguises
are checked too: none may reach another route.
"""

from __future__ import annotations

import http.client
import re

import pytest

from tests.security.conftest import PASSWORD, USER, Server, basic, json_body

UI_PATHS = [
    "/", "/ui", "/ui/", "/ui/flows", "/ui/editor", "/ui/execute", "/ui/execution", "/ui/dashboard", "/ui/triggers",
    "/ui/flows/autoload.js", "/ui/static/js/bokeh.min.js", "/ui/static/extensions/panel/panel.min.js",
    "/ui/files/x?uri=lanner:///a/b/executions/x/f", "/ui/flows/ws", "/static/js/bokeh.min.js",
    "/ui/dashboard?id=x", "/ui/dashboard-data?id=x", "/ui/dashboard-drill?id=x&chart=c&point=%7B%7D",
]
OTHER = ["/metrics", "/api/v1/openapi.json", "/docs", "/api/v1/nope", "/nope", "/api", "/healthz", "/health2"]
WEBHOOK = "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}"


def _concrete(path: str) -> str:
    values = {"namespace": "sec.api", "flow_id": "echo", "execution_id": "x", "key": "k", "trigger_id": "t",
              "backfill_id": "b", "action": "pause"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def _disguises(path: str) -> list[str]:
    """The spellings of ``path`` that must not get past authentication."""
    query = ""
    if "?" in path:
        path, query = path.split("?", 1)
        query = "?" + query
    body = path.lstrip("/")
    first, _, rest = body.partition("/")
    mixed = "/" + first.upper() + ("/" + rest if rest else "")
    out = [
        path,
        path.rstrip("/") + "/",
        path.rstrip("/") + "/health",
        "/health/.." + path,
        "/health/%2e%2e" + path,
        "/health%2f..%2f" + body,
        "/health/" + body,
        "/./" + body,
        "/" + first + "/./" + rest if rest else "/./" + body,
        "//" + body,
        "/" + first + "//" + rest if rest else "//" + body,
        mixed,
        path.swapcase() if path.swapcase() != path else path.upper(),
        path + ";jsessionid=x",
        "/health;jsessionid=x",
        "/health;" + body,
        "/" + body.replace("/", "%2f"),
        "/" + body.replace("/", "%2F"),
        "/%2e/" + body,
        "/HEALTH",
        "/health/",
        "/Health",
    ]
    return sorted({p + query for p in out})


def _spec(server: Server) -> dict:
    status, _, raw = server.request("GET", "/api/v1/openapi.json")
    assert status == 200
    return json_body(raw)


def test_the_spec_is_walked_and_credentials_do_open_it(server: Server):
    spec = _spec(server)
    assert len(spec["paths"]) >= 20 and "/api/v1/flows/search" in spec["paths"]
    assert server.request("GET", "/api/v1/flows/search")[0] == 200
    assert server.request("GET", "/api/v1/flows/search", auth=False)[0] == 401
    wrong = {"Authorization": basic(USER, PASSWORD + "x")}
    assert server.request("GET", "/api/v1/flows/search", auth=False, headers=wrong)[0] == 401
    assert server.request("GET", "/api/v1/flows/search", auth=False, headers={"Authorization": basic(USER.upper(), PASSWORD)})[0] == 401
    assert server.request("GET", "/api/v1/flows/search", auth=False, headers={"Authorization": "Bearer " + PASSWORD})[0] == 401
    assert server.request("GET", "/health", auth=False)[0] == 200


def test_every_route_and_disguise_needs_credentials(server: Server):
    spec = _spec(server)
    targets: list[tuple[str, str]] = []
    for path, item in spec["paths"].items():
        if path == "/health":
            continue
        for method in item:
            if method.upper() in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                targets.append((method.upper(), _concrete(path)))
    targets += [("GET", p) for p in UI_PATHS + OTHER]
    targets += [("POST", p) for p in ("/ui/flows", "/api/v1/flows", "/api/v1/executions/sec.api/echo")]
    wrong: list[str] = []
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    sent = 0
    try:
        for method, path in targets:
            if path.startswith("/api/v1/executions/webhook/"):
                continue  # webhooks have their own key: see the next test
            for disguised in _disguises(path):
                if disguised == "/health" or disguised.startswith("/health?"):
                    continue
                conn.request(method, disguised, body=b"{}" if method != "GET" else None,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                sent += 1
                if resp.status != 401 or "basic" not in (resp.getheader("www-authenticate") or "").lower():
                    wrong.append(f"{method} {disguised} -> {resp.status}")
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    finally:
        conn.close()
    assert sent > 500
    assert not wrong, f"{len(wrong)} of {sent} requests were not refused with 401: {wrong[:15]}"


def test_only_the_exact_health_path_is_open(server: Server):
    status, _, raw = server.request("GET", "/health", auth=False)
    assert status == 200 and json_body(raw)["status"] == "UP"
    for path in ("/health/", "/HEALTH", "/health;x", "/health/x", "/health%2f", "/health/.", "/./health/../metrics"):
        assert server.request("GET", path, auth=False)[0] == 401, path


def test_webhook_disguises_reach_no_other_route(server: Server):
    """The open webhook prefix cannot be used to walk to a protected route."""
    base = "/api/v1/executions/webhook"
    attempts = [
        f"{base}/sec.api/echo/k/../../../../flows/search",
        f"{base}/../../flows/search",
        f"{base}/%2e%2e/%2e%2e/%2e%2e/flows/search",
        f"{base}/sec.api/echo/..",
        f"{base}/sec.api/echo/%2e%2e",
        f"{base}/sec.api/..%2f..%2f..%2fflows%2fsearch/k",
        f"{base}/sec.api/echo/k/extra",
        f"{base}/sec.api/echo/k;jsessionid=x/../../../../../metrics",
        f"{base}//sec.api/echo",
    ]
    for path in attempts:
        for method in ("GET", "POST"):
            status, _, raw = server.request(method, path, auth=False)
            assert status in (401, 404), (method, path, status)
            assert b'"results"' not in raw and b"lanner_" not in raw, (path, raw[:200])


@pytest.mark.parametrize("path", ["/ui/flows/ws", "/ui/editor/ws"])
def test_ui_websockets_need_credentials(server: Server, path: str):
    """A UI session over a websocket needs the credentials of the pages, not just a (forgeable) token."""
    from bokeh.util.token import generate_jwt_token, generate_session_id

    token = generate_jwt_token(generate_session_id(secret_key=None, signed=False), secret_key=None, signed=False)
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": f"bokeh, {token}"}
    status, _, _ = server.request("GET", path, headers=headers, auth=False)
    assert status in (401, 403), status
    # The same forged token with credentials opens a session: only authentication stood in the way.
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers={**headers, "Authorization": basic(USER, PASSWORD)})
        assert conn.getresponse().status == 101
    finally:
        conn.close()
