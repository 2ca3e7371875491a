"""Local stand-ins for the world outside the test: a fake model provider that answers the
official openai and anthropic SDKs with recorded-shaped responses, and a TCP proxy that
can be killed and restarted in front of the live Netra server."""

from __future__ import annotations

import copy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Recorded-shaped usage: a cache-heavy OpenAI call and a cache-writing Anthropic call.
OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
    },
}
# gpt-4o: 176 x 2.50 + 1024 x 1.25 + 300 x 10.00 per million
OPENAI_COST = "0.00472"

ANTHROPIC_USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 10000,
    "output_tokens": 400,
    "service_tier": "standard",
}
# claude-sonnet-4-6: 50 x 3.00 + 2000 x 3.75 + 10000 x 0.30 + 400 x 15.00 per million
ANTHROPIC_COST = "0.01665"


def openai_completion(usage: dict) -> dict:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-2024-08-06",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }


def openai_chunks(usage: dict | None) -> list[dict]:
    base = {"id": "chatcmpl-stream1", "object": "chat.completion.chunk", "created": 1741569952,
            "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_fc9f1d7035", "service_tier": "default"}
    with_usage = usage is not None
    pieces = [
        {"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "logprobs": None,
         "finish_reason": None},
        {"index": 0, "delta": {"content": "Hello"}, "logprobs": None, "finish_reason": None},
        {"index": 0, "delta": {"content": " there."}, "logprobs": None, "finish_reason": None},
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"},
    ]
    chunks = [{**base, "choices": [p], **({"usage": None} if with_usage else {})} for p in pieces]
    if with_usage:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


# The Responses API shape of the same call: 1200 in (1024 cached), 300 out of which 120 reasoning.
RESPONSES_USAGE = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1024},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 120},
    "total_tokens": 1500,
}
# gpt-4o prices reasoning as output: the same 0.00472
RESPONSES_COST = OPENAI_COST


def openai_response(usage: dict | None, status: str = "completed") -> dict:
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc054267",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "model": "gpt-4o-2024-08-06",
        "output": [] if usage is None else [{
            "type": "message", "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6", "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": "Hello there.", "annotations": []}],
        }],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def responses_events(usage: dict) -> list[tuple[str, dict]]:
    return [
        ("response.created", {"type": "response.created", "sequence_number": 0,
                              "response": openai_response(None, "in_progress")}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 1,
                                        "item_id": "msg_1", "output_index": 0, "content_index": 0,
                                        "delta": "Hello there.", "logprobs": []}),
        ("response.completed", {"type": "response.completed", "sequence_number": 2,
                                "response": openai_response(usage)}),
    ]


def anthropic_message(usage: dict) -> dict:
    return {
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "Hello there."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def anthropic_events(usage: dict) -> list[tuple[str, dict]]:
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"}
    start_usage["output_tokens"] = 1
    message = {**anthropic_message(start_usage), "content": [], "stop_reason": None}
    return [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": " there."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": usage["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]


class FakeProvider:
    """OpenAI Chat Completions at /v1/chat/completions and Responses at /v1/responses,
    Anthropic Messages at /v1/messages.

    ``requests`` keeps every JSON body received; ``fail_next`` answers the next N calls
    with a 500 provider error.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.openai_usage = copy.deepcopy(OPENAI_USAGE)
        self.anthropic_usage = copy.deepcopy(ANTHROPIC_USAGE)
        self.responses_usage = copy.deepcopy(RESPONSES_USAGE)
        self.fail_next = 0
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with provider._lock:
                    provider.requests.append({"path": self.path, "body": body})
                    fail = provider.fail_next > 0
                    provider.fail_next -= 1 if fail else 0
                if fail:
                    return self._json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
                if self.path.endswith("/chat/completions"):
                    wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    if body.get("stream"):
                        chunks = openai_chunks(provider.openai_usage if wants_usage else None)
                        return self._sse([(None, c) for c in chunks] + [(None, "[DONE]")])
                    return self._json(200, openai_completion(provider.openai_usage))
                if self.path.endswith("/responses"):
                    if body.get("stream"):
                        return self._sse(responses_events(provider.responses_usage))
                    return self._json(200, openai_response(provider.responses_usage))
                if self.path.endswith("/messages"):
                    if body.get("stream"):
                        return self._sse(anthropic_events(provider.anthropic_usage))
                    return self._json(200, anthropic_message(provider.anthropic_usage))
                return self._json(404, {"error": {"message": "not found"}})

            def _json(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _sse(self, events):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for name, data in events:
                    text = data if isinstance(data, str) else json.dumps(data)
                    prefix = f"event: {name}\n" if name else ""
                    self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def calls(self, suffix: str) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"].endswith(suffix)]

    def stop(self) -> None:
        # shutdown() waits for serve_forever to notice; never let teardown hang on it.
        stopper = threading.Thread(target=self.server.shutdown, daemon=True)
        stopper.start()
        stopper.join(timeout=10)
        self.server.server_close()


class TcpProxy:
    """A TCP forwarder on a fixed port in front of the live server, to kill and revive.

    ``stop()`` closes the port (clients get connection refused, as from a dead server);
    ``start()`` opens the same port again. ``drop_responses = n`` forwards the next n
    requests but swallows their answers, as when a server stores a record and dies
    before replying.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.drop_responses = 0
        self._sock: socket.socket | None = None
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._running.set()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread:
            self._thread.join()
        if self._sock:
            self._sock.close()
            self._sock = None
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except OSError:
                    pass
            self._conns.clear()

    def _accept_loop(self) -> None:
        while self._running.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                drop = self.drop_responses > 0
                self.drop_responses -= 1 if drop else 0
            threading.Thread(target=self._serve, args=(client, drop), daemon=True).start()

    def _serve(self, client: socket.socket, drop: bool) -> None:
        upstream = socket.create_connection(self.target)
        with self._lock:
            self._conns += [client, upstream]
        up = threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True)
        up.start()
        self._pump(upstream, client, drop)
        up.join(timeout=5)
        for s in (client, upstream):
            try:
                s.close()
            except OSError:
                pass

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, discard: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not discard:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
