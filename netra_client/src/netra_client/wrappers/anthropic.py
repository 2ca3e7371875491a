"""``wrap_anthropic``: Messages (``create``, streamed or not, and ``stream``), sync or async."""

from __future__ import annotations

from typing import Any

from netra_client.tracker import TokenTracker
from netra_client.usage import ANTHROPIC, to_dict
from netra_client.wrappers.core import ClientProxy, Proxy, max_output
from netra_client.wrappers.streams import TrackedStreamManager, UsageAccumulator, tracked_create


class _AnthropicEvents(UsageAccumulator):
    """Messages events: message_start carries input and cache tokens, message_delta the
    cumulative output (and, on newer APIs, final input and cache) tokens."""

    fmt = ANTHROPIC

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            self.usage = dict(to_dict(getattr(message, "usage", None)) or {})
        elif kind == "message_delta":
            delta = to_dict(getattr(event, "usage", None)) or {}
            merged = dict(self.usage or {})
            merged.update({k: v for k, v in delta.items() if v is not None})
            self.usage = merged
        return True


class _AnthropicMessages(Proxy):
    def create(self, **kwargs: Any) -> Any:
        return tracked_create(self, self._inner.create, kwargs, max_output_tokens=max_output(kwargs, "max_tokens"),
                              fmt=ANTHROPIC, accumulator=_AnthropicEvents)

    def stream(self, **kwargs: Any) -> Any:
        return TrackedStreamManager(self, self._inner.stream, kwargs,
                                    max_output_tokens=max_output(kwargs, "max_tokens"),
                                    snapshot="current_message_snapshot", fmt=ANTHROPIC)


class _AnthropicClient(ClientProxy):
    @property
    def messages(self) -> _AnthropicMessages:
        return self._sub(_AnthropicMessages, self._inner.messages)


def wrap_anthropic(
    client: Any, tracker: TokenTracker, *, agent: str | None = None, tool: str | None = None
) -> Any:
    """An Anthropic (or AsyncAnthropic) client whose messages calls are tracked by ``tracker``."""
    return _AnthropicClient(client, tracker, agent, tool)
