"""Split a token total across agents by priority, with a minimum per agent (TokenBudgetManager style)."""

from __future__ import annotations

from fractions import Fraction

# The plan's per-agent defaults; used as priority weights, so a total of 8000 gives exactly these.
DEFAULT_PRIORITIES = {"triage": 500, "data": 3000, "optimization": 2000, "action": 1000, "reporting": 1500}
DEFAULT_MINIMUM = 500


class AllocationError(ValueError):
    pass


def allocate(*, total: int, priorities: dict[str, int], minimum: int = DEFAULT_MINIMUM) -> dict[str, int]:
    """Integer shares proportional to priority, none below ``minimum``, summing to exactly ``total``.

    Agents whose proportional share falls below the minimum get the minimum and
    the rest is split again among the others (water-filling); rounding leftovers
    go to the largest fractional parts, so the sum never exceeds the total.
    """
    if not priorities:
        raise AllocationError("Name at least one agent to allocate to.")
    if total < 0 or minimum < 0:
        raise AllocationError("The total and the minimum must not be negative.")
    if any(weight <= 0 for weight in priorities.values()):
        raise AllocationError("Every priority must be a positive number.")
    needed = len(priorities) * minimum
    if total < needed:
        raise AllocationError(
            f"A total of {total} tokens cannot give {len(priorities)} agents at least {minimum} each "
            f"(needs {needed})."
        )
    shares: dict[str, Fraction] = {}
    pool = {agent: weight for agent, weight in priorities.items()}
    left = Fraction(total)
    while pool:
        weight_sum = sum(pool.values())
        proposed = {agent: left * weight / weight_sum for agent, weight in pool.items()}
        short = [agent for agent, share in proposed.items() if share < minimum]
        if not short:
            shares.update(proposed)
            break
        for agent in short:
            shares[agent] = Fraction(minimum)
            left -= minimum
            del pool[agent]
    result = {agent: int(share) for agent, share in shares.items()}
    leftover = total - sum(result.values())
    by_fraction = sorted(shares, key=lambda a: (-(shares[a] - int(shares[a])), a))
    for agent in by_fraction[:leftover]:
        result[agent] += 1
    return {agent: result[agent] for agent in priorities}
