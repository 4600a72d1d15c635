"""A throwaway PostgreSQL cluster for the tests (pytest plugin: fixtures ``pg_cluster``, ``pg_url``).

The cluster lives in a temporary directory on a free 127.0.0.1 port, one per
test session; each test gets its own fresh database. When ``LANNER_TEST_POSTGRES``
holds a URL, that server is used instead. These tests never skip: when no
cluster can start, they fail with the reason.

PostgreSQL refuses to run as root, so as root the server binaries run as the
``postgres`` user through ``runuser``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-c", " ".join(cmd)]


class PgCluster:
    """One PostgreSQL server started from scratch (initdb, pg_ctl)."""

    def __init__(self, base: Path | None = None, *, durable: bool = False):
        #: fsync and synchronous commits on: needed when a test crashes the server (stop -m immediate),
        #: otherwise the last committed transactions are lost, which no production setup would do.
        self.durable = durable
        self.dir = Path(base or tempfile.mkdtemp(prefix="lanner-pg-"))
        os.chmod(self.dir, 0o777)
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "server.log"
        self.admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str], timeout: float = 60) -> None:
        proc = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()} {log}")

    def init(self) -> PgCluster:
        for tool in ("initdb", "pg_ctl"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"PostgreSQL tests need `{tool}` on PATH (or LANNER_TEST_POSTGRES set to a server URL)")
        self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        return self

    def start(self) -> PgCluster:
        fast = "" if self.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200" + fast
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start"])
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.data.exists():
            self._run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"])

    def restart(self, down_seconds: float = 0) -> None:
        import time

        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self) -> str:
        return create_database(self.admin_url)


def create_database(admin_url: str) -> str:
    """Create a fresh database on the server of ``admin_url`` and return its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster | str]:
    """The session's PostgreSQL: a PgCluster, or the admin URL from LANNER_TEST_POSTGRES."""
    url = os.environ.get("LANNER_TEST_POSTGRES")
    if url:
        yield url
        return
    cluster = PgCluster()
    try:
        cluster.init().start()
    except Exception as exc:  # noqa: BLE001 - fail with the reason, never skip
        cluster.destroy()
        pytest.fail(f"cannot start a throwaway PostgreSQL cluster: {exc}")
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PgCluster | str) -> str:
    """URL of a fresh, empty database for one test."""
    if isinstance(pg_cluster, str):
        return create_database(pg_cluster)
    return pg_cluster.create_database()


@pytest.fixture
def own_pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCluster]:
    """A private, durable cluster a test may crash and restart (fault tests)."""
    cluster = PgCluster(durable=True)
    try:
        cluster.init().start()
    except Exception as exc:  # noqa: BLE001
        cluster.destroy()
        pytest.fail(f"cannot start a throwaway PostgreSQL cluster: {exc}")
    yield cluster
    cluster.destroy()
