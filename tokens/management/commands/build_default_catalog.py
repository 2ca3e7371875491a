"""Rebuild tokens/data/default_catalog.json from a LiteLLM price map.

The shipped catalog keeps every model of openai, anthropic, gemini, mistral,
deepseek and xai in the modes users pay for (chat, embeddings, image
generation, audio transcription and speech), Cohere's rerank models, plus the
plan's retired Claude 3 models (taken from their Bedrock entries, where the
map still prices them) under their first-party names. Every price key of an
entry is kept (tokens.price_map reads them all).
"""

import json
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand

from tokens.price_map import entry_prices, is_price_key

PROVIDERS = ("openai", "anthropic", "gemini", "mistral", "deepseek", "xai")
MODES = ("chat", "embedding", "image_generation", "audio_transcription", "audio_speech", "rerank")
# Cohere is kept for its rerank models only.
EXTRA = {"cohere": ("rerank",)}
KEEP = ("litellm_provider", "mode", "max_input_tokens", "max_output_tokens", "max_tokens")
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
            if not isinstance(entry, dict):
                continue
            provider, mode = entry.get("litellm_provider"), entry.get("mode", "chat")
            if not (provider in PROVIDERS and mode in MODES or mode in EXTRA.get(provider, ())):
                continue
            columns, rates = entry_prices(entry)
            if all(v is None for v in columns.values()) and not set(rates) - {"other"}:
                continue  # prices nothing
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
        return {k: v for k, v in entry.items() if v is not None and (k in KEEP or is_price_key(k))}
