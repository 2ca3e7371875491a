"""TokenTracker: one per agent run. Checks budgets before a call, reserves, records the
provider's usage after it, and keeps local metrics by agent and tool that mirror the
server's run (GET /api/v1/runs/{run_id})."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from netra_client.client import NetraClient
from netra_client.errors import BudgetExceeded, ConnectionFailed, NetraError, NotFoundError, ServerError
from netra_client.results import BudgetCheck, RunInfo, UsageResult
from netra_client.usage import Counts, detect_format, extract_usage, normalize

logger = logging.getLogger("netra_client")

_FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
           "total_tokens")


def _empty_row() -> dict[str, Any]:
    row: dict[str, Any] = {"requests": 0, **{f: 0 for f in _FIELDS}, "cost_usd": Decimal(0),
                           "unpriced_requests": 0}
    return row


def _with_derived(row: dict) -> dict:
    row = dict(row)
    row["prompt_tokens"] = row["input_tokens"] + row["cached_input_tokens"] + row["cache_write_tokens"]
    row["completion_tokens"] = row["output_tokens"] + row["reasoning_tokens"]
    return row


class TokenTracker:
    """Tracks one agent run (the execution context of a user's agents).

    ``user`` names the user a service key acts for; ``agent`` and ``tool`` are defaults
    each call may override. With ``fail_open`` (the default) an unreachable server never
    stops the agent: checks answer "allowed" and usage is buffered. A hard budget that
    says no always raises ``BudgetExceeded``.
    """

    def __init__(
        self,
        client: NetraClient,
        *,
        user: str | None = None,
        run_id: str | None = None,
        agent: str = "default",
        tool: str | None = None,
        model: str | None = None,
        reserve: bool = True,
        fail_open: bool = True,
        metadata: dict | None = None,
    ) -> None:
        self.client = client
        self.user = user
        self.run_id = run_id or f"run-{uuid.uuid4().hex}"
        self.agent = agent or "default"
        self.tool = tool
        self.model = model
        self.reserve = reserve
        self.fail_open = fail_open
        self.metadata = dict(metadata or {})
        self.blocked_calls = 0
        self._lock = threading.Lock()
        self._totals = _empty_row()
        self._by_agent: dict[str, dict] = {}
        self._by_tool: dict[str, dict] = {}

    def __repr__(self) -> str:
        return f"TokenTracker(run_id={self.run_id!r}, agent={self.agent!r})"

    # --- budgets -------------------------------------------------------------------------

    def check(
        self,
        estimate: int | None = None,
        *,
        model: str | None = None,
        messages: list[dict] | None = None,
        prompt: str | None = None,
        max_output_tokens: int | None = None,
        agent: str | None = None,
        reserve: bool = False,
    ) -> BudgetCheck:
        """The server's budget answer; with fail_open, "allowed" when it cannot answer."""
        model = model or self.model
        if not model:
            raise ValueError("A budget check needs a model (pass model= or TokenTracker(model=...)).")
        if self.fail_open and self.client.degraded:
            # The server failed a moment ago: do not make every call wait for a timeout.
            # The flusher finds out when it is back, and checks resume.
            return BudgetCheck.unlimited("server unreachable; usage buffered")
        if prompt is not None or messages is not None:
            estimate = None  # the server counts text exactly; one input measure only
        elif estimate is None:
            estimate = 0  # the server needs one input measure; an output-only estimate is still useful
        try:
            return self.client.budget_check(
                agent=agent or self.agent, model=model, run_id=self.run_id, user=self.user,
                estimated_input_tokens=estimate, prompt=prompt, messages=messages,
                max_output_tokens=max_output_tokens, reserve=reserve,
            )
        except NotFoundError as exc:
            # A server without the budgets app: nothing to enforce.
            logger.debug("Netra has no budget check (%s); proceeding", exc)
            return BudgetCheck.unlimited("no budget service")
        except (ConnectionFailed, ServerError) as exc:
            if not self.fail_open:
                raise
            logger.warning("Netra budget check unavailable (%s); proceeding without a reservation", exc)
            return BudgetCheck.unlimited("budget service unreachable")
        except Exception as exc:
            # A bad key or an input the server refuses must not stop the agent's own call.
            if not self.fail_open:
                raise
            if isinstance(exc, NetraError):
                logger.error("Netra budget check refused (%s); proceeding without a reservation", exc)
            else:
                logger.exception("Netra budget check failed unexpectedly; proceeding")
            return BudgetCheck.unlimited(f"check failed: {exc}")

    def can_afford(
        self,
        estimate: int | None = None,
        *,
        model: str | None = None,
        messages: list[dict] | None = None,
        prompt: str | None = None,
        max_output_tokens: int | None = None,
        agent: str | None = None,
    ) -> bool:
        """Would a call of about ``estimate`` input tokens (or these messages) be allowed now?"""
        return self.check(estimate, model=model, messages=messages, prompt=prompt,
                          max_output_tokens=max_output_tokens, agent=agent).allowed

    # --- calls ----------------------------------------------------------------------------

    def call(
        self,
        *,
        model: str | None = None,
        messages: list[dict] | None = None,
        prompt: str | None = None,
        max_output_tokens: int | None = None,
        estimated_input_tokens: int | None = None,
        agent: str | None = None,
        tool: str | None = None,
        metadata: dict | None = None,
        reserve: bool | None = None,
    ) -> TrackedCall:
        """``with tracker.call(...) as call:`` reserve, make the call, ``call.record(response)``."""
        model = model or self.model
        if not model:
            raise ValueError("tracker.call needs a model.")
        return TrackedCall(
            self, model=model, agent=agent or self.agent, tool=tool if tool is not None else self.tool,
            messages=messages, prompt=prompt, max_output_tokens=max_output_tokens,
            estimated_input_tokens=estimated_input_tokens, metadata=metadata,
            reserve=self.reserve if reserve is None else reserve,
        )

    def record(
        self,
        response: Any = None,
        *,
        model: str | None = None,
        usage: Any = None,
        usage_format: str | None = None,
        agent: str | None = None,
        tool: str | None = None,
        request_id: str | None = None,
        reservation_id: str | None = None,
        latency_ms: int | None = None,
        cache_hit: bool = False,
        optimization: dict | None = None,
        metadata: dict | None = None,
    ) -> UsageResult | None:
        """Record a call made outside ``tracker.call`` (never raises; None when buffered or empty)."""
        try:
            model = model or getattr(response, "model", None) or self.model
            payload = self._payload(
                response, model=model, usage=usage, usage_format=usage_format, agent=agent or self.agent,
                tool=tool if tool is not None else self.tool, request_id=request_id,
                reservation_id=reservation_id, latency_ms=latency_ms, cache_hit=cache_hit,
                optimization=optimization, metadata=metadata,
            )
            if payload is None:
                return None
            return self._deliver(payload)
        except Exception:
            logger.exception("Netra: recording usage failed; the agent's call is unaffected")
            return None

    def _payload(
        self,
        response: Any,
        *,
        model: str | None,
        usage: Any,
        usage_format: str | None,
        agent: str,
        tool: str | None,
        request_id: str | None,
        reservation_id: str | None,
        latency_ms: int | None,
        cache_hit: bool,
        optimization: dict | None,
        metadata: dict | None,
    ) -> dict | None:
        usage_dict = extract_usage(usage if usage is not None else response)
        if usage_dict is None:
            logger.warning("Netra: no usage found in %s; nothing recorded", type(response).__name__)
            return None
        if not model:
            logger.warning("Netra: usage without a model; nothing recorded")
            return None
        payload: dict[str, Any] = {
            "request_id": request_id or str(uuid.uuid4()),
            "model": model,
            "agent": agent,
            "run_id": self.run_id,
            "usage": usage_dict,
            # Set here, not on arrival, so buffered usage keeps the time it happened.
            "occurred_at": datetime.now(timezone.utc).isoformat(),
        }
        fmt = usage_format or detect_format(usage_dict)
        if fmt:
            payload["usage_format"] = fmt
        if tool:
            payload["tool"] = tool
        if self.user:
            payload["user"] = self.user
        if reservation_id:
            payload["reservation_id"] = str(reservation_id)
        if latency_ms is not None:
            payload["latency_ms"] = int(latency_ms)
        if cache_hit:
            payload["cache_hit"] = True
        if optimization:
            payload["optimization"] = optimization
        meta = {**self.metadata, **(metadata or {})}
        response_model = getattr(response, "model", None)
        if isinstance(response_model, str) and response_model and response_model != model:
            meta.setdefault("response_model", response_model)
        if meta:
            payload["metadata"] = meta
        return payload

    def _deliver(self, payload: dict) -> UsageResult | None:
        result = self.client.usage_send(payload)
        counts = normalize(payload["usage"], payload.get("usage_format"))
        self._count(payload["agent"], payload.get("tool", ""), counts, result)
        return result

    def _count(self, agent: str, tool: str, counts: Counts, result: UsageResult | None) -> None:
        values = {
            "input_tokens": counts.input, "cached_input_tokens": counts.cached_input,
            "cache_write_tokens": counts.cache_write, "output_tokens": counts.output,
            "reasoning_tokens": counts.reasoning, "total_tokens": counts.total,
        }
        if result is not None:
            # The server's stored figures are the truth (the record may be a duplicate).
            t = result.tokens
            values = {
                "input_tokens": t.input, "cached_input_tokens": t.cached_input,
                "cache_write_tokens": t.cache_write, "output_tokens": t.output,
                "reasoning_tokens": t.reasoning, "total_tokens": t.total,
            }
        with self._lock:
            for row in (self._totals, self._by_agent.setdefault(agent, _empty_row()),
                        self._by_tool.setdefault(tool, _empty_row())):
                row["requests"] += 1
                for key, value in values.items():
                    row[key] += value
                if result is not None:
                    row["cost_usd"] += result.cost_usd
                else:
                    row["unpriced_requests"] += 1

    # --- metrics -----------------------------------------------------------------------

    @property
    def metrics(self) -> dict[str, Any]:
        """Local totals, by agent and by tool, shaped like the server's run metrics.

        ``cost_usd`` is the server's price of each delivered record; records still in the
        buffer count in tokens and in ``unpriced_requests`` until they are delivered.
        """
        with self._lock:
            return {
                "run_id": self.run_id,
                "totals": _with_derived(self._totals),
                "by_agent": {k: _with_derived(v) for k, v in sorted(self._by_agent.items())},
                "by_tool": {k: _with_derived(v) for k, v in sorted(self._by_tool.items())},
                "blocked_calls": self.blocked_calls,
            }

    def server_metrics(self) -> RunInfo:
        """The server's exact figures for this run."""
        return self.client.run(self.run_id, user=self.user)

    def flush(self) -> int:
        """Deliver buffered usage now; returns how many records remain."""
        return self.client.flush()

    def __enter__(self) -> TokenTracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        # The end of a run is the natural moment to deliver anything still buffered.
        try:
            self.client.flush(retries=0)
        except Exception:
            logger.exception("Netra: flushing at the end of the run failed")


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
                with self.tracker._lock:
                    self.tracker.blocked_calls += 1
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
