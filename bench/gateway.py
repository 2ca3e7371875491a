#!/usr/bin/env python3
"""Gateway benchmark: what the gateway adds to a call, against a local fake provider.

    .venv/bin/python bench/gateway.py [--calls 300] [--streams 1000] [--database-url postgres://...]

1. a throwaway database (SQLite file by default; ``--database-url`` for PostgreSQL, dropped and
   recreated), migrated, with the default catalog and a bench user's key;
2. the fake OpenAI API of the test suite (tests/gateway/fakes.py) under uvicorn, in a process of its own;
3. the gateway as ``make serve`` runs it: daphne serving ``netra_site.asgi`` (DEBUG off), pointed at the
   fake with NETRA_OPENAI_BASE_URL / NETRA_OPENAI_API_KEY;
4. ``--calls`` Chat Completions, whole, alternately straight to the fake and through the gateway
   (one keep-alive client each): added latency = p50(gateway) - p50(direct);
5. ``--calls`` streamed ones the same way: time to first token (the first content chunk) added;
6. ``--streams`` streamed calls through the gateway, the gateway process' RSS read before and every
   quarter, after 100 warm-up calls; then every call's usage record is counted in the database.
Targets (issue 16): added p50 <= 5 ms, time to first token added <= 10 ms, memory flat.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from harness import DAPHNE, ROOT, free_port, percentile, wait_for_port

PYTHON = sys.executable
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 64}


def run(cmd: list[str], env: dict) -> str:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (what it costs, whatever the machine's load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_env(url: str | None, tmp: Path) -> dict[str, str]:
    if not url:
        return {"SQLITE_PATH": str(tmp / "bench-gateway.sqlite3")}
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = parts.path.lstrip("/")
    for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-qc", sql], check=True)
    return {"DATABASE_URL": url}


def records_count(env: dict) -> int:
    if "SQLITE_PATH" in env:
        with sqlite3.connect(env["SQLITE_PATH"]) as db:
            return db.execute("SELECT count(*) FROM tokens_usagerecord").fetchone()[0]
    out = subprocess.run(["psql", env["DATABASE_URL"], "-tAc", "SELECT count(*) FROM tokens_usagerecord"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def timed_call(client: httpx.Client, url: str, headers: dict) -> float:
    started = time.perf_counter()
    response = client.post(url, json=BODY, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def first_token(client: httpx.Client, url: str, headers: dict) -> float:
    """Seconds until the first chunk that carries content; the stream is then read to its end."""
    started, first = time.perf_counter(), None
    with client.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            if first is None and b'"content"' in chunk:
                first = time.perf_counter() - started
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default=None, help="py-spy raw stacks of the gateway during the whole calls")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "REDIS_URL")}
    env.update(database_env(args.database_url, tmp))
    fake_port, gateway_port = free_port(), free_port()
    env.update({"DJANGO_SETTINGS_MODULE": "netra_site.settings", "DEBUG": "False", "SECRET_KEY": "bench-" + "x" * 50,
                "ALLOWED_HOSTS": "127.0.0.1", "NETRA_EMBEDDED_BEAT": "0", "LOG_LEVEL": "WARNING",
                "NETRA_OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1", "NETRA_OPENAI_API_KEY": "sk-bench",
                "NETRA_THROTTLE_USER": "", "PYTHONPATH": str(ROOT)})
    run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    run([PYTHON, "manage.py", "import_prices"], env)
    key = run([PYTHON, "manage.py", "create_api_key", "bench", "--create-user", "--name", "bench"],
              env).strip().splitlines()[-1]

    fake = subprocess.Popen([PYTHON, "-m", "uvicorn", "--factory", "tests.gateway.fakes:bench_app", "--port",
                             str(fake_port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
    gateway = subprocess.Popen([DAPHNE, "-v", "0", "-b", "127.0.0.1", "-p", str(gateway_port),
                                "netra_site.asgi:application"], cwd=ROOT, env=env)
    try:
        wait_for_port(fake_port, procs=[fake])
        wait_for_port(gateway_port, procs=[gateway])
        direct_url = f"http://127.0.0.1:{fake_port}/v1/chat/completions"
        gateway_url = f"http://127.0.0.1:{gateway_port}/gateway/openai/v1/chat/completions"
        direct_headers = {"authorization": "Bearer sk-bench"}
        gateway_headers = {"authorization": f"Bearer {key}", "x-netra-agent": "bench"}
        with httpx.Client(timeout=30) as direct, httpx.Client(timeout=30) as through:
            for _ in range(30):  # warm-up: connections, catalog, tokenizer
                timed_call(direct, direct_url, direct_headers)
                timed_call(through, gateway_url, gateway_headers)
            plain_d, plain_g, first_d, first_g = [], [], [], []
            spy = (subprocess.Popen([str(Path(PYTHON).with_name("py-spy")), "record", "--pid", str(gateway.pid),
                                     "--format", "raw", "-o", args.profile, "--rate", "500"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if args.profile else None)
            cpu_before = cpu_seconds(gateway.pid)
            for _ in range(args.calls):
                plain_d.append(timed_call(direct, direct_url, direct_headers))
                plain_g.append(timed_call(through, gateway_url, gateway_headers))
            time.sleep(1)  # the last settlements
            cpu_per_call = (cpu_seconds(gateway.pid) - cpu_before) / args.calls
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            for _ in range(args.calls):
                first_d.append(first_token(direct, direct_url, direct_headers))
                first_g.append(first_token(through, gateway_url, gateway_headers))
            for _ in range(100):
                first_token(through, gateway_url, gateway_headers)
            time.sleep(2)
            memory = [rss_kib(gateway.pid)]
            for _quarter in range(4):
                for _ in range(args.streams // 4):
                    first_token(through, gateway_url, gateway_headers)
                memory.append(rss_kib(gateway.pid))
        expected = 30 + 2 * args.calls + 100 + (args.streams // 4) * 4
        deadline = time.monotonic() + 60
        while (recorded := records_count(env)) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        gateway.terminate()
        fake.terminate()
        gateway.wait(10)
        fake.wait(10)

    ms = 1000
    p50 = lambda xs: percentile(xs, 50) * ms  # noqa: E731
    p95 = lambda xs: percentile(xs, 95) * ms  # noqa: E731
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"gateway benchmark ({backend}, daphne, 1 process; {args.calls} calls per series; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"  whole call      direct p50 {p50(plain_d):6.2f} ms p95 {p95(plain_d):6.2f} | gateway p50 "
          f"{p50(plain_g):6.2f} ms p95 {p95(plain_g):6.2f} | added p50 {p50(plain_g) - p50(plain_d):5.2f} ms (<= 5)")
    print(f"  gateway CPU     {cpu_per_call * ms:.2f} ms per whole call (admission, relay and settlement)")
    print(f"  first token     direct p50 {p50(first_d):6.2f} ms p95 {p95(first_d):6.2f} | gateway p50 "
          f"{p50(first_g):6.2f} ms p95 {p95(first_g):6.2f} | added p50 {p50(first_g) - p50(first_d):5.2f} ms (<= 10)")
    print(f"  memory (RSS)    {' -> '.join(f'{m / 1024:.1f}' for m in memory)} MiB over {args.streams} streamed "
          f"calls: {(memory[-1] - memory[0]) / 1024:+.1f} MiB")
    print(f"  usage records   {recorded} of {expected} calls recorded")
    return 0 if recorded == expected else 1


if __name__ == "__main__":
    sys.exit(main())
