"""What a tracker answers when Netra cannot answer a budget check (connection refused or
reset, a timeout, a 5xx).

``on_unreachable`` is each tracker's choice:

* ``"fail_open"``: the call goes ahead unchecked; its usage is buffered and delivered later.
* ``"fail_closed"``: calls go ahead for ``grace_seconds`` after the server stopped
  answering, then are refused (``BudgetExceeded``, reason ``server_unreachable``).
* ``None`` (the default): ``"fail_closed"`` where the server last reported a hard budget
  for the call, ``"fail_open"`` otherwise.

While failing closed, a call within the grace period is refused as soon as the room the
server last reported on a hard budget is used up: each call let through is counted
against that room at the larger of the server's last estimate for the model and the last
real cost of one of its calls. So one tracker cannot pass a hard limit while the server
is away; the next real answer replaces the count.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Any

from netra_client.results import SERVER_UNREACHABLE, BudgetCheck, money

logger = logging.getLogger("netra_client")

FAIL_OPEN = "fail_open"
FAIL_CLOSED = "fail_closed"
HARD = "hard"


def _is_hard(budget: dict) -> bool:
    return budget.get("enforcement") == HARD


def _larger(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


class OutagePolicy:
    """One tracker's answers while the server is unreachable, and what it last heard from it."""

    def __init__(self, on_unreachable: str | None, grace_seconds: float) -> None:
        if on_unreachable not in (None, FAIL_OPEN, FAIL_CLOSED):
            raise ValueError(f"on_unreachable must be {FAIL_OPEN!r}, {FAIL_CLOSED!r} or None, not {on_unreachable!r}.")
        if grace_seconds < 0:
            raise ValueError("grace_seconds must be zero or more.")
        self.on_unreachable = on_unreachable
        self.grace_seconds = float(grace_seconds)
        self._lock = threading.Lock()
        self._budgets: dict[str, list[dict]] = {}  # agent: the budgets the server last listed for it
        self._room: dict[Any, list] = {}  # hard budget id: [tokens, usd] left for this tracker (None: no limit)
        self._estimate: dict[str, tuple[int, Decimal | None]] = {}  # model: the server's last estimate
        self._actual: dict[str, tuple[int, Decimal | None]] = {}  # model: the last recorded call
        self._warned = False

    # --- what the server said -----------------------------------------------------------

    def learn(self, *, agent: str, model: str, check: BudgetCheck) -> None:
        """Keep a real answer: the budgets that apply to ``agent`` and the room on the hard ones.
        A reserving answer that allowed the call counts that call (see the module docstring)."""
        estimate = check.estimate
        held = check.reservation is not None
        hold_tokens = estimate.input_tokens + estimate.output_tokens
        with self._lock:
            self._warned = False
            self._budgets[agent] = list(check.budgets)
            self._estimate[model] = (hold_tokens, estimate.cost_usd)
            for budget in filter(_is_hard, check.budgets):
                tokens, usd = budget.get("remaining_tokens"), money(budget.get("remaining_usd"))
                if held:
                    # Our own hold is in the server's figures: count the call at our price instead.
                    tokens = None if tokens is None else tokens + hold_tokens
                    usd = None if usd is None else usd + (estimate.cost_usd or 0)
                self._room[budget.get("id")] = [tokens, usd]
            if held:
                self._take(agent, model)

    def recorded(self, *, model: str, tokens: int, cost_usd: Decimal | None) -> None:
        """A call's usage: its tokens, and its cost once the server priced it (None while buffered)."""
        with self._lock:
            previous = self._actual.get(model, (0, None))[1]
            self._actual[model] = (tokens, cost_usd if cost_usd is not None else previous)

    # --- the answer while it is away --------------------------------------------------------

    def answer(self, *, agent: str, model: str, down_for: float, take: bool) -> BudgetCheck:
        """Allowed or refused, by the tracker's choice. ``take``: the call goes ahead if allowed
        (a reserving check), so it is counted against the room; a mere question is not."""
        with self._lock:
            budgets = self._budgets_for(agent)
            hard = [b for b in budgets if _is_hard(b)]
            mode = self.on_unreachable or (FAIL_CLOSED if hard else FAIL_OPEN)
            self._warn_once(mode)
            if mode == FAIL_OPEN:
                return BudgetCheck.unreachable(
                    allowed=True, budgets=budgets,
                    message=f"Netra unreachable for {down_for:.1f} s: allowed unchecked (fail_open); "
                            "usage is buffered.")
            if down_for >= self.grace_seconds:
                return BudgetCheck.unreachable(
                    allowed=False, budgets=budgets,
                    message=f"Netra unreachable for {down_for:.1f} s, past the {self.grace_seconds:g} s grace "
                            "period: call refused (fail_closed).")
            full = [b.get("id") for b in hard if not self._fits(b.get("id"), model)]
            if full:
                return BudgetCheck.unreachable(
                    allowed=False, budgets=budgets,
                    message=f"Netra unreachable: hard budget {', '.join(map(str, full))} has no room left for "
                            "this call as last reported: call refused (fail_closed).")
            if take:
                self._take(agent, model)
            return BudgetCheck.unreachable(
                allowed=True, budgets=budgets,
                message=f"Netra unreachable for {down_for:.1f} s: allowed within the {self.grace_seconds:g} s "
                        "grace period and the room last reported (fail_closed).")

    # --- helpers (the caller holds the lock) ---------------------------------------------------

    def _budgets_for(self, agent: str) -> list[dict]:
        if agent in self._budgets:
            return self._budgets[agent]
        # Not asked for this agent yet: the user's, run and global budgets apply to every agent.
        seen: dict[Any, dict] = {}
        for budgets in self._budgets.values():
            seen.update({b.get("id"): b for b in budgets if b.get("scope") != "user_agent"})
        return list(seen.values())

    def _cost(self, model: str) -> tuple[int, Decimal | None]:
        est_tokens, est_usd = self._estimate.get(model, (0, None))
        act_tokens, act_usd = self._actual.get(model, (0, None))
        if model not in self._estimate and model not in self._actual:
            # A model not seen yet: count it like the dearest one that was.
            known = [self._cost(m) for m in {*self._estimate, *self._actual}]
            return (max((t for t, _ in known), default=0),
                    max((u for _, u in known if u is not None), default=None))
        return max(est_tokens, act_tokens), _larger(est_usd, act_usd)

    def _fits(self, budget_id: Any, model: str) -> bool:
        room = self._room.get(budget_id)
        if room is None:
            return True
        tokens, usd = self._cost(model)
        for left, need in ((room[0], tokens), (room[1], usd)):
            if left is not None and (left <= 0 or (need is not None and need > left)):
                return False
        return True

    def _take(self, agent: str, model: str) -> None:
        tokens, usd = self._cost(model)
        for budget in filter(_is_hard, self._budgets_for(agent)):
            room = self._room.get(budget.get("id"))
            if room is None:
                continue
            if room[0] is not None:
                room[0] -= tokens
            if room[1] is not None and usd is not None:
                room[1] -= usd

    def _warn_once(self, mode: str) -> None:
        if self._warned:
            return
        self._warned = True
        if mode == FAIL_OPEN:
            logger.warning("Netra unreachable: budget checks fail open; calls go ahead unchecked.")
        else:
            logger.warning("Netra unreachable: budget checks fail closed; calls go ahead for %g s within the "
                           "room last reported, then are refused.", self.grace_seconds)


__all__ = ["FAIL_CLOSED", "FAIL_OPEN", "SERVER_UNREACHABLE", "OutagePolicy"]
