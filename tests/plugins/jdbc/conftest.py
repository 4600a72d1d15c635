"""A throwaway MariaDB server on 127.0.0.1 (``make test`` installs Debian's mariadb-server when missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_fixture import free_port


@pytest.fixture(scope="session")
def mariadb() -> Iterator[dict[str, str | int]]:
    """host, port, a user with a password, and a database, on a server started for this session."""
    server, install = shutil.which("mariadbd") or shutil.which("mysqld"), shutil.which("mariadb-install-db")
    if server is None or install is None:
        pytest.skip("no MariaDB server binaries (make test installs Debian's mariadb-server)")
    base = Path(tempfile.mkdtemp(prefix="lanner-mariadb-"))
    port = free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, "--no-defaults", f"--datadir={base / 'data'}", *user, "--auth-root-authentication-method=normal",
                    "--skip-test-db"], check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={base / 'data'}", *user, "--bind-address=127.0.0.1", f"--port={port}",
         f"--socket={base / 'sock'}", f"--pid-file={base / 'pid'}", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
         f"--log-error={base / 'err.log'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        import pymysql

        deadline = time.monotonic() + 60
        while True:
            try:
                conn = pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=2)
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    log = (base / "err.log").read_text(errors="replace")[-2000:] if (base / "err.log").exists() else ""
                    pytest.fail(f"MariaDB did not start: {log}")
                time.sleep(0.2)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE shop")
            cur.execute("CREATE USER 'lanner'@'%' IDENTIFIED BY 'maria-Pa55'")
            cur.execute("GRANT ALL ON shop.* TO 'lanner'@'%'")
        conn.close()
        yield {"host": "127.0.0.1", "port": port, "user": "lanner", "password": "maria-Pa55", "database": "shop"}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)
