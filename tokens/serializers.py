"""The JSON shapes of the metering core's objects, shared by the APIs that return them.

A usage record is rendered by ``usage_record_out``, a plain dict builder, because
batches of 1000 records and ledger pages go through it on the hot path, where a DRF
serializer costs several times more (docs/api.md, "One contract"). Its contract is
``UsageRecordOutputSerializer``: the OpenAPI schema comes from it, and
tests/api/test_usage_contract.py renders real records both ways and requires equal JSON.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import IsoDateTimeField, MoneyField, TokenCountField
from core.money import money_str
from tokens.models import UsageRecord
from tokens.usage_input import MAX_LATENCY_MS, USAGE_FORMATS


def usage_record_out(record: UsageRecord, *, duplicate: bool | None = None) -> dict[str, Any]:
    data = {
        "id": str(record.pk),
        "request_id": record.request_id,
        "user": record.user.get_username(),
        "agent": record.agent,
        "tool": record.tool,
        "model": record.model,
        "provider": record.provider,
        "run_id": record.run_id,
        "tokens": record.token_counts.as_dict(),
        "cost_usd": money_str(record.cost_usd),
        "priced": record.priced,
        "cache_hit": record.cache_hit,
        "optimization": (
            {"technique": record.optimization_technique, "original_tokens": record.original_tokens}
            if record.optimization_technique
            else None
        ),
        "reservation_id": str(record.reservation_id) if record.reservation_id else None,
        "latency_ms": record.latency_ms,
        "metadata": record.metadata,
        "occurred_at": record.occurred_at.isoformat(),
        "received_at": record.received_at.isoformat(),
    }
    if duplicate is not None:
        data["duplicate"] = duplicate
    return data


class TokenCountsSerializer(serializers.Serializer):
    """The five token classes of a call, each priced once at its own rate, and their sum."""

    class Meta:
        ref_name = "TokenCounts"

    input = serializers.IntegerField(help_text="Uncached input (prompt) tokens.")
    cached_input = serializers.IntegerField(help_text="Input tokens read from the provider's prompt cache.")
    cache_write = serializers.IntegerField(help_text="Input tokens written to the provider's prompt cache.")
    output = serializers.IntegerField(help_text="Output tokens other than reasoning.")
    reasoning = serializers.IntegerField(help_text="Reasoning tokens, where the provider reports them apart.")
    total = serializers.IntegerField()


class UsageOptimizationSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageOptimization"

    technique = serializers.CharField()
    original_tokens = serializers.IntegerField(allow_null=True)


# The answers render through usage_record_out (see the module docstring); this is their contract.
class UsageRecordOutputSerializer(serializers.Serializer):
    """One stored usage record as the server priced it."""

    class Meta:
        ref_name = "UsageRecord"

    id = serializers.UUIDField()
    request_id = serializers.CharField()
    user = serializers.CharField(source="user.get_username")
    agent = serializers.CharField()
    tool = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField(help_text="The catalog's provider; empty for an unpriced model.")
    run_id = serializers.CharField()
    tokens = TokenCountsSerializer(source="token_counts")
    cost_usd = MoneyField()
    priced = serializers.BooleanField(help_text="False: the model is not in the catalog yet; cost_usd is 0.")
    cache_hit = serializers.BooleanField()
    optimization = serializers.SerializerMethodField()
    reservation_id = serializers.UUIDField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    metadata = serializers.DictField()
    occurred_at = IsoDateTimeField()
    received_at = IsoDateTimeField()
    duplicate = serializers.BooleanField(
        required=False, help_text="Answers to a post only: true when request_id was stored before."
    )

    @extend_schema_field(UsageOptimizationSerializer(allow_null=True))
    def get_optimization(self, record: UsageRecord) -> dict[str, Any] | None:
        if not record.optimization_technique:
            return None
        return {"technique": record.optimization_technique, "original_tokens": record.original_tokens}


class UsageTotalsSerializer(serializers.Serializer):
    """Exact sums of a set of usage records: every token class, the cost, and the provider-style sums."""

    class Meta:
        ref_name = "UsageTotals"

    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost_usd = MoneyField()
    prompt_tokens = serializers.IntegerField(help_text="input + cached_input + cache_write.")
    completion_tokens = serializers.IntegerField(help_text="output + reasoning.")


class _GroupKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The agent, model or tool name, or the UTC day (YYYY-MM-DD).")


# The key's base class comes first so that the key leads each group, as it always has.
class UsageGroupSerializer(_GroupKeySerializer, UsageTotalsSerializer):
    """The totals of one group: an agent, model, tool or UTC day."""

    class Meta:
        ref_name = "UsageGroup"


class PriceTierSerializer(serializers.Serializer):
    """Long-context prices: they apply to the whole call when its prompt exceeds the threshold."""

    class Meta:
        ref_name = "PriceTier"

    above_input_tokens = serializers.IntegerField()
    input_per_million = MoneyField()
    output_per_million = MoneyField(required=False)
    cache_read_per_million = MoneyField(required=False)
    cache_write_per_million = MoneyField(required=False)


class ModelPriceOutputSerializer(serializers.Serializer):
    """One model of the catalog at its current prices (USD per 1M tokens)."""

    class Meta:
        ref_name = "ModelPrice"

    name = serializers.CharField()
    provider = serializers.CharField()
    mode = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    input_per_million = MoneyField()
    output_per_million = MoneyField()
    cache_read_per_million = MoneyField(allow_null=True, help_text="Null: billed at the input price.")
    cache_write_per_million = MoneyField(allow_null=True, help_text="Null: billed at the input price.")
    reasoning_per_million = MoneyField(allow_null=True, help_text="Null: billed at the output price.")
    tiers = PriceTierSerializer(many=True)
    context_window = serializers.IntegerField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)
    valid_from = IsoDateTimeField()


# What a client posts. tokens.usage_input validates it by hand (the hot path); these serializers are its
# documentation, and tests/api/test_usage_contract.py holds the validator to every name, type, bound and
# choice they declare, and every key the validator reads to a declared field.


class InputTokensDetailsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "InputTokensDetails"

    cached_tokens = TokenCountField(required=False, help_text="Counted inside the prompt/input total.")
    cache_write_tokens = TokenCountField(required=False, help_text="Counted inside the prompt/input total.")


class OutputTokensDetailsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OutputTokensDetails"

    reasoning_tokens = TokenCountField(required=False, help_text="Counted inside the completion/output total.")


class ProviderUsageSerializer(serializers.Serializer):
    """The provider SDK's usage object as it came: OpenAI Chat Completions, OpenAI Responses or Anthropic.

    The shape is detected from its keys unless ``usage_format`` names it; at least one token count of
    that shape is required (an explicit 0 counts).
    """

    class Meta:
        ref_name = "ProviderUsage"

    prompt_tokens = TokenCountField(required=False, help_text="Chat Completions; includes cached tokens.")
    completion_tokens = TokenCountField(required=False, help_text="Chat Completions; includes reasoning.")
    prompt_tokens_details = InputTokensDetailsSerializer(required=False)
    completion_tokens_details = OutputTokensDetailsSerializer(required=False)
    input_tokens = TokenCountField(
        required=False, help_text="Responses: includes cached tokens. Anthropic: excludes both cache classes."
    )
    output_tokens = TokenCountField(required=False)
    input_tokens_details = InputTokensDetailsSerializer(required=False)
    output_tokens_details = OutputTokensDetailsSerializer(required=False)
    cache_read_input_tokens = TokenCountField(required=False, help_text="Anthropic.")
    cache_creation_input_tokens = TokenCountField(required=False, help_text="Anthropic.")
    total_tokens = serializers.JSONField(required=False, help_text="Not read as a count: it tells the shape.")


class UsageRecordOptimizationSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageRecordOptimization"

    technique = serializers.CharField(max_length=100, required=False, help_text="e.g. compression.")
    original_tokens = TokenCountField(required=False, help_text="Tokens before the technique applied.")


class UsageRecordInputSerializer(serializers.Serializer):
    """One model call as posted. ``usage``, or flat ``prompt_tokens`` and ``completion_tokens``, is required."""

    class Meta:
        ref_name = "UsageRecord"

    request_id = serializers.CharField(max_length=200, help_text="Idempotency key, unique per user.")
    model = serializers.CharField(max_length=200)
    agent = serializers.CharField(max_length=100, required=False, default="default")
    tool = serializers.CharField(max_length=100, required=False)
    run_id = serializers.CharField(max_length=200, required=False)
    user = serializers.CharField(max_length=150, required=False, help_text="Service keys only: act for this user.")
    usage = ProviderUsageSerializer(required=False)
    usage_format = serializers.ChoiceField(
        choices=USAGE_FORMATS, required=False, help_text="Overrides the detection of the usage shape."
    )
    # Without usage, the record itself is read as Chat Completions usage: these four as in ProviderUsage.
    prompt_tokens = TokenCountField(required=False, help_text="Without usage: Chat Completions' prompt_tokens.")
    completion_tokens = TokenCountField(required=False, help_text="Without usage: Chat Completions' completion_tokens.")
    prompt_tokens_details = InputTokensDetailsSerializer(required=False)
    completion_tokens_details = OutputTokensDetailsSerializer(required=False)
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text="Default now; at most 5 minutes ahead, not before 2020-01-01; without a zone it is UTC.",
    )
    optimization = UsageRecordOptimizationSerializer(required=False)
    cache_hit = serializers.BooleanField(required=False, default=False)
    reservation_id = serializers.UUIDField(required=False, help_text="The budget hold this call settles.")
    latency_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_LATENCY_MS)
    metadata = serializers.DictField(required=False, help_text="Up to 8 KB of JSON.")
