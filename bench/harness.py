"""What the benchmarks share: percentiles, free ports, and server processes to measure against."""

from __future__ import annotations

import http.client
import os
import signal
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
PYTHON = str(ROOT / ".venv" / "bin" / "python")


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


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _wait_ready(port: int, key: str, procs: list[subprocess.Popen], log_tail, *, hits: int,
                timeout: float = 60) -> None:
    """Until the app answers an authenticated request ``hits`` times (so every worker is warm)."""
    deadline = time.monotonic() + timeout
    ready = 0
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                sys.exit(f"server exited: {log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/models", headers={"Authorization": f"Bearer {key}"})
            if conn.getresponse().status == 200:
                ready += 1
                if ready >= hits:
                    return
            conn.close()
        except OSError:
            time.sleep(0.2)
    sys.exit("server did not become ready")


class ServeSet:
    """The production serving set exactly as ``make serve`` starts it (``python -m netra_site.serve``):
    HTTP on ``port`` (gunicorn, ``HTTP_WORKERS`` processes), WebSockets on ``ws_port`` (daphne), and with
    a broker in ``env`` a Celery worker and beat. ``workers`` sets HTTP_WORKERS (None: serve's default)."""

    def __init__(self, *, env: dict, workers: int | None = None, port: int = 0, ws_port: int = 0) -> None:
        self.port, self.ws_port = port or free_port(), ws_port or free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)
        env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WS_PORT": str(self.ws_port)}
        if workers:
            env["HTTP_WORKERS"] = str(workers)
        self.workers = int(env.get("HTTP_WORKERS") or 2 * (os.cpu_count() or 1))
        self.proc = subprocess.Popen([PYTHON, "-m", "netra_site.serve"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.procs = [self.proc]

    def wait_ready(self, key: str, timeout: float = 60) -> None:
        wait_for_port(self.ws_port, timeout=timeout, procs=self.procs)
        _wait_ready(self.port, key, self.procs, self.log_tail, hits=4 * self.workers, timeout=timeout)

    def wait_listening(self, timeout: float = 60) -> None:
        """Until both ports accept connections (the first requests then warm the workers)."""
        wait_for_port(self.ws_port, timeout=timeout, procs=self.procs)
        wait_for_port(self.port, timeout=timeout, procs=self.procs)

    def http_pids(self) -> list[int]:
        """The gunicorn worker processes (where the HTTP requests' Python runs), for py-spy."""
        return [w for master in _children(self.proc.pid) for w in _children(master)]

    def log_tail(self) -> str:
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
        _wait_ready(self.port, key, self.procs, self.log_tail, hits=4 * len(self.procs), timeout=timeout)

    def http_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

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
