"""What the gateway knows of each provider endpoint: its upstream path, the prompt and output cap a
request asks for, where its usage is, its error shape, and how its stream reports usage.

Pure functions over parsed JSON: no I/O, no database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tokens.tokenizer import count_messages, count_text

OPENAI, ANTHROPIC = "openai", "anthropic"


@dataclass(frozen=True)
class Endpoint:
    """One provider operation the gateway relays."""

    provider: str
    name: str  # chat.completions, responses, embeddings, messages
    path: str  # appended to the upstream base URL
    usage_format: str  # tokens.usage_shapes format of its usage object
    streams: bool = True


ENDPOINTS = {
    "chat.completions": Endpoint(OPENAI, "chat.completions", "/chat/completions", "openai_chat"),
    "responses": Endpoint(OPENAI, "responses", "/responses", "openai_responses"),
    "embeddings": Endpoint(OPENAI, "embeddings", "/embeddings", "openai_chat", streams=False),
    "messages": Endpoint(ANTHROPIC, "messages", "/v1/messages", "anthropic"),
}


class BadRequest(Exception):
    """The request body is not one the gateway can account for; answered 400 in the provider's shape."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


# --- errors in each provider's own shape ----------------------------------------------------------------
OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                413: "invalid_request_error", 429: "insufficient_quota", 502: "api_error", 503: "api_error"}
ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                   413: "request_too_large", 429: "rate_limit_error", 502: "api_error", 503: "api_error"}


def error_body(provider: str, status: int, message: str, *, code: str, param: str | None = None) -> dict:
    """``{"error": {...}}`` as OpenAI answers, ``{"type": "error", "error": {...}}`` as Anthropic does."""
    if provider == ANTHROPIC:
        return {"type": "error", "error": {"type": ANTHROPIC_TYPES.get(status, "api_error"), "message": message}}
    return {"error": {"message": message, "type": OPENAI_TYPES.get(status, "api_error"), "param": param,
                      "code": code}}


# --- the request: model, prompt tokens, output cap --------------------------------------------------------
def _int_field(body: dict, *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f"'{name}' must be a non-negative integer.", name)
        return value
    return None


def _messages(value: Any, name: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise BadRequest(f"'{name}' must be a list of message objects.", name)
    return value


def request_model(body: dict) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise BadRequest("'model' is required: a model name of at most 200 characters.", "model")
    return model.strip()


def prompt_tokens(endpoint: Endpoint, body: dict, model: str) -> int:
    """The prompt's tokens counted with the model's tokenizer (what the hold is made of)."""
    provider = endpoint.provider
    if endpoint.name == "chat.completions":
        return count_messages(_messages(body.get("messages"), "messages"), model, provider).tokens
    if endpoint.name == "messages":
        messages = list(_messages(body.get("messages"), "messages"))
        system = body.get("system")
        if system is not None:
            if not isinstance(system, str | list):
                raise BadRequest("'system' must be a string or a list of text blocks.", "system")
            messages.insert(0, {"role": "system", "content": system})
        return count_messages(messages, model, provider).tokens
    if endpoint.name == "responses":
        value, instructions = body.get("input"), body.get("instructions")
        if instructions is not None and not isinstance(instructions, str):
            raise BadRequest("'instructions' must be a string.", "instructions")
        extra = count_text(instructions, model, provider).tokens if instructions else 0
        if isinstance(value, str):
            return count_text(value, model, provider).tokens + extra
        return count_messages(_messages(value or [], "input"), model, provider).tokens + extra
    return _embedding_tokens(body.get("input"), model, provider)


def _embedding_tokens(value: Any, model: str, provider: str) -> int:
    if isinstance(value, str):
        return count_text(value, model, provider).tokens
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return sum(count_text(v, model, provider).tokens for v in value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return len(value)  # one input given as token ids
        if all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value):
            return sum(len(v) for v in value)
    raise BadRequest("'input' must be a string, a list of strings or a list of token arrays.", "input")


def max_output(endpoint: Endpoint, body: dict) -> int | None:
    """The output cap the request asks for (None: the model's own maximum); embeddings produce none."""
    if endpoint.name == "embeddings":
        return 0
    if endpoint.name == "messages":
        cap = _int_field(body, "max_tokens")
        if cap is None:
            raise BadRequest("'max_tokens' is required.", "max_tokens")
        return cap
    if endpoint.name == "responses":
        return _int_field(body, "max_output_tokens")
    return _int_field(body, "max_completion_tokens", "max_tokens")


def wants_stream(endpoint: Endpoint, body: dict) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", "stream")
    return stream and endpoint.streams


def ask_for_usage(endpoint: Endpoint, body: dict) -> tuple[dict, bool]:
    """The body to send upstream, and whether the caller asked for the usage chunk itself.

    Chat Completions streams report usage only when ``stream_options.include_usage`` is set; the
    gateway sets it and, if the caller had not, keeps the extra usage-only chunk to itself.
    """
    if endpoint.name != "chat.completions":
        return body, True
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object.", "stream_options")
    asked = bool((options or {}).get("include_usage"))
    return {**body, "stream_options": {**(options or {}), "include_usage": True}}, asked


# --- the response: usage, model, text ------------------------------------------------------------------
def response_usage(body: Any) -> dict | None:
    """The usage object of a whole (non-streamed) response."""
    if isinstance(body, dict) and isinstance(body.get("usage"), dict):
        return body["usage"]
    return None


class StreamReader:
    """Reads a provider's server-sent events as they pass, for their usage and (in case the stream is
    cut short) the text produced so far. The bytes themselves are relayed untouched."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.buffer = b""
        self.usage: dict | None = None
        self.model = ""
        self.upstream_id = ""
        self.text: list[str] = []
        self.complete = False
        self.error: str = ""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take some bytes; returns the whole events they complete (raw, separators included)."""
        self.buffer += chunk.replace(b"\r\n", b"\n")
        events = []
        while b"\n\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\n\n", 1)
            events.append(event + b"\n\n")
            self._read(event)
        return events

    def _read(self, event: bytes) -> None:
        data = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        if not data:
            return
        if data == b"[DONE]":
            self.complete = True
            return
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if isinstance(payload, dict):
            {"chat.completions": self._chat, "responses": self._responses,
             "messages": self._messages}[self.endpoint.name](payload)

    def _chat(self, chunk: dict) -> None:
        self.model = self.model or str(chunk.get("model") or "")
        self.upstream_id = self.upstream_id or str(chunk.get("id") or "")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                for key in ("content", "reasoning_content", "refusal"):
                    if isinstance(delta.get(key), str):
                        self.text.append(delta[key])
                for call in delta.get("tool_calls") or []:
                    arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
                    if isinstance(arguments, str):
                        self.text.append(arguments)

    def _responses(self, event: dict) -> None:
        kind = event.get("type", "")
        if kind in ("response.completed", "response.incomplete", "response.failed") and \
                isinstance(event.get("response"), dict):
            response = event["response"]
            self.model = str(response.get("model") or self.model)
            self.upstream_id = str(response.get("id") or self.upstream_id)
            self.usage = response.get("usage") if isinstance(response.get("usage"), dict) else self.usage
            self.complete = True
            self.error = "" if kind == "response.completed" else kind
        elif kind.endswith(".delta") and isinstance(event.get("delta"), str):
            self.text.append(event["delta"])
        elif kind == "response.created" and isinstance(event.get("response"), dict):
            self.model = str(event["response"].get("model") or "")
            self.upstream_id = str(event["response"].get("id") or "")

    def _messages(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            self.model, self.upstream_id = str(message.get("model") or ""), str(message.get("id") or "")
            if isinstance(message.get("usage"), dict):
                self.usage = dict(message["usage"])
        elif kind == "message_delta" and isinstance(event.get("usage"), dict):
            # Counts here are cumulative and win over message_start's (its output_tokens is a placeholder).
            self.usage = {**(self.usage or {}), **{k: v for k, v in event["usage"].items() if v is not None}}
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            for key in ("text", "thinking", "partial_json"):
                if isinstance(delta.get(key), str):
                    self.text.append(delta[key])
        elif kind == "message_stop":
            self.complete = True
        elif kind == "error":
            self.error = "error"

    @staticmethod
    def is_usage_only_chunk(event: bytes) -> bool:
        """A Chat Completions chunk that carries usage and no choices (the one include_usage adds)."""
        return b'"usage"' in event and b'"choices":[]' in event.replace(b" ", b"")


def estimated_usage(endpoint: Endpoint, *, known: dict | None, input_tokens: int, output_tokens: int) -> dict:
    """Usage for a call whose stream ended before the provider said: what it said so far (Anthropic's
    message_start), else the counted prompt, and at least the counted output."""
    if endpoint.usage_format == "anthropic":
        usage = dict(known or {"input_tokens": input_tokens})
        usage["output_tokens"] = max(int(usage.get("output_tokens") or 0), output_tokens)
        return usage
    if endpoint.usage_format == "openai_responses":
        return {"input_tokens": input_tokens, "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens}
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}
