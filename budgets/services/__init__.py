"""Writes: checks and reservations, charging stored usage, expiry, and budget administration.

Concurrency rule: whoever changes what a budget window may still spend locks
its BudgetWindow rows first, always in (budget id, window start) order
(``windows_lock`` for checks and resets, ``budget_windows_charge`` updating in the
same order for usage), so two writers never deadlock and a check sees every
hold and every commit that happened before it. Releasing or expiring a hold
only frees room, so it needs no window lock.
"""

from budgets.services.charging import (  # noqa: F401
    ThresholdCrossing,
    budget_windows_charge,
    reservations_settle,
)
from budgets.services.check import CheckResult, budget_check, prompt_tokens, reservation_ttl  # noqa: F401
from budgets.services.management import (  # noqa: F401
    AUDITED,
    EDITABLE,
    NO_LIMIT,
    budget_create,
    budget_enforcement_toggle,
    budget_errors,
    budget_limit_raise,
    budget_update,
    budget_validate,
    budget_window_reset,
    budgets_allocate,
)
from budgets.services.reservations import (  # noqa: F401
    reservation_commit,
    reservation_release,
    reservations_expire,
)
