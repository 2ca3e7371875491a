"""Services behind the optimize, cache and template APIs: count, optimize, record the saving."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optimization.compression import LEVELS, compress
from optimization.models import PromptTemplate, SavingsRecord
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
    notes: list[str] = field(default_factory=list)


def prompt_optimize(
    *,
    user,
    model: str,
    prompt: str,
    level: str = "balanced",
    target_reduction: float | None = None,
    max_examples: int = 2,
    agent: str = "",
) -> PromptOptimization:
    """Compress ``prompt``; with a target, escalate levels until it is met (or none is left)."""
    provider = _provider(model)
    original = count_text(prompt, model, provider).tokens
    if not optimization_enabled(user=user):
        return PromptOptimization(prompt, original, original, 0.0, [], level, enabled=False)
    levels = list(LEVELS[LEVELS.index(level) :]) if target_reduction is not None else [level]
    for used in levels:
        result = compress(prompt, level=used, max_examples=max_examples)
        tokens = count_text(result.text, model, provider).tokens
        saved = 100.0 * (original - tokens) / original if original else 0.0
        if target_reduction is None or saved >= 100.0 * target_reduction:
            break
    if tokens >= original:  # never hand back something longer
        result.text, tokens, saved, result.techniques = prompt, original, 0.0, []
    out = PromptOptimization(
        optimized=result.text,
        original_tokens=original,
        optimized_tokens=tokens,
        savings_percent=round(saved, 1),
        techniques=result.techniques,
        level=used,
        removed_examples=len(result.removed_examples),
        target_met=None if target_reduction is None else saved >= 100.0 * target_reduction,
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
