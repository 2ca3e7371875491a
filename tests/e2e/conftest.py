"""End-to-end helpers: the real ASGI app under daphne, driven by Debian's Chromium.

The server is a daphne subprocess so that HTTP and WebSockets share one
process (an in-memory channel layer reaches no other). It uses the test
database: PostgreSQL directly (the test is transactional, so what the test
writes is committed), SQLite through a file copy of the in-memory test
database, taken after the test's setup.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_env(tmp_path: Path) -> dict[str, str]:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return {"DATABASE_URL": f"postgres://{auth}@{host}/{db['NAME']}"}
    if connection.vendor == "sqlite":
        path = tmp_path / "e2e.sqlite3"
        connection.ensure_connection()
        with contextlib.closing(sqlite3.connect(path)) as target:
            connection.connection.backup(target)
        return {"SQLITE_PATH": str(path)}
    raise pytest.UsageError(f"no end-to-end server for {connection.vendor}")


class DaphneServer:
    """``daphne netra_site.asgi:application`` on a free port; ``restart()`` keeps the port."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "daphne.log"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH")}
        env.update(_database_env(tmp_path))
        env.update({
            "DJANGO_SETTINGS_MODULE": "netra_site.test_settings",  # the same password hasher
            "NETRA_EMBEDDED_BEAT": "0",
            "DEBUG": "True",
            "PYTHONUNBUFFERED": "1",
            # With Redis, keep this server's groups apart from anything else on the same DB.
            "CHANNEL_PREFIX": f"netra-e2e-{self.port}",
            "CACHE_KEY_PREFIX": f"netra-e2e-{self.port}",
        })
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        daphne = Path(sys.executable).with_name("daphne")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "netra_site.asgi:application"],
                cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/accounts/login/", timeout=2).close()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"daphne did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def daphne_server(tmp_path: Path):
    server = DaphneServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
