"""`make serve`: the production serving set, one command (docs/serving.md says why these servers).

- HTTP (the API, pages, admin, static files): gunicorn with WSGI workers on ``PORT`` (8000);
- WebSockets (``/ws/``) and the streamed gateway: daphne on ``WS_PORT`` (8001);
- with a broker configured (``REDIS_URL`` / ``CELERY_BROKER_URL``), a Celery worker and Celery beat.

A reverse proxy sends ``/ws/`` (and ``/gateway/``) to ``WS_PORT`` and the rest to ``PORT``
(README: "Serving in production"). Each process is restarted by nobody here: if one exits, the
others are stopped and the command exits with its status, so a supervisor (systemd, a container
runtime) restarts the set. SIGINT/SIGTERM stop them all gracefully.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def commands(environ: dict[str, str]) -> dict[str, list[str]]:
    """The processes to run, by name, from the environment."""
    host = environ.get("HOST") or "0.0.0.0"
    port, ws_port = _env_int("PORT", 8000), _env_int("WS_PORT", 8001)
    cores = os.cpu_count() or 1
    http_workers = _env_int("HTTP_WORKERS", 2 * cores)
    run = {
        "http": [
            str(BIN / "gunicorn"), "netra_site.wsgi:application",
            "--bind", f"{host}:{port}", "--workers", str(http_workers),
            "--worker-class", "gthread", "--threads", str(_env_int("HTTP_THREADS", 4)),
            "--max-requests", "10000", "--max-requests-jitter", "1000",
            "--graceful-timeout", "30", "--timeout", "60", "--access-logfile", "-",
        ],
        "ws": [str(BIN / "daphne"), "-b", host, "-p", str(ws_port), "--proxy-headers",
               "netra_site.asgi:application"],
    }
    if environ.get("CELERY_BROKER_URL") or environ.get("REDIS_URL"):
        run["worker"] = [str(BIN / "celery"), "-A", "netra_site", "worker", "--loglevel", "INFO",
                         "--concurrency", str(_env_int("CELERY_CONCURRENCY", cores))]
        run["beat"] = [str(BIN / "celery"), "-A", "netra_site", "beat", "--loglevel", "INFO"]
    return run


def main() -> int:
    environ = dict(os.environ)
    # The embedded default's in-process scheduler is for `make run`; here Celery beat (or nothing) runs jobs.
    environ.setdefault("NETRA_EMBEDDED_BEAT", "0")
    procs = {name: subprocess.Popen(cmd, env=environ) for name, cmd in commands(environ).items()}
    print("serving: " + ", ".join(f"{name} (pid {p.pid})" for name, p in procs.items()), flush=True)
    stopping = False

    def stop(signum=None, frame=None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"serving: {name} exited with {proc.returncode}; stopping the others", flush=True)
                status, stopping = proc.returncode or 1, True
                break
        else:
            time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 35
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return status


if __name__ == "__main__":
    sys.exit(main())
