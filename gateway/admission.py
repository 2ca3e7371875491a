"""The step before a call is forwarded: may it go, and what does it hold.

``gateway_admit`` is the one place every pre-forward check runs, in order: the key's, user's and
project's rate limits (``budgets.ratelimits.rate_limits_take``), then every applicable hard budget
with a hold. A denial is ``Admission(allowed=False, status=429, ...)`` with its headers
(``retry-after`` and OpenAI's ``x-ratelimit-*`` for a rate limit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from budgets.ratelimits import rate_limits_take
from budgets.services import budget_check


@dataclass
class Admission:
    """The answer before forwarding: allowed (with the hold made) or the denial to send back."""

    allowed: bool
    reservation_id: uuid.UUID | None = None
    held_tokens: int = 0
    status: int = 200
    code: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def gateway_admit(*, user, api_key, agent: str, run_id: str, model: str, input_tokens: int,
                  max_output_tokens: int | None, tags: list[str] | tuple[str, ...] = ()) -> Admission:
    """Check every applicable hard budget and reserve the call's hold (prompt + output cap estimate).

    1. rate limits: requests and tokens per minute (prompt + output cap, as OpenAI counts them);
    2. budgets: ``budget_check(reserve=True)``: a hard budget that the prompt plus the held output
       would pass denies, naming the budget; otherwise the hold is made until the usage commits it.
    """
    rate = rate_limits_take(api_key=api_key, user=user, project=api_key.project if api_key is not None else None,
                            tokens=input_tokens + (max_output_tokens or 0))
    if not rate.allowed:
        return Admission(allowed=False, status=429, code="rate_limit_exceeded", message=rate.message,
                         headers=dict(rate.headers))
    result = budget_check(user=user, agent=agent, model=model, input_tokens=input_tokens, run_id=run_id,
                          max_output_tokens=max_output_tokens, reserve=True, api_key=api_key, tags=list(tags))
    if not result.allowed:
        return Admission(allowed=False, status=429, code="budget_exceeded", message=result.message,
                         headers={**rate.headers, "x-netra-denied-by": ",".join(str(b) for b in result.denied_by)})
    reservation = result.reservation
    return Admission(allowed=True, reservation_id=reservation.pk if reservation else None,
                     held_tokens=result.input_tokens + result.output_tokens, headers=dict(rate.headers))
