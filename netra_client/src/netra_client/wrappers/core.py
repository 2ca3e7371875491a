"""What every wrapper shares: the forwarding proxy, reading the request for the budget
check, and starting a tracked call (check and reserve) without ever breaking the agent's call."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from typing import Any

from netra_client.errors import BudgetExceeded, NetraError
from netra_client.tracker import TokenTracker, TrackedCall
from netra_client.usage import to_dict

logger = logging.getLogger("netra_client")


class Proxy:
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

    def _sub(self, cls: type[Proxy], inner: Any) -> Any:
        return cls(inner, self._tracker, self._agent, self._tool)


class ClientProxy(Proxy):
    """The wrapped SDK client itself: ``with_options`` returns a tracked copy."""

    def with_options(self, **kwargs: Any) -> Any:
        return self._sub(type(self), self._inner.with_options(**kwargs))


def is_async(fn: Any) -> bool:
    target = getattr(fn, "__wrapped__", fn)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target)


def jsonable_messages(messages: Any) -> list[dict] | None:
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


def messages_input(kwargs: dict) -> tuple[list[dict] | None, str | None, int | None]:
    """What the budget check counts: the messages (with Anthropic's separate system prompt),
    or, when they are not plain JSON, a rough estimate of four characters a token."""
    raw = kwargs.get("messages")
    messages = jsonable_messages(raw)
    system = kwargs.get("system")
    if messages is not None and system is not None:
        if isinstance(system, str):
            messages = [{"role": "system", "content": system}, *messages]
        else:
            extra = jsonable_messages([{"role": "system", "content": system}])
            messages = [*extra, *messages] if extra else None
    if messages is not None:
        return messages, None, None
    return None, None, len(repr(raw) + repr(system or "")) // 4


def max_output(kwargs: dict, *names: str) -> int | None:
    """The output cap the call sets (the first of ``names`` given), for the server to hold."""
    value = None
    for name in names:
        value = kwargs.get(name)
        if value:
            break
    return value if isinstance(value, int) else None


def begin_call(proxy: Proxy, kwargs: dict, *, max_output_tokens: int | None, inputs: Any = messages_input
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


def safely(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:
        logger.exception("Netra: tracking failed; the agent's call is unaffected")
        return None


def abort(call: TrackedCall | None) -> None:
    if call is not None:
        safely(call.finish)


async def to_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    # The tracker speaks blocking HTTP; keep it off the event loop.
    return await asyncio.to_thread(fn, *args, **kwargs)
