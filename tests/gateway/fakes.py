"""Fake OpenAI and Anthropic APIs (an ASGI app) and a uvicorn server in a thread, all on loopback.

The fake answers Chat Completions, Responses, Embeddings and Messages, whole or streamed, with fixed
usage figures; ``mode`` makes it fail (``status_500``), stream slowly (``slow``) or break a stream off
(``cut``). Every request it gets is kept in ``requests``. The benchmark (bench/gateway.py) uses it too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import struct
import threading
import time

import uvicorn

WORDS = ["Hello", " from", " the", " fake", " model", "."]
CHAT_USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
              "prompt_tokens_details": {"cached_tokens": 20}, "completion_tokens_details": {"reasoning_tokens": 0}}
RESPONSES_USAGE = {"input_tokens": 80, "output_tokens": 25, "total_tokens": 105,
                   "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 5}}
EMBEDDINGS_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
ANTHROPIC_START_USAGE = {"input_tokens": 100, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 50,
                         "output_tokens": 1}
ANTHROPIC_USAGE = {**ANTHROPIC_START_USAGE, "output_tokens": 40}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sse(data: dict | str, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {text}\n\n".encode()


class FakeProvider:
    """An ASGI app speaking OpenAI's and Anthropic's APIs with fixed answers."""

    def __init__(self, *, delay: float = 0.0, keep: bool = True) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"
        self.delay = delay  # between streamed events ("slow" mode makes it 0.2 s)
        self.keep = keep  # the benchmark keeps nothing
        self.disconnects = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.loads(body or b"{}")
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if self.keep:
            self.requests.append({"path": scope["path"], "headers": headers, "body": data})
        if self.mode.startswith("status_"):
            status = int(self.mode[7:])
            error = ({"type": "error", "error": {"type": "api_error", "message": "fake upstream failure"}}
                     if scope["path"].endswith("/messages") else
                     {"error": {"message": "fake upstream failure", "type": "server_error", "param": None,
                                "code": None}})
            return await self._send(send, status, json.dumps(error).encode())
        model = data.get("model", "")
        path = scope["path"]
        if path.endswith("/embeddings"):
            return await self._send(send, 200, json.dumps(self._embeddings(data)).encode())
        if data.get("stream"):
            events = {"/v1/chat/completions": self._chat_events, "/v1/responses": self._responses_events,
                      "/v1/messages": self._messages_events}[path](data, model)
            return await self._stream(receive, send, events)
        whole = {"/v1/chat/completions": self._chat, "/v1/responses": self._response,
                 "/v1/messages": self._message}[path](model)
        await self._send(send, 200, json.dumps(whole).encode())

    async def _send(self, send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"req_fake")]})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, receive, send, events: list[bytes]) -> None:
        gone = asyncio.Event()

        async def listen() -> None:  # the gateway closing its upstream connection
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        listener = asyncio.create_task(listen())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"), (b"x-request-id", b"req_fake")]})
        delay = 0.2 if self.mode == "slow" else self.delay
        try:
            for i, event in enumerate(events):
                if gone.is_set():
                    self.disconnects += 1
                    return
                if self.mode == "cut" and i == 4:
                    raise RuntimeError("fake upstream broke the stream off")
                await send({"type": "http.response.body", "body": event, "more_body": True})
                if delay:
                    await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": b""})
        finally:
            listener.cancel()

    # --- OpenAI ------------------------------------------------------------------------------------------
    def _chat(self, model: str) -> dict:
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)},
                             "finish_reason": "stop"}], "usage": CHAT_USAGE}

    def _chat_events(self, data: dict, model: str) -> list[bytes]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        events = [sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": w},
                                            "finish_reason": None}]}) for w in WORDS]
        events.append(sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        if (data.get("stream_options") or {}).get("include_usage"):
            events.append(sse({**base, "choices": [], "usage": CHAT_USAGE}))
        return [*events, sse("[DONE]")]

    def _response(self, model: str, status: str = "completed") -> dict:
        return {"id": "resp_fake", "object": "response", "created_at": int(time.time()), "status": status,
                "model": model, "output": [{"type": "message", "id": "msg_fake", "status": "completed",
                                            "role": "assistant", "content": [
                                                {"type": "output_text", "text": "".join(WORDS), "annotations": []}]}],
                "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                "usage": RESPONSES_USAGE if status == "completed" else None}

    def _responses_events(self, data: dict, model: str) -> list[bytes]:
        started = {**self._response(model, "in_progress"), "output": []}
        events = [sse({"type": "response.created", "sequence_number": 0, "response": started}, "response.created")]
        for i, w in enumerate(WORDS, start=1):
            events.append(sse({"type": "response.output_text.delta", "sequence_number": i, "item_id": "msg_fake",
                               "output_index": 0, "content_index": 0, "delta": w, "logprobs": []},
                              "response.output_text.delta"))
        events.append(sse({"type": "response.completed", "sequence_number": len(WORDS) + 1,
                           "response": self._response(model)}, "response.completed"))
        return events

    def _embeddings(self, data: dict) -> dict:
        inputs = data.get("input")
        count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
        vector = [0.25, -0.5, 1.0]
        encoded = (base64.b64encode(struct.pack("<3f", *vector)).decode()
                   if data.get("encoding_format") == "base64" else vector)
        return {"object": "list", "model": data.get("model"), "usage": EMBEDDINGS_USAGE,
                "data": [{"object": "embedding", "index": i, "embedding": encoded} for i in range(count)]}

    # --- Anthropic ---------------------------------------------------------------------------------------
    def _message(self, model: str) -> dict:
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "".join(WORDS)}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": ANTHROPIC_USAGE}

    def _messages_events(self, data: dict, model: str) -> list[bytes]:
        start = {**self._message(model), "content": [], "stop_reason": None, "usage": ANTHROPIC_START_USAGE}
        events = [sse({"type": "message_start", "message": start}, "message_start"),
                  sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                      "content_block_start")]
        events += [sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
                       "content_block_delta") for w in WORDS]
        events += [sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                   sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}, "message_delta"),
                   sse({"type": "message_stop"}, "message_stop")]
        return events


class ServerThread:
    """uvicorn serving an ASGI app on a free loopback port, in a thread of this process."""

    def __init__(self, app, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def bench_app() -> FakeProvider:
    """The fake for bench/gateway.py (``uvicorn --factory``): keeps no requests, so its memory stays flat."""
    return FakeProvider(keep=False)
