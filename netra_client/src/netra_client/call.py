"""TrackedCall: one model call, reserved on enter, committed by ``record``, released otherwise."""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from netra_client.errors import BudgetExceeded
from netra_client.results import BudgetCheck, UsageResult

if TYPE_CHECKING:
    from netra_client.tracker import TokenTracker

logger = logging.getLogger("netra_client")


class TrackedCall:
    """One model call: reserved on enter, committed by ``record``, released otherwise."""

    def __init__(
        self,
        tracker: TokenTracker,
        *,
        model: str,
        agent: str,
        tool: str | None,
        messages: list[dict] | None,
        prompt: str | None,
        max_output_tokens: int | None,
        estimated_input_tokens: int | None,
        metadata: dict | None,
        reserve: bool,
    ) -> None:
        self.tracker = tracker
        self.model = model
        self.agent = agent
        self.tool = tool
        self.messages = messages
        self.prompt = prompt
        self.max_output_tokens = max_output_tokens
        self.estimated_input_tokens = estimated_input_tokens
        self.metadata = metadata
        self.reserve = reserve
        self.request_id = str(uuid.uuid4())
        self.check: BudgetCheck | None = None
        self.result: UsageResult | None = None
        self.recorded = False
        self.released = False
        self._started: float | None = None

    @property
    def reservation_id(self) -> str | None:
        reservation = self.check.reservation if self.check else None
        return reservation.id if reservation else None

    def start(self) -> TrackedCall:
        """Check (and reserve); raises BudgetExceeded when a hard budget says no."""
        if self.reserve:
            check = self.tracker.check(
                self.estimated_input_tokens, model=self.model, messages=self.messages, prompt=self.prompt,
                max_output_tokens=self.max_output_tokens, agent=self.agent, reserve=True,
            )
            self.check = check
            if not check.allowed:
                self.tracker._metrics.blocked()
                message = check.raw.get("message") or check.reason or "Budget exceeded."
                raise BudgetExceeded(message, check=check)
        self._started = time.monotonic()
        return self

    def __enter__(self) -> TrackedCall:
        return self.start()

    def record(
        self,
        response: Any = None,
        *,
        usage: Any = None,
        usage_format: str | None = None,
        latency_ms: int | None = None,
        cache_hit: bool = False,
        optimization: dict | None = None,
        metadata: dict | None = None,
    ) -> UsageResult | None:
        """Commit the provider's usage (a response object, or its usage). Never raises."""
        if self.recorded:
            logger.warning("Netra: call %s already recorded; ignoring a second record", self.request_id)
            return self.result
        try:
            if latency_ms is None and self._started is not None:
                latency_ms = int((time.monotonic() - self._started) * 1000)
            payload = self.tracker._payload(
                response, model=self.model, usage=usage, usage_format=usage_format, agent=self.agent,
                tool=self.tool, request_id=self.request_id, reservation_id=self.reservation_id,
                latency_ms=latency_ms, cache_hit=cache_hit, optimization=optimization,
                metadata={**(self.metadata or {}), **(metadata or {})},
            )
            if payload is None:
                return None
            self.recorded = True
            self.result = self.tracker._deliver(payload)
            return self.result
        except Exception:
            logger.exception("Netra: recording usage failed; the agent's call is unaffected")
            return None

    def release(self) -> None:
        """Give the reservation back (the call did not happen or reported no usage)."""
        reservation_id = self.reservation_id
        if not reservation_id or self.recorded or self.released:
            return
        self.released = True
        try:
            self.tracker.client.reservation_release(reservation_id, user=self.tracker.user)
        except Exception as exc:
            # The server expires unreleased holds on its own (TTL); nothing is lost.
            logger.warning("Netra: releasing reservation %s failed (%s); it will expire", reservation_id, exc)

    def finish(self) -> None:
        if not self.recorded:
            self.release()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.finish()
        return False
