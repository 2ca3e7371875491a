"""Rebuild tokens/data/default_catalog.json from a LiteLLM price map.

The shipped catalog keeps every `chat` model of openai, anthropic, gemini,
mistral, deepseek and xai, plus the plan's retired Claude 3 models (taken from
their Bedrock entries, where the map still prices them) under their
first-party names.
"""

import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand

PROVIDERS = ("openai", "anthropic", "gemini", "mistral", "deepseek", "xai")
KEEP = (
    "litellm_provider", "mode", "input_cost_per_token", "output_cost_per_token",
    "cache_read_input_token_cost", "cache_creation_input_token_cost", "output_cost_per_reasoning_token",
    "max_input_tokens", "max_output_tokens", "max_tokens",
)
TIER_SUFFIXES = ("above_128k_tokens", "above_200k_tokens", "above_272k_tokens")
# name -> (source key in the map, aliases)
PLAN_MODELS = {
    "claude-3-opus": (
        ("anthropic.claude-3-opus-20240229-v1:0", "vertex_ai/claude-3-opus"),
        ["claude-3-opus-20240229", "claude-3-opus-latest"],
    ),
    "claude-3-sonnet": (
        ("anthropic.claude-3-sonnet-20240229-v1:0", "vertex_ai/claude-3-sonnet"),
        ["claude-3-sonnet-20240229"],
    ),
}
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "data" / "default_catalog.json"


class Command(BaseCommand):
    help = "Build the shipped default price catalog from a LiteLLM price map."

    def add_arguments(self, parser):
        parser.add_argument("source", help="LiteLLM model_prices JSON file")
        parser.add_argument("--out", default=str(DEFAULT_OUT))

    def handle(self, *args, source, out, **options):
        # Prices stay JSON numbers as in the source map; float() of a parsed
        # literal prints back the same literal, so nothing is rounded.
        data = json.loads(Path(source).read_text(), parse_float=Decimal)
        catalog = {}
        for key, entry in sorted(data.items()):
            if not isinstance(entry, dict) or entry.get("mode") != "chat":
                continue
            if entry.get("litellm_provider") not in PROVIDERS:
                continue
            if entry.get("input_cost_per_token") is None or entry.get("output_cost_per_token") is None:
                continue
            catalog[key] = self._slim(entry)
        for name, (source_keys, aliases) in PLAN_MODELS.items():
            source_key = next((k for k in source_keys if k in data), None)
            if name in catalog or source_key is None:
                continue
            entry = self._slim(data[source_key])
            entry["litellm_provider"] = "anthropic"
            entry["aliases"] = aliases
            entry["source"] = f"LiteLLM map entry {source_key}"
            catalog[name] = entry
        Path(out).write_text(json.dumps(catalog, indent=1, sort_keys=True, default=float) + "\n")
        self.stdout.write(f"Wrote {len(catalog)} models to {out}")

    @staticmethod
    def _slim(entry):
        slim = {k: entry[k] for k in KEEP if entry.get(k) is not None}
        for suffix in TIER_SUFFIXES:
            for base in ("input_cost_per_token", "output_cost_per_token",
                         "cache_read_input_token_cost", "cache_creation_input_token_cost"):
                key = f"{base}_{suffix}"
                if entry.get(key) is not None:
                    slim[key] = entry[key]
        return slim
