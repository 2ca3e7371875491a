"""Services behind the optimize, cache and template APIs: count, optimize, record the saving."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from optimization.compression import LEVELS, compress
from optimization.compression.focus import Ranker
from optimization.embeddings import hybrid_scores
from optimization.models import PromptTemplate, SavingsRecord
from optimization.relevance import bm25_scores
from optimization.savings import optimization_enabled, savings_record_create
from optimization.templates import template_render
from tokens.pricing import catalog
from tokens.tokenizer import count_text


def _provider(model: str) -> str:
    price = catalog.latest(model)
    return price.provider if price else ""


@dataclass
class PromptOptimization:
    optimized: str
    original_tokens: int
    optimized_tokens: int
    savings_percent: float
    techniques: list[str]
    level: str
    enabled: bool = True
    removed_examples: int = 0
    target_met: bool | None = None
    target_tokens: int | None = None
    dropped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def relevance_ranker() -> Ranker:
    """What question-aware compression ranks with: BM25 (no model), or BM25 plus embedding cosine."""
    if settings.NETRA_RELEVANCE == "embeddings":
        return functools.partial(hybrid_scores, kind=settings.NETRA_EMBEDDINGS)
    return bm25_scores


def target_tokens_for(*, original: int, target_tokens: int | None, target_ratio: float | None) -> int | None:
    """The token target: given, or ``target_ratio`` (the share of the original to keep) of the original."""
    if target_ratio is not None:
        return math.floor(target_ratio * original)
    return target_tokens


def prompt_optimize(
    *,
    user,
    model: str,
    prompt: str,
    level: str = "balanced",
    target_reduction: float | None = None,
    max_examples: int = 2,
    agent: str = "",
    question: str = "",
    target_tokens: int | None = None,
    target_ratio: float | None = None,
) -> PromptOptimization:
    """Compress ``prompt``, question-aware when a question is given.

    ``target_reduction`` escalates levels until met; ``target_tokens`` or
    ``target_ratio`` make the level drop material, least relevant first,
    until the prompt fits (what went is in ``dropped``).
    """
    provider = _provider(model)
    original = count_text(prompt, model, provider).tokens
    if not optimization_enabled(user=user):
        return PromptOptimization(prompt, original, original, 0.0, [], level, enabled=False)
    budget = target_tokens_for(original=original, target_tokens=target_tokens, target_ratio=target_ratio)
    levels = list(LEVELS[LEVELS.index(level) :]) if target_reduction is not None else [level]

    def count(text: str) -> int:
        return count_text(text, model, provider).tokens

    for used in levels:
        result = compress(prompt, level=used, max_examples=max_examples, question=question,
                          ranker=relevance_ranker(), target_tokens=budget, count=count)
        tokens = count(result.text)
        saved = 100.0 * (original - tokens) / original if original else 0.0
        if target_reduction is None or saved >= 100.0 * target_reduction:
            break
    if tokens >= original:  # never hand back something longer
        result.text, tokens, saved, result.techniques, result.dropped = prompt, original, 0.0, [], []
    out = PromptOptimization(
        optimized=result.text,
        original_tokens=original,
        optimized_tokens=tokens,
        savings_percent=round(saved, 1),
        techniques=result.techniques,
        level=used,
        removed_examples=len(result.removed_examples),
        target_met=(
            (tokens <= budget) if budget is not None
            else None if target_reduction is None else saved >= 100.0 * target_reduction
        ),
        target_tokens=budget,
        dropped=[{"text": text, "relevance": score} for text, score in result.dropped],
    )
    if tokens < original:
        savings_record_create(
            user=user,
            technique=f"compression:{used}",
            model=model,
            original_tokens=original,
            optimized_tokens=tokens,
            agent=agent,
        )
    return out


def template_select(*, agent_type: str, richness: str | None) -> tuple[PromptTemplate | None, str]:
    """The newest active template for the agent type and richness, with a stated fallback."""
    active = PromptTemplate.objects.filter(is_active=True).order_by("-version", "-pk")
    if richness:
        found = active.filter(agent_type=agent_type, richness=richness).first()
        if found:
            return found, "exact"
    order = ["low", "medium", "high"]
    candidates = list(active.filter(agent_type=agent_type))
    if candidates:
        want = order.index(richness) if richness in order else 0
        candidates.sort(key=lambda t: (abs(order.index(t.richness) - want), -t.version))
        return candidates[0], "agent_type" if richness else "exact"
    fallback = active.filter(agent_type="general").first()
    if fallback:
        return fallback, "general"
    return None, "none"


@dataclass
class TemplateRendering:
    template: PromptTemplate
    rendered: str
    tokens: int
    baseline_tokens: int | None
    tokens_saved: int


def template_render_for(
    *, user, template: PromptTemplate, variables: dict[str, Any], model: str | None = None, agent: str = ""
) -> TemplateRendering:
    """Render the lean body; if a baseline exists, record what the lean version saved against it."""
    model = model or template.token_model
    provider = _provider(model)
    rendered = template_render(template.body, variables)  # raises MissingVariables
    tokens = count_text(rendered, model, provider).tokens
    baseline_tokens = None
    saved = 0
    if template.baseline_body:
        try:
            baseline = template_render(template.baseline_body, variables)
        except Exception:  # a baseline may use variables the lean body dropped
            baseline = template.baseline_body
        baseline_tokens = count_text(baseline, model, provider).tokens
        saved = max(baseline_tokens - tokens, 0)
        if saved and optimization_enabled(user=user):
            savings_record_create(
                user=user,
                source=SavingsRecord.SOURCE_TEMPLATE,
                technique=f"lean_template:{template.name}",
                model=model,
                original_tokens=baseline_tokens,
                optimized_tokens=tokens,
                agent=agent,
            )
    return TemplateRendering(template, rendered, tokens, baseline_tokens, saved)
