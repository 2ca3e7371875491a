"""``wrap_openai``: Chat Completions (``create``, streamed or not, and ``stream``) and the
Responses API (``responses.create``), sync or async."""

from __future__ import annotations

from typing import Any

from netra_client.tracker import TokenTracker
from netra_client.usage import OPENAI_CHAT, OPENAI_RESPONSES, to_dict
from netra_client.wrappers.core import ClientProxy, Proxy, max_output
from netra_client.wrappers.streams import TrackedStreamManager, UsageAccumulator, tracked_create


class _OpenAIChunks(UsageAccumulator):
    """Chat Completions chunks: the usage arrives on the last chunk (with include_usage)."""

    fmt = OPENAI_CHAT

    def __init__(self, hide_usage_chunk: bool) -> None:
        super().__init__()
        self.hide_usage_chunk = hide_usage_chunk

    def observe(self, chunk: Any) -> bool:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = to_dict(usage)
            # We asked for usage the caller did not: its usage-only chunk (no choices)
            # would break code that reads chunk.choices[0].
            if self.hide_usage_chunk and not getattr(chunk, "choices", None):
                return False
        return True


class _ResponsesEvents(UsageAccumulator):
    """Responses API events: the final response (completed, incomplete or failed) has the usage."""

    fmt = OPENAI_RESPONSES

    def observe(self, event: Any) -> bool:
        response = getattr(event, "response", None)
        usage = getattr(response, "usage", None) if response is not None else None
        if usage is not None:
            self.usage = to_dict(usage)
        return True


def _responses_input(kwargs: dict) -> tuple[list[dict] | None, str | None, int | None]:
    """The Responses API takes ``input`` (text or items) and ``instructions``."""
    raw, instructions = kwargs.get("input"), kwargs.get("instructions")
    if isinstance(raw, str):
        return None, f"{instructions}\n\n{raw}" if isinstance(instructions, str) and instructions else raw, None
    plain = isinstance(raw, list) and all(
        isinstance(i, dict) and i.get("role") and isinstance(i.get("content"), str) for i in raw
    )
    if plain:
        system = [{"role": "system", "content": instructions}] if isinstance(instructions, str) else []
        return [*system, *[{"role": i["role"], "content": i["content"]} for i in raw]], None, None
    return None, None, len(repr(raw) + repr(instructions or "")) // 4


def _ask_openai_usage(kwargs: dict) -> bool:
    """Streams carry usage only with stream_options.include_usage; ask unless the caller said no.
    Returns True when we added it (so its usage-only chunk is ours to hide)."""
    options = kwargs.get("stream_options")
    options = dict(options) if isinstance(options, dict) else {}
    if "include_usage" in options:
        return False
    options["include_usage"] = True
    kwargs["stream_options"] = options
    return True


class _OpenAICompletions(Proxy):
    def create(self, **kwargs: Any) -> Any:
        hide = _ask_openai_usage(kwargs) if kwargs.get("stream") is True else False
        return tracked_create(self, self._inner.create, kwargs,
                              max_output_tokens=max_output(kwargs, "max_completion_tokens", "max_tokens"),
                              fmt=OPENAI_CHAT, accumulator=lambda: _OpenAIChunks(hide))

    def stream(self, **kwargs: Any) -> Any:
        _ask_openai_usage(kwargs)
        return TrackedStreamManager(self, self._inner.stream, kwargs,
                                    max_output_tokens=max_output(kwargs, "max_completion_tokens", "max_tokens"),
                                    snapshot="current_completion_snapshot", fmt=OPENAI_CHAT)


class _OpenAIChat(Proxy):
    @property
    def completions(self) -> _OpenAICompletions:
        return self._sub(_OpenAICompletions, self._inner.completions)


class _OpenAIResponses(Proxy):
    def create(self, **kwargs: Any) -> Any:
        return tracked_create(self, self._inner.create, kwargs,
                              max_output_tokens=max_output(kwargs, "max_output_tokens"),
                              fmt=OPENAI_RESPONSES, accumulator=_ResponsesEvents, inputs=_responses_input)


class _OpenAIClient(ClientProxy):
    @property
    def chat(self) -> _OpenAIChat:
        return self._sub(_OpenAIChat, self._inner.chat)

    @property
    def responses(self) -> _OpenAIResponses:
        return self._sub(_OpenAIResponses, self._inner.responses)


def wrap_openai(
    client: Any, tracker: TokenTracker, *, agent: str | None = None, tool: str | None = None
) -> Any:
    """An OpenAI (or AsyncOpenAI) client whose chat completions are tracked by ``tracker``."""
    return _OpenAIClient(client, tracker, agent, tool)
