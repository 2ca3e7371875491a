"""Drop-in wrappers: ``wrap_openai(client, tracker)`` and ``wrap_anthropic(client, tracker)``.

They return a proxy of the SDK client. Chat Completions (``chat.completions.create`` and
``.stream``), Responses (``responses.create``) and Messages (``messages.create`` and
``.stream``) are tracked, streamed or not, sync or async; everything else passes through
untouched. The original client is not modified. Per call, ``netra_agent=``,
``netra_tool=`` and ``netra_metadata=`` override the tracker's defaults and are removed
before the SDK sees the call.

A hard budget that says no raises ``BudgetExceeded`` before the provider is called.
Anything else that goes wrong in tracking is logged and the agent's call goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Any

from netra_client.errors import BudgetExceeded, NetraError
from netra_client.tracker import TokenTracker, TrackedCall
from netra_client.usage import ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES, to_dict

logger = logging.getLogger("netra_client")

_NETRA_KWARGS = ("netra_agent", "netra_tool", "netra_metadata")


class _Proxy:
    """Forwards every attribute it does not override to the wrapped object."""

    def __init__(self, inner: Any, tracker: TokenTracker, agent: str | None, tool: str | None) -> None:
        self._inner = inner
        self._tracker = tracker
        self._agent = agent
        self._tool = tool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<netra tracked {self._inner!r}>"

    def _sub(self, cls: type[_Proxy], inner: Any) -> Any:
        return cls(inner, self._tracker, self._agent, self._tool)


def _is_async(fn: Any) -> bool:
    target = getattr(fn, "__wrapped__", fn)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target)


def _jsonable_messages(messages: Any) -> list[dict] | None:
    """Messages for the budget check, or None when they are not plain JSON (images, SDK objects)."""
    if not isinstance(messages, list):
        return None
    out = []
    for message in messages:
        data = to_dict(message)
        if data is None:
            return None
        out.append(data)
    try:
        json.dumps(out)
    except (TypeError, ValueError):
        return None
    return out


def _input_for_check(kwargs: dict) -> tuple[list[dict] | None, str | None, int | None]:
    """What the budget check counts: the messages (with Anthropic's separate system prompt),
    or, when they are not plain JSON, a rough estimate of four characters a token."""
    raw = kwargs.get("messages")
    messages = _jsonable_messages(raw)
    system = kwargs.get("system")
    if messages is not None and system is not None:
        if isinstance(system, str):
            messages = [{"role": "system", "content": system}, *messages]
        else:
            extra = _jsonable_messages([{"role": "system", "content": system}])
            messages = [*extra, *messages] if extra else None
    if messages is not None:
        return messages, None, None
    return None, None, len(repr(raw) + repr(system or "")) // 4


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


def _begin(proxy: _Proxy, kwargs: dict, *, max_output_tokens: int | None, inputs: Any = _input_for_check
           ) -> TrackedCall | None:
    """Pop our kwargs, check and reserve. Raises BudgetExceeded; anything else is logged."""
    agent = kwargs.pop("netra_agent", None) or proxy._agent
    tool = kwargs.pop("netra_tool", None) or proxy._tool
    metadata = kwargs.pop("netra_metadata", None)
    model = kwargs.get("model")
    if not isinstance(model, str) or not model:
        return None
    try:
        messages, prompt, estimate = inputs(kwargs)
        call = proxy._tracker.call(
            model=model, messages=messages, prompt=prompt, estimated_input_tokens=estimate, agent=agent,
            tool=tool, max_output_tokens=max_output_tokens, metadata=metadata,
        )
        return call.start()
    except BudgetExceeded:
        raise
    except NetraError:
        if not proxy._tracker.fail_open:
            raise
        logger.exception("Netra: tracking setup failed; the call goes on untracked")
        return None
    except Exception:
        logger.exception("Netra: tracking setup failed; the call goes on untracked")
        return None


def _safe(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:
        logger.exception("Netra: tracking failed; the agent's call is unaffected")
        return None


def _abort(call: TrackedCall | None) -> None:
    if call is not None:
        _safe(call.finish)


# --- usage accumulated from stream items ----------------------------------------------------


class _OpenAIChunks:
    """Chat Completions chunks: the usage arrives on the last chunk (with include_usage)."""

    fmt = OPENAI_CHAT

    def __init__(self, hide_usage_chunk: bool) -> None:
        self.usage: dict | None = None
        self.hide_usage_chunk = hide_usage_chunk

    def observe(self, chunk: Any) -> bool:
        """Record the chunk's usage; True if the chunk should reach the caller."""
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = to_dict(usage)
            # We asked for usage the caller did not: its usage-only chunk (no choices)
            # would break code that reads chunk.choices[0].
            if self.hide_usage_chunk and not getattr(chunk, "choices", None):
                return False
        return True


class _AnthropicEvents:
    """Messages events: message_start carries input and cache tokens, message_delta the
    cumulative output (and, on newer APIs, final input and cache) tokens."""

    fmt = ANTHROPIC

    def __init__(self) -> None:
        self.usage: dict | None = None

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


class _ResponsesEvents:
    """Responses API events: the final response (completed, incomplete or failed) has the usage."""

    fmt = OPENAI_RESPONSES

    def __init__(self) -> None:
        self.usage: dict | None = None

    def observe(self, event: Any) -> bool:
        response = getattr(event, "response", None)
        usage = getattr(response, "usage", None) if response is not None else None
        if usage is not None:
            self.usage = to_dict(usage)
        return True


class _TrackedStream:
    """A provider stream that records its usage when it ends (or releases the hold)."""

    def __init__(self, stream: Any, call: TrackedCall | None, acc: Any) -> None:
        self._stream = stream
        self._call = call
        self._acc = acc
        self._iter: Any = None
        self._done = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        call = self._call
        if call is None:
            return
        if self._acc.usage:
            _safe(call.record, usage=self._acc.usage, usage_format=self._acc.fmt)
        else:
            logger.warning("Netra: stream ended without usage; nothing recorded, reservation released")
            _safe(call.finish)

    def _observe(self, item: Any) -> bool:
        try:
            return self._acc.observe(item)
        except Exception:
            logger.exception("Netra: reading stream usage failed")
            return True

    # sync
    def __iter__(self) -> _TrackedStream:
        return self

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = iter(self._stream)
        while True:
            try:
                item = next(self._iter)
            except BaseException:
                self._finish()
                raise
            if self._observe(item):
                return item

    def __enter__(self) -> _TrackedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    # async
    def __aiter__(self) -> _TrackedStream:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._stream.__aiter__()
        while True:
            try:
                item = await self._iter.__anext__()
            except BaseException:
                await _to_thread(self._finish)
                raise
            if self._observe(item):
                return item

    async def __aenter__(self) -> _TrackedStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._stream.close()
        finally:
            await _to_thread(self._finish)


async def _to_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # The tracker speaks blocking HTTP; keep it off the event loop.
    return await asyncio.to_thread(fn, *args, **kwargs)


class _TrackedStreamManager:
    """``with client.X.stream(...) as s``: check on enter, record the snapshot's usage on exit."""

    def __init__(self, proxy: _Proxy, factory: Any, kwargs: dict, *, max_output_tokens: int | None,
                 snapshot: str, fmt: str) -> None:
        self._proxy = proxy
        self._factory = factory
        self._kwargs = kwargs
        self._max_output_tokens = max_output_tokens
        self._snapshot = snapshot
        self._fmt = fmt
        self._manager: Any = None
        self._stream: Any = None
        self._call: TrackedCall | None = None

    def _open(self) -> None:
        self._call = _begin(self._proxy, self._kwargs, max_output_tokens=self._max_output_tokens)
        try:
            self._manager = self._factory(**self._kwargs)
        except BaseException:
            _abort(self._call)
            raise

    def _close(self) -> None:
        call = self._call
        if call is None:
            return
        usage = None
        try:
            snap = getattr(self._stream, self._snapshot, None)
            usage = to_dict(getattr(snap, "usage", None))
        except Exception:
            usage = None
        if usage:
            _safe(call.record, usage=usage, usage_format=self._fmt)
        else:
            _safe(call.finish)

    def __enter__(self) -> Any:
        self._open()
        try:
            self._stream = self._manager.__enter__()
        except BaseException:
            _abort(self._call)
            raise
        return self._stream

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._manager.__exit__(*exc)
        finally:
            self._close()

    async def __aenter__(self) -> Any:
        await _to_thread(self._open)
        try:
            self._stream = await self._manager.__aenter__()
        except BaseException:
            await _to_thread(_abort, self._call)
            raise
        return self._stream

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc)
        finally:
            await _to_thread(self._close)


# --- generic create ---------------------------------------------------------------------------------


def _tracked_create(proxy: _Proxy, fn: Any, kwargs: dict, *, max_output_tokens: int | None, fmt: str,
                    accumulator: Any, inputs: Any = _input_for_check) -> Any:
    if _is_async(fn):
        return _tracked_create_async(proxy, fn, kwargs, max_output_tokens=max_output_tokens, fmt=fmt,
                                     accumulator=accumulator, inputs=inputs)
    call = _begin(proxy, kwargs, max_output_tokens=max_output_tokens, inputs=inputs)
    try:
        response = fn(**kwargs)
    except BaseException:
        _abort(call)
        raise
    if kwargs.get("stream") is True:
        return _TrackedStream(response, call, accumulator())
    if call is not None:
        _safe(call.record, response, usage_format=fmt)
    return response


async def _tracked_create_async(proxy: _Proxy, fn: Any, kwargs: dict, *, max_output_tokens: int | None,
                                fmt: str, accumulator: Any, inputs: Any) -> Any:
    call = await _to_thread(_begin, proxy, kwargs, max_output_tokens=max_output_tokens, inputs=inputs)
    try:
        response = await fn(**kwargs)
    except BaseException:
        await _to_thread(_abort, call)
        raise
    if kwargs.get("stream") is True:
        return _TrackedStream(response, call, accumulator())
    if call is not None:
        await _to_thread(_safe, call.record, response, usage_format=fmt)
    return response


# --- OpenAI ---------------------------------------------------------------------------------------


def _openai_max_output(kwargs: dict) -> int | None:
    value = kwargs.get("max_completion_tokens") or kwargs.get("max_tokens")
    return value if isinstance(value, int) else None


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


class _OpenAICompletions(_Proxy):
    def create(self, **kwargs: Any) -> Any:
        hide = _ask_openai_usage(kwargs) if kwargs.get("stream") is True else False
        return _tracked_create(self, self._inner.create, kwargs, max_output_tokens=_openai_max_output(kwargs),
                               fmt=OPENAI_CHAT, accumulator=lambda: _OpenAIChunks(hide))

    def stream(self, **kwargs: Any) -> Any:
        _ask_openai_usage(kwargs)
        return _TrackedStreamManager(self, self._inner.stream, kwargs,
                                     max_output_tokens=_openai_max_output(kwargs),
                                     snapshot="current_completion_snapshot", fmt=OPENAI_CHAT)


class _OpenAIChat(_Proxy):
    @property
    def completions(self) -> _OpenAICompletions:
        return self._sub(_OpenAICompletions, self._inner.completions)


class _OpenAIResponses(_Proxy):
    def create(self, **kwargs: Any) -> Any:
        value = kwargs.get("max_output_tokens")
        return _tracked_create(self, self._inner.create, kwargs,
                               max_output_tokens=value if isinstance(value, int) else None,
                               fmt=OPENAI_RESPONSES, accumulator=_ResponsesEvents, inputs=_responses_input)


class _OpenAIClient(_Proxy):
    @property
    def chat(self) -> _OpenAIChat:
        return self._sub(_OpenAIChat, self._inner.chat)

    @property
    def responses(self) -> _OpenAIResponses:
        return self._sub(_OpenAIResponses, self._inner.responses)

    def with_options(self, **kwargs: Any) -> _OpenAIClient:
        return self._sub(_OpenAIClient, self._inner.with_options(**kwargs))


def wrap_openai(
    client: Any, tracker: TokenTracker, *, agent: str | None = None, tool: str | None = None
) -> Any:
    """An OpenAI (or AsyncOpenAI) client whose chat completions are tracked by ``tracker``."""
    return _OpenAIClient(client, tracker, agent, tool)


# --- Anthropic ------------------------------------------------------------------------------------


def _anthropic_max_output(kwargs: dict) -> int | None:
    value = kwargs.get("max_tokens")
    return value if isinstance(value, int) else None


class _AnthropicMessages(_Proxy):
    def create(self, **kwargs: Any) -> Any:
        return _tracked_create(self, self._inner.create, kwargs,
                               max_output_tokens=_anthropic_max_output(kwargs), fmt=ANTHROPIC,
                               accumulator=_AnthropicEvents)

    def stream(self, **kwargs: Any) -> Any:
        return _TrackedStreamManager(self, self._inner.stream, kwargs,
                                     max_output_tokens=_anthropic_max_output(kwargs),
                                     snapshot="current_message_snapshot", fmt=ANTHROPIC)


class _AnthropicClient(_Proxy):
    @property
    def messages(self) -> _AnthropicMessages:
        return self._sub(_AnthropicMessages, self._inner.messages)

    def with_options(self, **kwargs: Any) -> _AnthropicClient:
        return self._sub(_AnthropicClient, self._inner.with_options(**kwargs))


def wrap_anthropic(
    client: Any, tracker: TokenTracker, *, agent: str | None = None, tool: str | None = None
) -> Any:
    """An Anthropic (or AsyncAnthropic) client whose messages calls are tracked by ``tracker``."""
    return _AnthropicClient(client, tracker, agent, tool)
