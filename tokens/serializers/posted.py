"""What a client posts: one usage record and the provider's usage object inside it.

``tokens.usage_input`` validates posted records by hand (the hot path); these serializers are its
documentation, and tests/api/test_usage_contract.py holds the validator to every name, type, bound and
choice they declare, and every key the validator reads to a declared field.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from core.api.fields import TokenCountField
from core.limits import MAX_TOKENS
from tokens.pricing import UNIT_QUALIFIERS, UNIT_RATES
from tokens.usage_input import MAX_LATENCY_MS, USAGE_FORMATS


@extend_schema_field({"oneOf": [{"type": "number", "minimum": 0, "maximum": MAX_TOKENS},
                                 {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$"}]})
class AmountField(serializers.DecimalField):
    """A non-negative JSON number or decimal string up to ``MAX_TOKENS``, read exactly (seconds, costs)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=None, decimal_places=None, min_value=0, max_value=MAX_TOKENS, **kwargs)


def amount_field(**kwargs) -> AmountField:
    return AmountField(required=False, **kwargs)


class CachedTokensDetailsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CachedTokensDetails"

    audio_tokens = TokenCountField(required=False, help_text="Cached audio: inside cached_tokens and audio_tokens.")
    image_tokens = TokenCountField(required=False, help_text="Cached images: inside cached_tokens and image_tokens.")


class CacheWriteTokensDetailsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CacheWriteTokensDetails"

    ttl_12h_tokens = TokenCountField(
        required=False, help_text="Writes with 12-hour retention, inside cache_write_tokens (the rest: 30 minutes)."
    )


class InputTokensDetailsSerializer(serializers.Serializer):
    """OpenAI's breakdown of the prompt: every count here is inside prompt_tokens / input_tokens."""

    class Meta:
        ref_name = "InputTokensDetails"

    cached_tokens = TokenCountField(required=False, help_text="Read from the prompt cache.")
    cached_tokens_details = CachedTokensDetailsSerializer(required=False)
    cache_write_tokens = TokenCountField(required=False, help_text="Written to the prompt cache.")
    cache_write_tokens_details = CacheWriteTokensDetailsSerializer(required=False)
    audio_tokens = TokenCountField(required=False)
    image_tokens = TokenCountField(required=False)


class OutputTokensDetailsSerializer(serializers.Serializer):
    """OpenAI's breakdown of completion_tokens / output_tokens: every count is inside it (xAI counts reasoning
    outside completion_tokens: see total_tokens)."""

    class Meta:
        ref_name = "OutputTokensDetails"

    reasoning_tokens = TokenCountField(required=False)
    audio_tokens = TokenCountField(required=False)
    image_tokens = TokenCountField(required=False)


class ResponsesOutputTokensDetailsSerializer(OutputTokensDetailsSerializer):
    """The breakdown of output_tokens: OpenAI Responses' classes, or Anthropic's thinking."""

    class Meta:
        ref_name = "ResponsesOutputTokensDetails"

    thinking_tokens = TokenCountField(required=False, help_text="Anthropic: thinking, inside output_tokens.")


class CacheCreationSerializer(serializers.Serializer):
    """Anthropic's split of cache_creation_input_tokens by retention."""

    class Meta:
        ref_name = "AnthropicCacheCreation"

    ephemeral_5m_input_tokens = TokenCountField(required=False)
    ephemeral_1h_input_tokens = TokenCountField(required=False)


class ServerToolUseSerializer(serializers.Serializer):
    class Meta:
        ref_name = "AnthropicServerToolUse"

    web_search_requests = TokenCountField(required=False, help_text="Billed per search.")


class ModalityTokenCountSerializer(serializers.Serializer):
    """Gemini: the tokens of one modality."""

    class Meta:
        ref_name = "GeminiModalityTokenCount"

    modality = serializers.CharField(max_length=32, required=False, help_text="TEXT (default), AUDIO, IMAGE, VIDEO.")
    token_count = TokenCountField(required=False)


def modalities(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=ModalityTokenCountSerializer(), required=False, help_text=help_text)


@extend_schema_field(PolymorphicProxySerializer(
    component_name="PromptTokensDetails",
    serializers=[InputTokensDetailsSerializer, ModalityTokenCountSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
))
class PromptTokensDetailsField(serializers.Field):
    """OpenAI Chat Completions' prompt breakdown (an object), or Gemini's prompt tokens by modality (a list)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # The two documented forms, for the contract test.
        self.forms = {"object": InputTokensDetailsSerializer(), "list": modalities("")}


class BilledUnitsSerializer(serializers.Serializer):
    """Cohere's meta.billed_units."""

    class Meta:
        ref_name = "CohereBilledUnits"

    search_units = TokenCountField(required=False, help_text="Rerank: billed per query.")
    input_tokens = TokenCountField(required=False)
    output_tokens = TokenCountField(required=False)


class ProviderUsageSerializer(serializers.Serializer):
    """The provider SDK's usage object as it came: OpenAI Chat Completions (also DeepSeek, xAI, OpenRouter,
    embeddings), OpenAI Responses (also image generation, transcription, realtime), Anthropic Messages,
    Gemini ``usage_metadata`` (snake_case, or the REST API's camelCase) or Cohere.

    The shape is detected from its keys unless ``usage_format`` names it (docs/api.md); at least one
    count of that shape is required (an explicit 0 counts).
    """

    class Meta:
        ref_name = "ProviderUsage"

    # OpenAI Chat Completions
    prompt_tokens = TokenCountField(required=False, help_text="Chat Completions; includes every class below.")
    completion_tokens = TokenCountField(required=False, help_text="Chat Completions; includes reasoning.")
    prompt_tokens_details = PromptTokensDetailsField(required=False)
    completion_tokens_details = OutputTokensDetailsSerializer(required=False)
    prompt_cache_hit_tokens = TokenCountField(required=False, help_text="DeepSeek: cached_tokens.")
    total_tokens = serializers.JSONField(
        required=False, help_text="Not read as a count: it tells the shape (and xAI's reasoning outside completion)."
    )
    # OpenAI Responses; Anthropic and Cohere share the two totals
    input_tokens = TokenCountField(
        required=False, help_text="Responses: includes cached tokens. Anthropic: excludes both cache classes."
    )
    output_tokens = TokenCountField(required=False)
    input_tokens_details = InputTokensDetailsSerializer(required=False)
    output_tokens_details = ResponsesOutputTokensDetailsSerializer(required=False)
    input_token_details = InputTokensDetailsSerializer(required=False, help_text="Realtime and transcription.")
    output_token_details = OutputTokensDetailsSerializer(required=False, help_text="Realtime.")
    type = serializers.JSONField(
        required=False, help_text='Transcription: "tokens", or "duration" (billed per second of audio).'
    )
    seconds = serializers.FloatField(
        required=False, min_value=0, max_value=MAX_TOKENS, help_text='Transcription of type "duration".'
    )
    # Anthropic
    cache_read_input_tokens = TokenCountField(required=False)
    cache_creation_input_tokens = TokenCountField(required=False)
    cache_creation = CacheCreationSerializer(required=False)
    server_tool_use = ServerToolUseSerializer(required=False)
    # Gemini
    prompt_token_count = TokenCountField(required=False, help_text="Includes cached and every modality.")
    candidates_token_count = TokenCountField(required=False)
    cached_content_token_count = TokenCountField(required=False)
    thoughts_token_count = TokenCountField(required=False, help_text="Outside candidates_token_count.")
    tool_use_prompt_token_count = TokenCountField(required=False, help_text="Outside prompt_token_count.")
    total_token_count = serializers.JSONField(required=False, help_text="Not read as a count.")
    cache_tokens_details = modalities("Cached tokens by modality (inside cached_content_token_count).")
    candidates_tokens_details = modalities("Output tokens by modality.")
    # Cohere
    billed_units = BilledUnitsSerializer(required=False)
    search_units = TokenCountField(required=False, help_text="Cohere, when billed_units itself is posted.")
    # Any shape
    service_tier = serializers.CharField(
        max_length=32, required=False, help_text="Anthropic: the tier that served the call (batch, priority)."
    )
    cost = amount_field(help_text="OpenRouter: the cost it charged, kept as provider_cost_usd.")


UnitsSerializer = type("UnitsSerializer", (serializers.Serializer,), {
    "__module__": __name__,
    "__doc__": "Billed units that are not tokens, each priced at the model's rate for it (docs/pricing.md).",
    "Meta": type("Meta", (), {"ref_name": "BilledUnits"}),
    **{
        name: amount_field(help_text="Seconds; may have a fraction.") if name.endswith("_seconds")
        else serializers.IntegerField(required=False, min_value=0, max_value=MAX_TOKENS)
        for name in UNIT_RATES
    },
    **{name: serializers.CharField(max_length=32, required=False) for name in UNIT_QUALIFIERS},
})


class UsageRecordOptimizationSerializer(serializers.Serializer):
    class Meta:
        ref_name = "UsageRecordOptimization"

    technique = serializers.CharField(max_length=100, required=False, help_text="e.g. compression.")
    original_tokens = TokenCountField(required=False, help_text="Tokens before the technique applied.")


class UsageRecordInputSerializer(serializers.Serializer):
    """One model call as posted. ``usage``, flat ``prompt_tokens`` and ``completion_tokens``, or ``units``
    is required."""

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
    service_tier = serializers.CharField(
        max_length=32, required=False,
        help_text="The tier the response says served the call: default, flex, priority, batch (OpenAI Batch API "
        "lines, Gemini batch). Default: usage.service_tier, else standard.",
    )
    units = UnitsSerializer(required=False)
    provider_cost_usd = amount_field(
        help_text="The cost the provider reported, kept beside Netra's price (default: usage.cost)."
    )
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text="Default now; at most 5 minutes ahead, not before 2020-01-01; without a zone it is UTC.",
    )
    optimization = UsageRecordOptimizationSerializer(required=False)
    cache_hit = serializers.BooleanField(required=False, default=False)
    reservation_id = serializers.UUIDField(required=False, help_text="The budget hold this call settles.")
    latency_ms = serializers.IntegerField(required=False, min_value=0, max_value=MAX_LATENCY_MS)
    metadata = serializers.DictField(required=False, help_text="Up to 8 KB of JSON.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=10,
        help_text="Cost-center tags: up to 10 strings of 1 to 64 characters. Spend is reported, filtered "
        "(`?tag=`) and budgeted (scope tag) by them.",
    )
