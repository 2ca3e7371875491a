"""Real usage objects of the providers' SDKs, with their cost computed by hand in Decimal.

Each case is what an agent posts to ``POST /api/v1/usage`` for one call: the
usage object as the official ``openai`` / ``anthropic`` SDK types dump it (the
Gemini, DeepSeek, xAI, OpenRouter and Cohere objects as their APIs return
them), the service tier the response reports, and billed units that are not
tokens. ``expected`` is the bill, worked out in the comment from the
provider's published per-1M prices (the same figures the LiteLLM map holds
for these models). ``tests/tokens/test_pricing_cases.py`` checks Netra
against every case; ``bench/pricing.py`` runs LiteLLM's cost functions on the
same objects beside Netra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from anthropic.types import CacheCreation, ServerToolUsage
from anthropic.types import OutputTokensDetails as AnthropicOutputDetails
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage, CreateEmbeddingResponse
from openai.types.audio.transcription import UsageDuration, UsageTokens, UsageTokensInputTokenDetails
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.images_response import Usage as ImagesUsage
from openai.types.images_response import UsageInputTokensDetails, UsageOutputTokensDetails
from openai.types.responses import ResponseUsage
from openai.types.responses.response_usage import (
    InputTokensDetails,
    InputTokensDetailsCacheWriteTokensDetails,
    OutputTokensDetails,
)


@dataclass(frozen=True)
class Case:
    name: str
    provider: str  # whose API produced the usage object
    model: str
    usage: dict[str, Any] | None
    expected: Decimal
    service_tier: str = ""
    units: dict[str, Any] = field(default_factory=dict)
    what: str = ""  # the class of mistake the case guards against

    def record(self, request_id: str) -> dict[str, Any]:
        """The record an agent posts for this call."""
        body: dict[str, Any] = {"request_id": request_id, "model": self.model}
        if self.usage is not None:
            body["usage"] = self.usage
        if self.service_tier:
            body["service_tier"] = self.service_tier
        if self.units:
            body["units"] = self.units
        return body


def _dump(model) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


def _chat(prompt, completion, *, cached=None, reasoning=None, audio=None, audio_out=None, image=None,
          **extra) -> dict[str, Any]:
    details = PromptTokensDetails(cached_tokens=cached, audio_tokens=audio, image_tokens=image)
    out = CompletionTokensDetails(reasoning_tokens=reasoning, audio_tokens=audio_out)
    total = extra.pop("total_tokens", prompt + completion)
    return _dump(CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total,
                                 prompt_tokens_details=details, completion_tokens_details=out, **extra))


def _responses(inp, out, *, cached=0, written=0, ttl_30m=None, ttl_12h=None, reasoning=0) -> dict[str, Any]:
    split = (InputTokensDetailsCacheWriteTokensDetails(ttl_30m_tokens=ttl_30m, ttl_12h_tokens=ttl_12h)
             if ttl_12h is not None else None)
    return _dump(ResponseUsage(
        input_tokens=inp, output_tokens=out, total_tokens=inp + out,
        input_tokens_details=InputTokensDetails(cached_tokens=cached, cache_write_tokens=written,
                                                cache_write_tokens_details=split),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
    ))


def _anthropic(inp, out, *, read=0, five=0, hour=0, thinking=None, searches=None, tier=None) -> dict[str, Any]:
    return _dump(AnthropicUsage(
        input_tokens=inp, output_tokens=out, cache_read_input_tokens=read,
        cache_creation_input_tokens=five + hour,
        cache_creation=CacheCreation(ephemeral_5m_input_tokens=five, ephemeral_1h_input_tokens=hour),
        output_tokens_details=AnthropicOutputDetails(thinking_tokens=thinking) if thinking is not None else None,
        server_tool_use=ServerToolUsage(web_search_requests=searches, web_fetch_requests=0)
        if searches is not None else None,
        service_tier=tier,
    ))


def _gemini(prompt, candidates, *, cached=None, thoughts=None, prompt_details=None, cache_details=None):
    """google-genai's GenerateContentResponseUsageMetadata, as ``model_dump(exclude_none=True)`` gives it."""
    usage: dict[str, Any] = {"prompt_token_count": prompt, "candidates_token_count": candidates,
                             "total_token_count": prompt + candidates + (thoughts or 0)}
    if cached is not None:
        usage["cached_content_token_count"] = cached
    if thoughts is not None:
        usage["thoughts_token_count"] = thoughts
    if prompt_details:
        usage["prompt_tokens_details"] = [{"modality": m, "token_count": n} for m, n in prompt_details.items()]
    if cache_details:
        usage["cache_tokens_details"] = [{"modality": m, "token_count": n} for m, n in cache_details.items()]
    return usage


M = Decimal(1_000_000)

CASES: list[Case] = [
    # --- OpenAI Chat Completions -----------------------------------------------------------------
    Case("openai chat, cached + reasoning", "openai", "gpt-5.4",
         _chat(12000, 1500, cached=8000, reasoning=1000),
         # 4000 x $2.50 + 8000 x $0.25 + 1500 x $15 (reasoning inside completion, output rate)
         (4000 * Decimal("2.5") + 8000 * Decimal("0.25") + 1500 * 15) / M,
         what="cached tokens inside prompt_tokens"),
    Case("openai chat, flex tier", "openai", "gpt-5.4",
         _chat(12000, 1500, cached=8000, reasoning=1000),
         (4000 * Decimal("1.25") + 8000 * Decimal("0.13") + 1500 * Decimal("7.5")) / M,
         service_tier="flex", what="service_tier the response reports"),
    Case("openai chat, priority tier", "openai", "gpt-5.4",
         _chat(12000, 1500, cached=8000, reasoning=1000),
         (4000 * 5 + 8000 * Decimal("0.5") + 1500 * 30) / M,
         service_tier="priority", what="service_tier the response reports"),
    Case("openai chat, default tier", "openai", "gpt-4o-mini", _chat(1000, 200),
         (1000 * Decimal("0.15") + 200 * Decimal("0.6")) / M, service_tier="default"),
    Case("openai Batch API", "openai", "gpt-5.4",
         _chat(12000, 1500, cached=8000, reasoning=1000),
         (4000 * Decimal("1.25") + 8000 * Decimal("0.13") + 1500 * Decimal("7.5")) / M,
         service_tier="batch", what="batch discount"),
    Case("openai chat above 272k", "openai", "gpt-5.4", _chat(300_000, 2000, cached=100_000),
         # the whole call at the >272k rates: $5 in, $0.50 cached, $22.50 out
         (200_000 * 5 + 100_000 * Decimal("0.5") + 2000 * Decimal("22.5")) / M,
         what="long-context tier"),
    Case("openai Batch API above 272k", "openai", "gpt-5.4", _chat(300_000, 1000),
         (300_000 * Decimal("2.5") + 1000 * Decimal("11.25")) / M, service_tier="batch",
         what="long-context tier of the batch rates"),
    Case("openai chat, audio in and out", "openai", "gpt-audio",
         _chat(1200, 800, audio=1000, audio_out=600),
         # text 200 x $2.50, audio 1000 x $32, text out 200 x $10, audio out 600 x $64
         (200 * Decimal("2.5") + 1000 * 32 + 200 * 10 + 600 * 64) / M, what="audio tokens"),
    # --- OpenAI Responses ------------------------------------------------------------------------
    Case("openai responses, reasoning", "openai", "gpt-5.4", _responses(1000, 500, reasoning=200),
         (1000 * Decimal("2.5") + 500 * 15) / M),
    Case("openai responses, 30-minute and 12-hour cache writes", "openai", "gpt-5.6",
         _responses(20000, 3000, cached=5000, written=10000, ttl_30m=4000, ttl_12h=6000, reasoning=2000),
         # 5000 x $4 + 5000 x $0.40 + 4000 x $5 (write) + 6000 x $10 (12h write) + 3000 x $20
         (5000 * 4 + 5000 * Decimal("0.4") + 4000 * 5 + 6000 * 10 + 3000 * 20) / M,
         what="longer-retention cache writes"),
    Case("openai responses, 12-hour writes at priority", "openai", "gpt-5.6",
         _responses(20000, 3000, cached=5000, written=10000, ttl_30m=4000, ttl_12h=6000, reasoning=2000),
         (5000 * 8 + 5000 * Decimal("0.8") + 4000 * 10 + 6000 * 20 + 3000 * 40) / M,
         service_tier="priority", what="longer-retention cache writes"),
    # --- OpenAI embeddings, images, audio --------------------------------------------------------
    Case("openai embeddings", "openai", "text-embedding-3-small",
         _dump(CreateEmbeddingResponse(data=[], model="text-embedding-3-small", object="list",
                                       usage={"prompt_tokens": 5000, "total_tokens": 5000}).usage),
         5000 * Decimal("0.02") / M),
    Case("openai embeddings, Batch API", "openai", "text-embedding-3-small",
         {"prompt_tokens": 5000, "total_tokens": 5000}, 5000 * Decimal("0.01") / M, service_tier="batch"),
    Case("openai image generation", "openai", "gpt-image-1",
         _dump(ImagesUsage(input_tokens=100, output_tokens=4160, total_tokens=4260,
                           input_tokens_details=UsageInputTokensDetails(image_tokens=40, text_tokens=60),
                           output_tokens_details=UsageOutputTokensDetails(image_tokens=4160, text_tokens=0))),
         # text in 60 x $5, image in 40 x $10, image out 4160 x $40
         (60 * 5 + 40 * 10 + 4160 * 40) / M, what="image tokens"),
    Case("openai transcription by the second", "openai", "whisper-1",
         _dump(UsageDuration(seconds=42.5, type="duration")), Decimal("42.5") * Decimal("0.0001"),
         what="per-second audio"),
    Case("openai transcription by the token", "openai", "gpt-4o-mini-transcribe",
         _dump(UsageTokens(input_tokens=500, output_tokens=120, total_tokens=620, type="tokens",
                           input_token_details=UsageTokensInputTokenDetails(audio_tokens=480, text_tokens=20))),
         (20 * Decimal("1.25") + 480 * Decimal("1.25") + 120 * 5) / M, what="audio tokens"),
    Case("openai speech by the character", "openai", "tts-1", None, 1000 * Decimal("0.000015"),
         units={"input_characters": 1000}, what="per-character speech"),
    Case("openai speech by the token", "openai", "gpt-4o-mini-tts",
         {"input_tokens": 20, "output_tokens": 1000, "total_tokens": 1020},
         # text in 20 x $0.60, audio out 1000 x $12
         (20 * Decimal("0.6") + 1000 * 12) / M, what="audio output tokens"),
    Case("openai web search calls", "openai", "gpt-5.2", _responses(2000, 400),
         (2000 * Decimal("1.75") + 400 * 14) / M + 2 * Decimal("0.01"),
         units={"web_search_requests": 2}, what="per-call tool price"),
    # --- Anthropic -------------------------------------------------------------------------------
    Case("anthropic 5-minute cache writes", "anthropic", "claude-sonnet-4-5",
         _anthropic(100, 800, read=20000, five=5000),
         (100 * 3 + 20000 * Decimal("0.3") + 5000 * Decimal("3.75") + 800 * 15) / M),
    Case("anthropic 1-hour cache writes", "anthropic", "claude-sonnet-4-5",
         _anthropic(100, 500, five=2000, hour=6000),
         # 5-minute writes at $3.75, 1-hour writes at $6
         (100 * 3 + 2000 * Decimal("3.75") + 6000 * 6 + 500 * 15) / M, what="1-hour cache writes"),
    Case("anthropic 1-hour writes, opus", "anthropic", "claude-opus-4-6",
         _anthropic(50, 1200, read=30000, hour=10000),
         (50 * 5 + 10000 * 10 + 30000 * Decimal("0.5") + 1200 * 25) / M, what="1-hour cache writes"),
    Case("anthropic message batch", "anthropic", "claude-haiku-4-5", _anthropic(2000, 1000, tier="batch"),
         (2000 * Decimal("0.5") + 1000 * Decimal("2.5")) / M, what="batch discount"),
    Case("anthropic web search", "anthropic", "claude-sonnet-4-5", _anthropic(3000, 600, searches=3),
         (3000 * 3 + 600 * 15) / M + 3 * Decimal("0.01"), what="per-call tool price"),
    Case("anthropic extended thinking", "anthropic", "claude-sonnet-4-5", _anthropic(500, 2000, thinking=1500),
         (500 * 3 + 2000 * 15) / M),
    # --- Gemini ----------------------------------------------------------------------------------
    Case("gemini cached context + thinking", "gemini", "gemini-2.5-pro",
         _gemini(50000, 2000, cached=40000, thoughts=3000),
         (10000 * Decimal("1.25") + 40000 * Decimal("0.125") + 5000 * 10) / M),
    Case("gemini above 200k", "gemini", "gemini-2.5-pro", _gemini(250_000, 1000, thoughts=500),
         (250_000 * Decimal("2.5") + 1500 * 15) / M, what="long-context tier"),
    Case("gemini multimodal with cached audio", "gemini", "gemini-2.5-flash",
         _gemini(10000, 800, cached=3000, thoughts=1200,
                 prompt_details={"TEXT": 4000, "IMAGE": 2580, "AUDIO": 3420},
                 cache_details={"TEXT": 2000, "AUDIO": 1000}),
         # audio 2420 x $1, image 2580 x $0.30, text 2000 x $0.30, cached text 2000 x $0.03,
         # cached audio 1000 x $0.10, out (800 + 1200 thinking) x $2.50
         (2420 * 1 + 2580 * Decimal("0.3") + 2000 * Decimal("0.3") + 2000 * Decimal("0.03") + 1000 * Decimal("0.1")
          + 2000 * Decimal("2.5")) / M, what="audio tokens"),
    Case("gemini batch", "gemini", "gemini-2.5-flash", _gemini(10000, 1000),
         (10000 * Decimal("0.15") + 1000 * Decimal("1.25")) / M, service_tier="batch", what="batch discount"),
    # --- DeepSeek, xAI, OpenRouter, Cohere -------------------------------------------------------
    Case("deepseek cache hit", "deepseek", "deepseek-chat",
         _chat(10000, 500, cached=6000, prompt_cache_hit_tokens=6000, prompt_cache_miss_tokens=4000),
         (4000 * Decimal("0.28") + 6000 * Decimal("0.028") + 500 * Decimal("0.42")) / M),
    Case("deepseek reasoner", "deepseek", "deepseek-reasoner", _chat(1000, 3000, reasoning=2500),
         (1000 * Decimal("0.28") + 3000 * Decimal("0.42")) / M),
    Case("xai reasoning outside completion_tokens", "xai", "xai/grok-4.3",
         _chat(1000, 200, reasoning=800, total_tokens=2000),
         # xAI's total = prompt + completion + reasoning: all 1000 output tokens are billed
         (1000 * Decimal("1.25") + 1000 * Decimal("2.5")) / M, what="reasoning outside completion"),
    Case("xai cached + image", "xai", "xai/grok-4.3", _chat(5000, 500, cached=3000, image=1000),
         (1000 * Decimal("1.25") + 1000 * Decimal("1.25") + 3000 * Decimal("0.2") + 500 * Decimal("2.5")) / M),
    Case("openrouter usage with cost", "openrouter", "anthropic/claude-sonnet-4-5",
         _chat(1000, 100, cost=0.0045), (1000 * 3 + 100 * 15) / M, what="provider-reported cost"),
    Case("cohere rerank", "cohere", "rerank-v3.5",
         {"billed_units": {"search_units": 1}}, Decimal("0.002"), what="per-query rerank"),
]
