"""Stream accounting shared by the wrappers: a provider stream (or stream manager) that
records the usage it carried when it ends, or releases the hold when it carried none; and
the tracked ``create`` for sync and async clients."""

from __future__ import annotations

import logging
from typing import Any

from netra_client.tracker import TrackedCall
from netra_client.usage import to_dict
from netra_client.wrappers.core import Proxy, abort, begin_call, is_async, messages_input, safely, to_thread

logger = logging.getLogger("netra_client")


class UsageAccumulator:
    """Reads the usage out of a stream's items; ``fmt`` names the usage format it produces."""

    fmt: str

    def __init__(self) -> None:
        self.usage: dict | None = None

    def observe(self, item: Any) -> bool:
        """Note the item's usage; True if the item should reach the caller."""
        raise NotImplementedError


def settle(call: TrackedCall, usage: dict | None, fmt: str) -> None:
    """Commit the usage a stream carried, or release the hold when it carried none."""
    if usage:
        safely(call.record, usage=usage, usage_format=fmt)
    else:
        safely(call.finish)


class TrackedStream:
    """A provider stream that records its usage when it ends (or releases the hold)."""

    def __init__(self, stream: Any, call: TrackedCall | None, acc: UsageAccumulator) -> None:
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
        if not self._acc.usage:
            logger.warning("Netra: stream ended without usage; nothing recorded, reservation released")
        settle(call, self._acc.usage, self._acc.fmt)

    def _observe(self, item: Any) -> bool:
        try:
            return self._acc.observe(item)
        except Exception:
            logger.exception("Netra: reading stream usage failed")
            return True

    # sync
    def __iter__(self) -> TrackedStream:
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

    def __enter__(self) -> TrackedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish()

    # async
    def __aiter__(self) -> TrackedStream:
        return self

    async def __anext__(self) -> Any:
        if self._iter is None:
            self._iter = self._stream.__aiter__()
        while True:
            try:
                item = await self._iter.__anext__()
            except BaseException:
                await to_thread(self._finish)
                raise
            if self._observe(item):
                return item

    async def __aenter__(self) -> TrackedStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._stream.close()
        finally:
            await to_thread(self._finish)


class TrackedStreamManager:
    """``with client.X.stream(...) as s``: check on enter, record the snapshot's usage on exit."""

    def __init__(self, proxy: Proxy, factory: Any, kwargs: dict, *, max_output_tokens: int | None,
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
        self._call = begin_call(self._proxy, self._kwargs, max_output_tokens=self._max_output_tokens)
        try:
            self._manager = self._factory(**self._kwargs)
        except BaseException:
            abort(self._call)
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
        settle(call, usage, self._fmt)

    def __enter__(self) -> Any:
        self._open()
        try:
            self._stream = self._manager.__enter__()
        except BaseException:
            abort(self._call)
            raise
        return self._stream

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._manager.__exit__(*exc)
        finally:
            self._close()

    async def __aenter__(self) -> Any:
        await to_thread(self._open)
        try:
            self._stream = await self._manager.__aenter__()
        except BaseException:
            await to_thread(abort, self._call)
            raise
        return self._stream

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc)
        finally:
            await to_thread(self._close)


# --- generic create ---------------------------------------------------------------------------------


def tracked_create(proxy: Proxy, fn: Any, kwargs: dict, *, max_output_tokens: int | None, fmt: str,
                   accumulator: Any, inputs: Any = messages_input) -> Any:
    if is_async(fn):
        return tracked_create_async(proxy, fn, kwargs, max_output_tokens=max_output_tokens, fmt=fmt,
                                    accumulator=accumulator, inputs=inputs)
    call = begin_call(proxy, kwargs, max_output_tokens=max_output_tokens, inputs=inputs)
    try:
        response = fn(**kwargs)
    except BaseException:
        abort(call)
        raise
    if kwargs.get("stream") is True:
        return TrackedStream(response, call, accumulator())
    if call is not None:
        safely(call.record, response, usage_format=fmt)
    return response


async def tracked_create_async(proxy: Proxy, fn: Any, kwargs: dict, *, max_output_tokens: int | None,
                               fmt: str, accumulator: Any, inputs: Any) -> Any:
    call = await to_thread(begin_call, proxy, kwargs, max_output_tokens=max_output_tokens, inputs=inputs)
    try:
        response = await fn(**kwargs)
    except BaseException:
        await to_thread(abort, call)
        raise
    if kwargs.get("stream") is True:
        return TrackedStream(response, call, accumulator())
    if call is not None:
        await to_thread(safely, call.record, response, usage_format=fmt)
    return response
