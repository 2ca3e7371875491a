"""`make serve`'s process set: HTTP on PORT (gunicorn), WebSockets on WS_PORT (daphne), one command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import websockets
from django.conf import settings

from tests.e2e.conftest import _database_env, free_port
from tokens.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(url: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"nothing answered at {url}")


def test_serve_runs_http_and_websockets_and_stops_on_sigterm(tmp_path, user, catalog):
    _, raw_key = api_key_create(user=user, name="serve")
    port, ws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "REDIS_URL")}
    env.update(_database_env(tmp_path))
    env.update({"DJANGO_SETTINGS_MODULE": "netra_site.test_settings", "DEBUG": "True", "HOST": "127.0.0.1",
                "PORT": str(port), "WS_PORT": str(ws_port), "HTTP_WORKERS": "2"})
    proc = subprocess.Popen([sys.executable, "-m", "netra_site.serve"], cwd=settings.BASE_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        assert wait_for(f"http://127.0.0.1:{port}/accounts/login/", deadline) == 200
        assert wait_for(f"http://127.0.0.1:{ws_port}/accounts/login/", deadline) == 200

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/usage", method="POST",
            data=json.dumps({"request_id": "served", "model": "gpt-4o", "prompt_tokens": 10,
                             "completion_tokens": 2}).encode(),
            headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert (response.status, json.loads(response.read())["request_id"]) == (201, "served")

        async def socket_opens() -> bool:
            async with websockets.connect(f"ws://127.0.0.1:{ws_port}/ws/usage/",
                                          additional_headers={"Authorization": f"Bearer {raw_key}"}) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    return True  # open and quiet: no close code
                return False

        assert asyncio.run(socket_opens())

        # The gateway is answered on WS_PORT by daphne (docs/gateway.md): no provider key is set here,
        # so it says so in OpenAI's error shape. OTLP ingestion is a plain view, on PORT.
        request = urllib.request.Request(
            f"http://127.0.0.1:{ws_port}/gateway/openai/v1/chat/completions", method="POST",
            data=json.dumps({"model": "gpt-4o", "messages": []}).encode(),
            headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 503
        assert json.loads(caught.value.read())["error"]["code"] == "provider_not_configured"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", method="POST", data=b'{"resourceSpans": []}',
            headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert (response.status, json.loads(response.read())) == (200, {})
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "serving: http (pid" in out
