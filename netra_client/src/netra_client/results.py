"""Typed results of the v1 API. Money is ``Decimal`` (the server sends decimal strings);
every result keeps the server's JSON in ``raw`` so fields added later stay reachable."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The reason of a budget answer the tracker gave itself because the server could not be asked.
SERVER_UNREACHABLE = "server_unreachable"


def money(value: Any) -> Decimal | None:
    """A server decimal string (or number) as Decimal; None stays None."""
    if value is None or value == "":
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class TokenBreakdown:
    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0
    total: int = 0

    @classmethod
    def from_json(cls, data: dict | None) -> TokenBreakdown:
        data = data or {}
        return cls(**{k: int(data.get(k) or 0) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class UsageResult:
    """One stored usage record as the server priced it."""

    id: str
    request_id: str
    model: str
    agent: str
    tool: str
    run_id: str
    tokens: TokenBreakdown
    cost_usd: Decimal
    priced: bool
    duplicate: bool
    reservation_id: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> UsageResult:
        return cls(
            id=data["id"],
            request_id=data["request_id"],
            model=data.get("model", ""),
            agent=data.get("agent", ""),
            tool=data.get("tool", ""),
            run_id=data.get("run_id", ""),
            tokens=TokenBreakdown.from_json(data.get("tokens")),
            cost_usd=money(data.get("cost_usd")) or Decimal(0),
            priced=bool(data.get("priced", True)),
            duplicate=bool(data.get("duplicate", False)),
            reservation_id=data.get("reservation_id"),
            raw=data,
        )


@dataclass(frozen=True)
class BatchItem:
    index: int
    status: str  # "created" | "duplicate" | "invalid"
    record: UsageResult | None
    errors: dict


@dataclass(frozen=True)
class BatchResult:
    """The answer to a batch post: one item per record, in order, and the counts."""

    items: list[BatchItem]
    counts: dict[str, int]
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> BatchResult:
        items = [
            BatchItem(
                index=item["index"],
                status=item["status"],
                record=UsageResult.from_json(item["record"]) if item.get("record") else None,
                errors=item.get("errors") or {},
            )
            for item in data.get("results", [])
        ]
        return cls(items=items, counts=dict(data.get("counts", {})), raw=data)


@dataclass(frozen=True)
class Estimate:
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None

    @classmethod
    def from_json(cls, data: dict | None) -> Estimate:
        data = data or {}
        return cls(
            input_tokens=int(data.get("input_tokens") or 0),
            output_tokens=int(data.get("output_tokens") or 0),
            cost_usd=money(data.get("cost_usd")),
        )


@dataclass(frozen=True)
class Reservation:
    id: str
    expires_at: str | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> Reservation:
        return cls(id=str(data["id"]), expires_at=data.get("expires_at"), raw=data)


@dataclass(frozen=True)
class BudgetCheck:
    """May this call go ahead? ``budgets`` are the dicts of GET /api/v1/budgets."""

    allowed: bool
    reason: str
    estimate: Estimate
    budgets: list[dict]
    reservation: Reservation | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> BudgetCheck:
        return cls(
            allowed=bool(data.get("allowed", True)),
            reason=data.get("reason") or "",
            estimate=Estimate.from_json(data.get("estimate")),
            budgets=list(data.get("budgets") or []),
            reservation=Reservation.from_json(data["reservation"]) if data.get("reservation") else None,
            raw=data,
        )

    @classmethod
    def unlimited(cls, reason: str) -> BudgetCheck:
        """What the tracker assumes when the server has no budget answer to give."""
        return cls(allowed=True, reason=reason, estimate=Estimate(0, 0, None), budgets=[],
                   reservation=None, raw={})

    @classmethod
    def unreachable(cls, *, allowed: bool, message: str, budgets: list[dict]) -> BudgetCheck:
        """The tracker's own answer while the server cannot be asked; ``budgets`` as last reported."""
        raw = {"allowed": allowed, "reason": SERVER_UNREACHABLE, "message": message}
        return cls(allowed=allowed, reason=SERVER_UNREACHABLE, estimate=Estimate(0, 0, None),
                   budgets=list(budgets), reservation=None, raw=raw)


@dataclass(frozen=True)
class TokenCount:
    model: str
    tokens: int
    encoding: str
    exact: bool

    @classmethod
    def from_json(cls, data: dict) -> TokenCount:
        return cls(model=data["model"], tokens=int(data["tokens"]), encoding=data.get("encoding", ""),
                   exact=bool(data.get("exact", False)))


@dataclass(frozen=True)
class RunInfo:
    """GET /api/v1/runs/{run_id}: exact totals of a run, by agent and by tool."""

    run_id: str
    token_budget: int | None
    tokens_remaining: int | None
    totals: dict
    by_agent: dict
    by_tool: dict
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict) -> RunInfo:
        def fix(row: dict) -> dict:
            row = dict(row)
            row["cost_usd"] = money(row.get("cost_usd")) or Decimal(0)
            return row

        return cls(
            run_id=data["run_id"],
            token_budget=data.get("token_budget"),
            tokens_remaining=data.get("tokens_remaining"),
            totals=fix(data.get("totals", {})),
            by_agent={k: fix(v) for k, v in data.get("by_agent", {}).items()},
            by_tool={k: fix(v) for k, v in data.get("by_tool", {}).items()},
            raw=data,
        )


@dataclass(frozen=True)
class PromptOptimization:
    optimized: str
    original_tokens: int
    optimized_tokens: int
    savings_percent: float
    techniques: list[str]
    raw: dict = field(repr=False, compare=False)
    # With a target: whether it was met. With a question or target: what went ({text, relevance}).
    target_met: bool | None = None
    dropped: list[dict] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> PromptOptimization:
        target_met = data.get("target_met")
        return cls(
            optimized=data.get("optimized", ""),
            original_tokens=int(data.get("original_tokens") or 0),
            optimized_tokens=int(data.get("optimized_tokens") or 0),
            savings_percent=float(data.get("savings_percent") or 0),
            techniques=list(data.get("techniques") or []),
            raw=data,
            target_met=None if target_met is None else bool(target_met),
            dropped=[dict(d) for d in data.get("dropped") or []],
        )


@dataclass(frozen=True)
class CacheLookup:
    """A response-cache answer: ``response`` is the stored answer when ``hit``."""

    hit: bool
    key: str | None
    response: Any
    tokens_saved: int
    usd_saved: Decimal | None
    raw: dict = field(repr=False, compare=False)
    # Semantic lookups: how similar the matched request is (1.0 when it was the same request).
    similarity: float | None = None
    semantic: bool = False

    @classmethod
    def from_json(cls, data: dict) -> CacheLookup:
        similarity = data.get("similarity")
        return cls(
            hit=bool(data.get("hit")),
            key=data.get("key"),
            response=data.get("response"),
            tokens_saved=int(data.get("tokens_saved") or 0),
            usd_saved=money(data.get("usd_saved")),
            raw=data,
            similarity=None if similarity is None else float(similarity),
            semantic=bool(data.get("semantic")),
        )
