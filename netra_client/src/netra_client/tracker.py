"""TokenTracker: one per agent run. Checks budgets before a call, reserves, records the
provider's usage after it, and keeps local metrics by agent and tool that mirror the
server's run (GET /api/v1/runs/{run_id})."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from netra_client.call import TrackedCall
from netra_client.client import NetraClient
from netra_client.errors import ConnectionFailed, NetraError, NotFoundError, RateLimitedError, ServerError
from netra_client.metrics import RunMetrics
from netra_client.outage import OutagePolicy
from netra_client.results import BudgetCheck, RunInfo, UsageResult
from netra_client.usage import detect_format, extract_usage, normalize

__all__ = ["TokenTracker", "TrackedCall"]

logger = logging.getLogger("netra_client")


class TokenTracker:
    """Tracks one agent run (the execution context of a user's agents).

    ``user`` names the user a service key acts for; ``agent`` and ``tool`` are defaults
    each call may override. A hard budget that says no raises ``BudgetExceeded``.

    ``on_unreachable`` and ``grace_seconds`` decide what a check answers while the server
    cannot be reached (see ``netra_client.outage``): by default calls under a hard budget
    fail closed 30 s into an outage, or sooner once the room last reported is used up, and
    calls without one go ahead. ``fail_open`` covers checks the server refuses (a bad key,
    an input it rejects): True logs and goes ahead, False raises.
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
        on_unreachable: str | None = None,
        grace_seconds: float = 30.0,
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
        self.outage = OutagePolicy(on_unreachable, grace_seconds)
        self.fail_open = fail_open
        self.metadata = dict(metadata or {})
        self._metrics = RunMetrics()

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
        """The server's budget answer; while it cannot be reached, the ``on_unreachable`` answer."""
        model = model or self.model
        if not model:
            raise ValueError("A budget check needs a model (pass model= or TokenTracker(model=...)).")
        agent = agent or self.agent
        if prompt is not None or messages is not None:
            estimate = None  # the server counts text exactly; one input measure only
        elif estimate is None:
            estimate = 0  # the server needs one input measure; an output-only estimate is still useful
        client = self.client
        if not client.worth_trying():
            return self._unreachable(agent, model, take=reserve)
        if client.pending:
            # Buffered usage first: a server that has not seen it would allow too much.
            client.flush(retries=0)
            if not client.reachable:
                return self._unreachable(agent, model, take=reserve)
        try:
            answer = client.budget_check(
                agent=agent, model=model, run_id=self.run_id, user=self.user,
                estimated_input_tokens=estimate, prompt=prompt, messages=messages,
                max_output_tokens=max_output_tokens, reserve=reserve,
                retries=None if client.reachable else 0,  # while it is down, ask once, never stall
            )
        except NotFoundError as exc:
            # A server without the budgets app: nothing to enforce.
            logger.debug("Netra has no budget check (%s); proceeding", exc)
            return BudgetCheck.unlimited("no budget service")
        except (ConnectionFailed, ServerError, RateLimitedError) as exc:
            logger.debug("Netra budget check unavailable (%s)", exc)
            return self._unreachable(agent, model, take=reserve)
        except Exception as exc:
            # A bad key or an input the server refuses must not stop the agent's own call.
            if not self.fail_open:
                raise
            if isinstance(exc, NetraError):
                logger.error("Netra budget check refused (%s); proceeding without a reservation", exc)
            else:
                logger.exception("Netra budget check failed unexpectedly; proceeding")
            return BudgetCheck.unlimited(f"check failed: {exc}")
        self.outage.learn(agent=agent, model=model, check=answer)
        return answer

    def _unreachable(self, agent: str, model: str, *, take: bool) -> BudgetCheck:
        down_for = self.client.unreachable_for or 0.0
        return self.outage.answer(agent=agent, model=model, down_for=down_for, take=take)

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
        self._metrics.count(payload["agent"], payload.get("tool", ""), counts, result)
        self.outage.recorded(model=payload["model"], tokens=counts.total,
                             cost_usd=result.cost_usd if result is not None else None)
        return result

    # --- metrics -----------------------------------------------------------------------

    @property
    def blocked_calls(self) -> int:
        """Calls a budget refused (``BudgetExceeded``)."""
        return self._metrics.blocked_calls

    @property
    def metrics(self) -> dict[str, Any]:
        """Local totals, by agent and by tool, shaped like the server's run metrics.

        ``cost_usd`` is the server's price of each delivered record; records still in the
        buffer count in tokens and in ``unpriced_requests`` until they are delivered.
        """
        return self._metrics.snapshot(self.run_id)

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

