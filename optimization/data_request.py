"""Token-aware data request planning (the plan's DataHelper), pure logic.

Complexity comes from measurable features of the request and the triage
result; the strategy follows from it:

- high   -> progressive disclosure: the request split into chunks of at most 500 tokens,
- medium -> focused examples: at most 2 examples of the expected data,
- low    -> a direct request.

Data already present in ``previous_results`` (under its name, as a record
naming it, or by its data type) is left out; when the plan is
over ``token_budget`` its text is compressed (balanced, then aggressive).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from optimization.chunking import chunk_text
from optimization.compression import compress
from tokens.tokenizer import count_text

CHUNK_TOKENS = 500
MAX_EXAMPLES = 2
_ANALYTIC_WORDS = re.compile(
    r"\b(?:compare|comparison|trend|trends|correlat\w*|forecast\w*|breakdown|across|versus|vs|segment\w*|"
    r"root cause|anomal\w*|optimi[sz]\w*|over time|per (?:day|week|month)|by (?:model|agent|user|region))\b",
    re.IGNORECASE,
)


@dataclass
class DataRequestPlan:
    complexity: str
    strategy: str
    chunks: list[dict[str, Any]]
    estimated_tokens: int
    baseline_tokens: int
    optimization_applied: bool
    techniques: list[str] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    omitted: list[str] = field(default_factory=list)


def _item_name(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("name", "data_type", "source", "key", "id"):
            if item.get(key):
                return str(item[key])
        return json.dumps(item, sort_keys=True)
    return str(item)


def _requested_items(triage: dict[str, Any]) -> list[Any]:
    for key in ("data_needed", "data_requirements", "required_data", "data_sources"):
        value = triage.get(key)
        if isinstance(value, list):
            return value
    return []


_ID_KEYS = ("name", "data_type", "type", "source", "key", "id")
# Keys that hold or describe data rather than name it: {"name": "agents", "rows": [...]} names "agents" only.
_GENERIC_KEYS = frozenset(_ID_KEYS + ("data", "value", "values", "result", "results", "rows", "items", "content",
                                      "meta", "metadata", "records", "status", "error", "summary", "count"))


def _norm(name: Any) -> str:
    """Names compare case-, space- and hyphen-blind: "Per-agent spend" is "per_agent_spend"."""
    return "_".join(str(name).lower().replace("-", " ").split())


def _identifiers(item: Any) -> set[str]:
    """Every name a requested item goes by: the string, or its name, data type, source, key or id."""
    if isinstance(item, dict):
        return {_norm(item[k]) for k in _ID_KEYS if isinstance(item.get(k), str | int) and item.get(k) != ""} or {
            _norm(_item_name(item))
        }
    return {_norm(item)}


def _present_names(previous: Any) -> set[str]:
    """Names of the data already collected, in every shape a plan allows.

    A dict keyed by the data's name (``{"per_agent_spend": {...}}``), a list of
    such dicts (``[{"per_agent_spend": {...}}]``), a list of records that name
    their data (``[{"name": ...}]``, ``{"data_type": ...}``, ``{"source": ...}``),
    or plain names (``["agents"]``); a dict's values are read the same way, so
    ``{"r1": {"data_type": "daily_costs", ...}}`` counts too.
    """
    names: set[str] = set()
    if isinstance(previous, dict):
        names.update(_norm(k) for k in previous if str(k).lower() not in _GENERIC_KEYS)
        names.update(_identifiers(previous) if any(k in previous for k in _ID_KEYS) else set())
        for value in previous.values():
            if isinstance(value, dict) and any(k in value for k in _ID_KEYS):
                names.update(_identifiers(value))
    elif isinstance(previous, list):
        for item in previous:
            if isinstance(item, dict):
                names.update(_present_names(item))
            elif isinstance(item, str | int):
                names.add(_norm(item))
    return names


def classify_complexity(
    *, user_request: str, triage_result: dict[str, Any], items: int, model: str
) -> tuple[str, dict[str, Any]]:
    """Score measurable features; 5+ is high, 2-4 medium, under 2 low."""
    tokens = count_text(user_request, model).tokens
    features = {
        "request_tokens": tokens,
        "data_items": items,
        "entities": len(triage_result.get("entities") or []),
        "questions": user_request.count("?"),
        "analytic_terms": len(_ANALYTIC_WORDS.findall(user_request)),
        "numbers": len(re.findall(r"\d+(?:[.,]\d+)*", user_request)),
    }
    score = 0
    score += 2 if tokens > 150 else 1 if tokens > 40 else 0
    score += 2 if items >= 5 else 1 if items >= 2 else 0
    score += 1 if features["entities"] >= 4 else 0
    score += 1 if features["questions"] >= 2 else 0
    score += 2 if features["analytic_terms"] >= 2 else 1 if features["analytic_terms"] == 1 else 0
    features["score"] = score
    level = "high" if score >= 5 else "medium" if score >= 2 else "low"
    return level, features


def _item_line(item: Any) -> str:
    if isinstance(item, dict):
        name = _item_name(item)
        extra = {k: v for k, v in item.items() if k not in ("name",)}
        return f"- {name}" + (
            f": {json.dumps(extra, separators=(',', ':'), ensure_ascii=False)}" if extra else ""
        )
    return f"- {item}"


def _body(*, user_request: str, strategy: str, items: list[Any], examples: list[Any]) -> str:
    header = f"Data needed to answer: {user_request.strip()}"
    lines = "\n".join([_item_line(it) for it in items] or ["- (no further data needed)"])
    if strategy == "progressive_disclosure":
        return header + "\nRequest in order; stop once the question can be answered:\n" + lines
    body = header + "\n" + lines
    if strategy == "focused_examples" and examples:
        body += "\nExamples:\n" + "\n".join(
            e if isinstance(e, str) else json.dumps(e, separators=(",", ":"), ensure_ascii=False)
            for e in examples
        )
    return body


def plan_data_request(
    *,
    user_request: str,
    triage_result: dict[str, Any] | None,
    previous_results: Any,
    token_budget: int,
    model: str,
    optimize: bool = True,
) -> DataRequestPlan:
    """Plan the request; with ``optimize=False`` nothing is left out, limited or compressed."""
    triage_result = triage_result or {}
    requested = _requested_items(triage_result)
    present = _present_names(previous_results) if optimize else set()
    needed = [it for it in requested if not _identifiers(it) & present]
    omitted = [_item_name(it) for it in requested if _identifiers(it) & present]
    complexity, features = classify_complexity(
        user_request=user_request, triage_result=triage_result, items=len(needed), model=model
    )
    strategy = {"high": "progressive_disclosure", "medium": "focused_examples"}.get(complexity, "direct")
    examples = list(triage_result.get("examples") or [])
    baseline = _body(user_request=user_request, strategy=strategy, items=requested, examples=examples)
    techniques: list[str] = []
    if omitted:
        techniques.append("skip_present_data")
    if optimize and strategy == "focused_examples" and len(examples) > MAX_EXAMPLES:
        examples = examples[:MAX_EXAMPLES]
        techniques.append("limit_examples")
    body = _body(user_request=user_request, strategy=strategy, items=needed, examples=examples)
    total = count_text(body, model).tokens
    if optimize and total > token_budget:
        for level in ("balanced", "aggressive"):
            result = compress(body, level=level)
            body = result.text
            techniques.append(f"compression:{level}")
            total = count_text(body, model).tokens
            if total <= token_budget:
                break
    limit = CHUNK_TOKENS if strategy == "progressive_disclosure" else max(total, 1)
    chunks = [
        {"index": i, "text": c.text, "tokens": c.tokens}
        for i, c in enumerate(chunk_text(body, model=model, max_tokens=limit))
    ]
    if strategy == "progressive_disclosure" and len(chunks) > 1:
        techniques.append("progressive_disclosure")
    return DataRequestPlan(
        complexity=complexity,
        strategy=strategy,
        chunks=chunks,
        estimated_tokens=sum(c["tokens"] for c in chunks),
        baseline_tokens=count_text(baseline, model).tokens,
        optimization_applied=bool(techniques),
        techniques=techniques,
        features=features,
        omitted=omitted,
    )
