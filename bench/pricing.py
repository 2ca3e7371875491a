#!/usr/bin/env python3
"""Cost truth: the same real usage objects priced by Netra and by LiteLLM, in one run.

    .venv/bin/pip install -r requirements-bench.txt
    .venv/bin/python bench/pricing.py [--markdown]

Every case of ``tests/pricing_cases.py`` (usage objects built with the official
``openai`` and ``anthropic`` SDK types, Gemini/DeepSeek/xAI/OpenRouter/Cohere
objects as their APIs return them, each with its bill worked out by hand in
Decimal) goes

- through Netra's whole ingestion pipeline (``usage_ingest``: validate,
  normalize, price, store) against the shipped default catalog, in a
  throw-away SQLite database;
- through LiteLLM's own cost functions (``completion_cost`` /
  ``cost_per_token``), after LiteLLM's own transformation of the provider's
  usage object where it has one (Anthropic ``calculate_usage``, Gemini
  ``calculate_usage``, Responses ``transform_response_api_usage_to_chat_usage``),
  with the service tier the response reports.

LiteLLM reads its bundled price map (``LITELLM_LOCAL_MODEL_COST_MAP=True``, no
network): litellm 1.109.1 ships the same map as
``../shared/data/pricing/litellm_model_prices_2026.json``, so both price from
the same rates and any difference is in how the usage is read and priced.

A cost is "exact" when it equals the hand-computed bill (Netra: Decimal
equality; LiteLLM returns a float: equal within 1e-9 relative). Anything
else, an exception included, is "wrong", with its error in percent.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import sys
import tempfile
import traceback
from decimal import Decimal
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # LiteLLM never fetches its map from the network
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/pricing-bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from litellm import ModelResponse, Usage  # noqa: E402
from litellm.cost_calculator import batch_cost_calculator, completion_cost  # noqa: E402
from litellm.cost_calculator import cost_per_token as litellm_cost_per_token  # noqa: E402
from litellm.llms.anthropic.chat.transformation import AnthropicConfig  # noqa: E402
from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig  # noqa: E402
from litellm.responses.utils import ResponseAPILoggingUtils  # noqa: E402
from litellm.types.llms.openai import ResponsesAPIResponse  # noqa: E402

from core.money import money_str  # noqa: E402
from ingestion.services import usage_ingest  # noqa: E402
from tests.pricing_cases import CASES, Case  # noqa: E402

# Where LiteLLM looks a case's model up: (custom_llm_provider, model name in its map).
LITELLM_MODEL = {
    "gemini-2.5-pro": ("gemini", "gemini/gemini-2.5-pro"),
    "gemini-2.5-flash": ("gemini", "gemini/gemini-2.5-flash"),
    "deepseek-chat": ("deepseek", "deepseek/deepseek-chat"),
    "deepseek-reasoner": ("deepseek", "deepseek/deepseek-reasoner"),
    "xai/grok-4.3": ("xai", "xai/grok-4.3"),
    "anthropic/claude-sonnet-4-5": ("anthropic", "claude-sonnet-4-5"),
    "rerank-v3.5": ("cohere", "rerank-v3.5"),
}
LITELLM_VERSION = importlib.metadata.version("litellm")
_CAMEL = re.compile(r"_([a-z])")


def _camel(data):
    """Gemini's REST shape (camelCase), which LiteLLM's Gemini transformation reads."""
    if isinstance(data, dict):
        return {_CAMEL.sub(lambda m: m[1].upper(), k): _camel(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_camel(v) for v in data]
    return data


def litellm_cost(case: Case) -> float:
    """LiteLLM's cost of one case, the way LiteLLM prices that provider's response."""
    provider, model = LITELLM_MODEL.get(case.model, ("openai", case.model))
    if case.provider == "anthropic":
        provider = "anthropic"
    tier = case.service_tier or None
    usage = case.usage or {}
    if case.model == "whisper-1":
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="transcription",
                                          audio_transcription_file_duration=usage["seconds"]))
    if case.model == "tts-1":
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="speech",
                                          prompt_characters=case.units["input_characters"]))
    if case.provider == "cohere":
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="rerank",
                                          rerank_billed_units=usage["billed_units"]))
    if case.model == "text-embedding-3-small" and tier == "batch":
        block = Usage(prompt_tokens=usage["prompt_tokens"], completion_tokens=0, total_tokens=usage["total_tokens"])
        return sum(batch_cost_calculator(usage=block, model=model, custom_llm_provider=provider))
    if case.model == "text-embedding-3-small":
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="embedding",
                                          prompt_tokens=usage["prompt_tokens"], service_tier=tier))
    if case.model == "gpt-4o-mini-transcribe":
        details = usage.get("input_token_details") or {}
        block = Usage(prompt_tokens=usage["input_tokens"], completion_tokens=usage["output_tokens"],
                      total_tokens=usage["total_tokens"], prompt_tokens_details=details)
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="transcription",
                                          usage_object=block))
    if case.model == "gpt-4o-mini-tts":
        block = Usage(prompt_tokens=usage["input_tokens"], completion_tokens=usage["output_tokens"],
                      total_tokens=usage["total_tokens"])
        return sum(litellm_cost_per_token(model=model, custom_llm_provider=provider, call_type="speech",
                                          usage_object=block))
    if case.provider == "anthropic":
        block = AnthropicConfig().calculate_usage(usage_object=usage, reasoning_content=None)
        tier = tier or usage.get("service_tier")
    elif case.provider == "gemini":
        block = VertexGeminiConfig.calculate_usage({"usageMetadata": _camel(usage)})
    elif "input_tokens" in usage:  # Responses API and image generation
        block = ResponseAPILoggingUtils.transform_response_api_usage_to_chat_usage(usage)
    else:
        block = Usage(**usage)
    if case.units.get("web_search_requests") and case.provider == "openai":
        # LiteLLM counts the web_search_call items of the Responses API response itself.
        searches = [{"type": "web_search_call", "id": f"ws_{i}", "status": "completed",
                     "action": {"type": "search", "query": "q"}} for i in range(case.units["web_search_requests"])]
        response = ResponsesAPIResponse(id="resp_bench", created_at=0, model=model, object="response",
                                        status="completed", output=searches, usage=usage,
                                        parallel_tool_calls=True, tool_choice="auto", tools=[])
        return completion_cost(completion_response=response, model=model, custom_llm_provider=provider,
                               call_type="responses")
    if tier == "batch":  # LiteLLM prices batch output files with its batch calculator
        return sum(batch_cost_calculator(usage=block, model=model, custom_llm_provider=provider))
    call_type = "image_generation" if case.model.startswith("gpt-image") else "completion"
    response = ModelResponse(model=model, usage=block, service_tier=tier)
    return completion_cost(completion_response=response, model=model, custom_llm_provider=provider,
                           call_type=call_type, service_tier=tier)


def netra_costs() -> dict[str, Decimal | None]:
    """Netra's cost of every case, through the whole ingestion pipeline (None: stored unpriced)."""
    call_command("migrate", verbosity=0)
    call_command("import_prices", verbosity=0)
    user = get_user_model().objects.create_user("pricing-bench")
    results = usage_ingest(user=user, api_key=None, payloads=[c.record(f"case-{i}") for i, c in enumerate(CASES)])
    out = {}
    for case, result in zip(CASES, results, strict=True):
        if result.status != "created":
            raise SystemExit(f"{case.name}: {result.errors}")
        out[case.name] = result.record.cost_usd if result.record.priced else None
    return out


def _error(value: Decimal | None, expected: Decimal) -> Decimal | None:
    """Relative error in percent (None when exact)."""
    if value is None:
        return Decimal(-100)
    if expected == 0:
        return None if value == 0 else Decimal(100)
    return (value - expected) / expected * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="print LiteLLM's tracebacks")
    args = parser.parse_args()
    netra = netra_costs()
    rows = []
    totals = {"netra": [0, 0], "litellm": [0, 0]}
    for case in CASES:
        ours = netra[case.name]
        ours_error = None if ours == case.expected else _error(ours, case.expected)
        try:
            theirs_float = litellm_cost(case)
            theirs = Decimal(repr(theirs_float))
            exact = abs(theirs - case.expected) <= abs(case.expected) * Decimal("1e-9")
            theirs_error = None if exact else _error(theirs, case.expected)
            theirs_text = money_str(theirs.quantize(Decimal("1e-12")))
        except Exception as exc:  # LiteLLM refusing a case counts as wrong
            if args.verbose:
                traceback.print_exc()
            theirs_error, theirs_text = Decimal(-100), f"error: {type(exc).__name__}"
        totals["netra"][ours_error is not None] += 1
        totals["litellm"][theirs_error is not None] += 1
        rows.append((case, ours, ours_error, theirs_text, theirs_error))

    def pct(error: Decimal | None) -> str:
        return "exact" if error is None else f"{error:+.1f} %"

    print(f"| case | model | tier | expected (USD) | Netra | LiteLLM {LITELLM_VERSION} | guards against |")
    print("|---|---|---|---:|---|---|---|")
    for case, ours, ours_error, theirs_text, theirs_error in rows:
        ours_text = money_str(ours) if ours is not None else "unpriced"
        print(f"| {case.name} | `{case.model}` | {case.service_tier or '-'} | {money_str(case.expected)} | "
              f"{ours_text} ({pct(ours_error)}) | {theirs_text} ({pct(theirs_error)}) | {case.what or '-'} |")
    print()
    print(f"{len(CASES)} cases. Netra: {totals['netra'][0]} exact, {totals['netra'][1]} wrong. "
          f"LiteLLM {LITELLM_VERSION}: "
          f"{totals['litellm'][0]} exact, {totals['litellm'][1]} wrong.")


if __name__ == "__main__":
    main()
