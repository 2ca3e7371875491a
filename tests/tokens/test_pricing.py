"""Exact pricing of every usage shape, built with the official SDKs' own types."""

from datetime import timedelta
from decimal import Decimal

import pytest
from anthropic.types import Usage as AnthropicUsage
from django.db.models import Count
from django.utils import timezone
from openai.types import CompletionUsage
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.responses import ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from ingestion.services import usage_reprice
from tests.factories import ModelPriceFactory
from tokens.counts import TOKEN_CLASSES
from tokens.models import ModelPrice, UsageRecord
from tokens.pricing import TokenCounts, cost_of
from tokens.services import prices_import


def tokens(**counts) -> dict:
    """The API's tokens object: every class, zero unless given, and the total."""
    return {**dict.fromkeys(TOKEN_CLASSES, 0), **counts, "total": sum(counts.values())}


def post(api, **record):
    record.setdefault("request_id", f"req-{record['model']}-{len(str(record))}")
    response = api.post("/api/v1/usage", record, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_openai_chat_cached_and_reasoning_tokens_priced_once_each(api):
    usage = CompletionUsage(
        prompt_tokens=2000, completion_tokens=500, total_tokens=2500,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=1500),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=300),
    )
    body = post(api, request_id="o3-call", model="o3", usage=usage.model_dump())
    # prompt 2000 includes 1500 cached; completion 500 includes 300 reasoning.
    assert body["tokens"] == tokens(input=500, cached_input=1500, output=200, reasoning=300)
    # o3: $2 in, $0.50 cached, $8 out (reasoning at the output price).
    # 500*2 + 1500*0.5 + 200*8 + 300*8 = 1000 + 750 + 1600 + 2400 = 5750 micro-dollars
    assert body["cost_usd"] == "0.00575"
    assert body["priced"] is True


def test_openai_chat_cache_write_tokens_are_part_of_the_prompt(api):
    usage = CompletionUsage(
        prompt_tokens=1000, completion_tokens=10, total_tokens=1010,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=200, cache_write_tokens=300),
    )
    body = post(api, request_id="w1", model="claude-sonnet-4-5", usage=usage.model_dump())
    assert body["tokens"]["input"] == 500
    assert body["tokens"]["cached_input"] == 200
    assert body["tokens"]["cache_write"] == 300
    # sonnet 4.5: 500*3 + 200*0.3 + 300*3.75 + 10*15 = 1500 + 60 + 1125 + 150 = 2835
    assert body["cost_usd"] == "0.002835"


def test_openai_responses_usage(api):
    usage = ResponseUsage(
        input_tokens=1200, output_tokens=400, total_tokens=1600,
        input_tokens_details=InputTokensDetails(cached_tokens=1000, cache_write_tokens=0),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=100),
    )
    body = post(api, request_id="resp-1", model="gpt-4o", usage=usage.model_dump())
    assert body["tokens"] == tokens(input=200, cached_input=1000, output=300, reasoning=100)
    # gpt-4o: 200*2.5 + 1000*1.25 + 400*10 = 500 + 1250 + 4000 = 5750
    assert body["cost_usd"] == "0.00575"


def test_anthropic_input_tokens_exclude_cache_reads_and_writes(api):
    usage = AnthropicUsage(
        input_tokens=50, output_tokens=700, cache_read_input_tokens=10000, cache_creation_input_tokens=2000,
    )
    body = post(api, request_id="claude-1", model="claude-3-opus", usage=usage.model_dump())
    assert body["tokens"] == tokens(input=50, cached_input=10000, cache_write=2000, output=700)
    # claude-3-opus: 50*15 + 10000*1.5 + 2000*18.75 + 700*75 = 750 + 15000 + 37500 + 52500
    assert body["cost_usd"] == "0.10575"


def test_anthropic_usage_without_cache_fields_is_detected_by_provider(api):
    body = post(api, request_id="c2", model="claude-3-sonnet", usage={"input_tokens": 1000, "output_tokens": 100})
    assert body["tokens"]["input"] == 1000
    # claude-3-sonnet: 1000*3 + 100*15 = 4500
    assert body["cost_usd"] == "0.0045"


def test_flat_prompt_and_completion_tokens(api):
    body = post(api, request_id="flat", model="gpt-4", prompt_tokens=1000, completion_tokens=500)
    # gpt-4: 1000*30 + 500*60 = 60000
    assert body["cost_usd"] == "0.06"
    assert body["tokens"]["total"] == 1500


def test_cached_tokens_cost_the_input_price_when_the_model_has_no_cache_price(api):
    usage = {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 1000}}
    body = post(api, request_id="nocache", model="gpt-4-turbo", usage=usage)
    assert body["tokens"]["cached_input"] == 1000
    # gpt-4-turbo has no cache-read price: 1000 * $10 = 10000
    assert body["cost_usd"] == "0.01"


def test_long_context_tier_prices_above_200k_prompt_tokens(api):
    small = post(api, request_id="g1", model="gemini-2.5-pro", prompt_tokens=200_000, completion_tokens=1000)
    large = post(api, request_id="g2", model="gemini/gemini-2.5-pro", prompt_tokens=200_001, completion_tokens=1000)
    # at 200k: 200000*1.25 + 1000*10 = 260000; above: 200001*2.5 + 1000*15 = 515002.5
    assert small["cost_usd"] == "0.26"
    assert large["cost_usd"] == "0.5150025"


@pytest.mark.parametrize(
    ("model", "expected_name"),
    [
        ("gpt-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("claude-3-opus-20240229", "claude-3-opus"),
        ("anthropic/claude-3-opus", "claude-3-opus"),
        ("claude-3-sonnet", "claude-3-sonnet"),
        ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
        ("mistral/mistral-large-latest", "mistral-large-latest"),
        ("deepseek-chat", "deepseek-chat"),
    ],
)
def test_model_lookup_by_name_alias_and_provider_prefix(catalog, model, expected_name):
    assert catalog.canonical_name(model) == expected_name


def test_plan_models_resolve_with_context_windows(catalog):
    windows = {m: catalog.latest(m).context_window for m in
               ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "claude-3-opus", "claude-3-sonnet")}
    assert windows == {"gpt-4": 8192, "gpt-4-turbo": 128000, "gpt-3.5-turbo": 16385,
                       "claude-3-opus": 200000, "claude-3-sonnet": 200000}


def test_default_catalog_has_every_paid_mode_of_the_six_providers(catalog):
    providers = set(ModelPrice.objects.values_list("provider", flat=True))
    assert providers == {"openai", "anthropic", "gemini", "mistral", "deepseek", "xai", "cohere"}
    assert ModelPrice.objects.count() == 406
    assert dict(ModelPrice.objects.values_list("mode").annotate(n=Count("id")).order_by()) == {
        "chat": 271, "image_generation": 76, "audio_transcription": 25, "audio_speech": 16, "embedding": 11,
        "rerank": 7,
    }
    assert set(ModelPrice.objects.filter(provider="cohere").values_list("mode", flat=True)) == {"rerank"}


def test_record_is_priced_with_the_version_valid_when_it_occurred(api, user):
    now = timezone.now()
    old = ModelPriceFactory(name="acme-1", input_per_million=Decimal("1"), output_per_million=Decimal("2"),
                            valid_from=now - timedelta(days=30))
    ModelPriceFactory(name="acme-1", input_per_million=Decimal("4"), output_per_million=Decimal("8"),
                      valid_from=now - timedelta(days=10))
    before = post(api, request_id="h1", model="acme-1", prompt_tokens=1000, completion_tokens=1000,
                  occurred_at=(now - timedelta(days=20)).isoformat())
    after = post(api, request_id="h2", model="acme-1", prompt_tokens=1000, completion_tokens=1000,
                 occurred_at=(now - timedelta(days=1)).isoformat())
    assert before["cost_usd"] == "0.003"
    assert after["cost_usd"] == "0.012"
    assert UsageRecord.objects.get(request_id="h1").price_id == old.pk
    too_early = post(api, request_id="h0", model="acme-1", prompt_tokens=10, completion_tokens=10,
                     occurred_at=(now - timedelta(days=40)).isoformat())
    assert too_early["priced"] is False


def test_unknown_model_is_stored_unpriced_then_repriced(api, user):
    body = post(api, request_id="u1", model="acme-nova", prompt_tokens=1_000_000, completion_tokens=0)
    assert body["priced"] is False
    assert body["cost_usd"] == "0"
    prices_import(data={"acme-nova": {"litellm_provider": "acme", "mode": "chat",
                                      "input_cost_per_token": Decimal("7e-07"), "output_cost_per_token": 0}})
    assert usage_reprice(models=["acme-nova"]) == 1
    record = UsageRecord.objects.get(request_id="u1")
    assert record.priced is True
    assert record.cost_usd == Decimal("0.7")
    assert usage_reprice(models=["acme-nova"]) == 0  # nothing priced twice


def test_cost_is_exact_decimal_arithmetic():
    price = ModelPriceFactory.build(input_per_million=Decimal("0.075"), output_per_million=Decimal("0.3"),
                                    cache_read_per_million=Decimal("0.01875"))
    cost = cost_of(price, TokenCounts(input=3, cached_input=7, output=11))
    # 3*0.075 + 7*0.01875 + 11*0.3 = 3.65625 micro-dollars, with no float rounding
    assert cost == Decimal("0.00000365625")
