"""What the benchmarks share: percentiles, free ports, and server processes to measure against."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection
from django.test.utils import setup_test_environment, teardown_test_environment

ROOT = Path(__file__).resolve().parent.parent
DAPHNE = str(Path(sys.executable).with_name("daphne"))


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@contextmanager
def scratch_database() -> Iterator[None]:
    """A throwaway database as the test suite makes it (``test_<name>``, migrated), dropped afterwards.

    Call after ``django.setup()``; for the scripts that run the suite's own case tables in-process.
    """
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30, procs: list[subprocess.Popen] = ()) -> None:
    """Until something accepts connections on ``port``; exits if a process of ``procs`` dies first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.2)


class Server:
    """``workers`` daphne processes, each on its own SO_REUSEPORT socket bound to one port,
    so the kernel spreads connections over them (one shared socket would let the first
    worker to wake accept every connection)."""

    def __init__(self, *, env: dict, workers: int, port: int = 0) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="bench-daphne-", suffix=".log", delete=False)
        self.socks, self.procs = [], []
        for _ in range(workers):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(1024)
            port = sock.getsockname()[1]
            fd = sock.fileno()
            os.set_inheritable(fd, True)
            self.socks.append(sock)
            self.procs.append(subprocess.Popen(
                # -v 0: no access log line per request.
                [DAPHNE, "-v", "0", "--fd", str(fd), "netra_site.asgi:application"],
                cwd=ROOT, env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=self.log,
            ))
        self.port = port

    def wait_ready(self, key: str, timeout: float = 60) -> None:
        """Until the app answers an authenticated request, a few times per worker (so each is warm)."""
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    sys.exit(f"daphne exited: {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/models", headers={"Authorization": f"Bearer {key}"})
                if conn.getresponse().status == 200:
                    ready += 1
                    if ready >= 4 * len(self.procs):
                        return
                conn.close()
            except OSError:
                time.sleep(0.2)
        sys.exit("server did not become ready")

    def log_tail(self) -> str:
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for sock in self.socks:
            sock.close()
