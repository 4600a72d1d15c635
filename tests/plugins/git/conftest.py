"""A real git repository made by the test (dulwich, no git binary), served over smart HTTP on 127.0.0.1 with a login.

Branches of the bare repository ``company.git``:

* ``main``: a README, ``scripts/etl.py``, flows in ``_flows/`` (one in ``_flows/team/``), files in ``_files/``;
* ``next``: ``hello`` changed, the nested flow gone, ``_files/queries/sales.sql`` changed, ``_files/old.txt`` gone;
* ``broken``: an invalid flow next to a valid one;
* tag ``v1`` on main's first commit (README "version 1").
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.flow_runs import runner_with_secrets

USER, TOKEN = "git", "ghp_T3stT0kenForLanner42"

HELLO = "id: hello\nnamespace: somewhere.else\ntasks:\n  - {id: say, type: log, message: hello from git}\n"
HELLO_V2 = "id: hello\nnamespace: somewhere.else\ntasks:\n  - {id: say, type: log, message: hello again from git}\n"
NESTED = "id: nested\nnamespace: x\ntasks:\n  - {id: say, type: return, format: nested}\n"
INVALID = "id: invalid\nnamespace: x\ntasks:\n  - {id: t, type: log}\n"  # log without message

MAIN = {
    "README.md": b"version 2\n",
    "scripts/etl.py": b"print('etl')\n",
    "_flows/hello.yml": HELLO.encode(),
    "_flows/team/nested.yaml": NESTED.encode(),
    "_flows/notes.txt": b"not a flow\n",
    "_files/queries/sales.sql": b"select region, sum(amount) from sales group by region;\n",
    "_files/old.txt": b"to be removed\n",
    "_files/.gitkeep": b"",
}
NEXT = {**{k: v for k, v in MAIN.items() if k not in ("_flows/team/nested.yaml", "_files/old.txt")},
        "_flows/hello.yml": HELLO_V2.encode(),
        "_files/queries/sales.sql": b"select region, sum(amount) as total from sales group by region;\n"}
BROKEN = {"_flows/hello.yml": HELLO.encode(), "_flows/invalid.yml": INVALID.encode()}


@dataclass
class GitRemote:
    http_url: str  # needs USER/TOKEN
    path: Path  # the bare repository, cloned by path
    first_commit: str
    main_commit: str


def _commit(repo: Any, files: dict[str, bytes], parents: list[bytes], message: str, when: int) -> bytes:
    from dulwich.objects import Blob, Commit, Tree

    def tree_of(entries: dict[str, bytes]) -> bytes:
        tree = Tree()
        folders: dict[str, dict[str, bytes]] = {}
        for name, data in entries.items():
            head, _, rest = name.partition("/")
            if rest:
                folders.setdefault(head, {})[rest] = data
            else:
                blob = Blob.from_string(data)
                repo.object_store.add_object(blob)
                tree.add(head.encode(), 0o100644, blob.id)
        for head, sub in folders.items():
            tree.add(head.encode(), 0o040000, tree_of(sub))
        repo.object_store.add_object(tree)
        return tree.id

    commit = Commit()
    commit.tree = tree_of(files)
    commit.parents = parents
    commit.author = commit.committer = b"Lanner Tests <tests@example.com>"
    commit.author_time = commit.commit_time = when
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode()
    repo.object_store.add_object(commit)
    return commit.id


@pytest.fixture(scope="module")
def git_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitRemote]:
    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_server, make_wsgi_chain

    path = tmp_path_factory.mktemp("git-remote") / "company.git"
    path.mkdir()
    repo = Repo.init_bare(str(path))
    first = _commit(repo, {**MAIN, "README.md": b"version 1\n"}, [], "first", 1_700_000_000)
    main = _commit(repo, MAIN, [first], "flows and files", 1_700_000_100)
    repo.refs[b"refs/heads/main"] = main
    repo.refs[b"refs/heads/next"] = _commit(repo, NEXT, [main], "next", 1_700_000_200)
    repo.refs[b"refs/heads/broken"] = _commit(repo, BROKEN, [main], "broken", 1_700_000_300)
    repo.refs[b"refs/tags/v1"] = first
    repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")

    app = make_wsgi_chain(DictBackend({"/company.git": repo}))
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    def with_login(environ: dict[str, Any], start: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Length", "0")])
            return [b""]
        return app(environ, start)

    class Server(WSGIServerLogger):
        def server_bind(self) -> None:  # http.server's looks the host name up in DNS: slow without a network
            import socketserver

            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = "127.0.0.1", self.server_address[1]
            self.setup_environ()

    server = make_server("127.0.0.1", 0, with_login, handler_class=WSGIRequestHandlerLogger, server_class=Server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield GitRemote(f"http://127.0.0.1:{server.server_address[1]}/company.git", path, first.decode(), main.decode())
    server.shutdown()
    server.server_close()


@pytest.fixture
def git_runner(tmp_path: Path) -> Iterator[Any]:
    runner = runner_with_secrets(tmp_path / "home", GIT_TOKEN=TOKEN)
    yield runner
    runner.close()
