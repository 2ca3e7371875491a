"""Provider usage objects -> the normalized token classes, each token priced once at its own rate.

* OpenAI Chat Completions (and DeepSeek, xAI, OpenRouter, embeddings): ``prompt_tokens``
  INCLUDES ``prompt_tokens_details.cached_tokens``, ``cache_write_tokens``, ``audio_tokens`` and
  ``image_tokens``; ``completion_tokens`` INCLUDES ``reasoning_tokens`` and audio/image output
  tokens. xAI counts reasoning OUTSIDE ``completion_tokens``: then ``total_tokens`` is
  prompt + completion + reasoning, which is how it is told apart. DeepSeek's
  ``prompt_cache_hit_tokens`` stands for ``cached_tokens`` when that is absent.
* OpenAI Responses, image generation, transcription (``type: "tokens"``), realtime: ``input_tokens``
  includes cached, cache-write, audio and image tokens (``input_tokens_details`` or
  ``input_token_details``); ``cache_write_tokens_details`` splits writes into 30-minute and
  12-hour retention. Transcription ``type: "duration"`` is billed per second of audio.
* Anthropic Messages: ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; ``cache_creation.ephemeral_5m_input_tokens`` /
  ``ephemeral_1h_input_tokens`` split the writes by retention; ``output_tokens`` includes
  ``output_tokens_details.thinking_tokens``; ``server_tool_use.web_search_requests`` are billed
  per search.
* Gemini ``usage_metadata`` (SDK snake_case or REST camelCase): ``prompt_token_count`` includes
  ``cached_content_token_count``; ``thoughts_token_count`` and ``tool_use_prompt_token_count`` are
  outside the prompt and candidates counts; ``*_tokens_details`` split them by modality.
* Cohere rerank ``meta`` (or ``meta.billed_units`` itself): ``billed_units.search_units`` are billed
  per query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from core.limits import MAX_TOKENS
from core.validation import string_error
from tokens.counts import TokenCounts

USAGE_FORMATS = ("openai_chat", "openai_responses", "anthropic", "gemini", "cohere")


@dataclass
class Shape:
    """What one usage object says: its token classes, billed units, service tier and reported cost."""

    counts: TokenCounts = field(default_factory=TokenCounts)
    units: dict[str, Any] = field(default_factory=dict)
    service_tier: str = ""
    provider_cost: Any = None


def _int(value: Any, name: str, errors: dict, *, maximum: int = MAX_TOKENS, unit: str = "tokens") -> int:
    """A non-negative JSON integer up to ``maximum`` (token counts by default)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.setdefault(name, []).append("Must be a non-negative integer.")
        return 0
    if value > maximum:
        errors.setdefault(name, []).append(f"At most {maximum:,} {unit}.")
        return 0
    return value


def _obj(value: Any, name: str, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.setdefault(name, []).append("Must be an object.")
        return {}
    return value


def _p(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(data: Any) -> Any:
    """REST camelCase keys as the SDK's snake_case (Gemini), recursively."""
    if isinstance(data, dict):
        return {_CAMEL.sub("_", k).lower(): _snake(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_snake(v) for v in data]
    return data


def _camel(data: Any) -> bool:
    """Whether any key of ``data`` is camelCase (then it is read as snake_case; otherwise as it came)."""
    if isinstance(data, dict):
        return any(k != k.lower() or _camel(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_camel(v) for v in data)
    return False


def detect_format(usage: dict, provider: str = "") -> str:
    """Which SDK produced ``usage``: Chat has prompt_tokens; Gemini prompt_token_count; Cohere
    billed_units; Anthropic cache_* fields; Responses total_tokens or *_details; else the provider."""
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return "openai_chat"
    if "prompt_token_count" in usage or "promptTokenCount" in usage or "candidates_token_count" in usage:
        return "gemini"
    if "billed_units" in usage or "search_units" in usage:
        return "cohere"
    if ("cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage
            or "cache_creation" in usage or "server_tool_use" in usage):
        return "anthropic"
    if ("total_tokens" in usage or "input_tokens_details" in usage or "output_tokens_details" in usage
            or "input_token_details" in usage or usage.get("type") in ("tokens", "duration")):
        return "openai_responses"
    if provider == "gemini":
        return "gemini"
    return "anthropic" if provider in ("", "anthropic") else "openai_responses"


# The counts of each shape: a usage object must carry at least one (an explicit 0 counts).
COUNT_KEYS = {
    "openai_chat": ("prompt_tokens", "completion_tokens"),
    "openai_responses": ("input_tokens", "output_tokens"),
    "anthropic": ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"),
    "gemini": ("prompt_token_count", "candidates_token_count", "total_token_count"),
    "cohere": ("search_units", "input_tokens", "output_tokens"),
}


def normalize_usage(usage: dict, fmt: str, errors: dict, prefix: str = "usage") -> Shape:
    """Split a provider usage object into the normalized token classes and billed units."""
    p = _p(prefix)
    if fmt == "gemini" and _camel(usage):
        usage = _snake(usage)
    counted = usage
    if fmt == "cohere" and usage.get("billed_units") is not None:
        counted = _obj(usage.get("billed_units"), f"{p}billed_units", errors)
    keys = COUNT_KEYS[fmt]
    if all(counted.get(key) is None for key in keys) and usage.get("type") != "duration":
        # Nothing to price: storing a 0-token record would hide a client bug.
        errors.setdefault(prefix or keys[0], []).append(
            f"At least one token count is required ({', '.join(keys)})."
        )
        return Shape()
    reader = {"openai_chat": _openai, "openai_responses": _openai, "anthropic": _anthropic,
              "gemini": _gemini, "cohere": _cohere}[fmt]
    shape = reader(usage, fmt, errors, prefix)
    shape.provider_cost = usage.get("cost")
    tier = usage.get("service_tier")
    if tier is not None:
        # The record's service_tier column: 32 characters of storable text.
        problem = string_error(tier, 32)
        if problem:
            errors.setdefault(f"{p}service_tier", []).append(problem)
        else:
            shape.service_tier = tier
    return shape


def _openai(usage: dict, fmt: str, errors: dict, prefix: str) -> Shape:
    p = _p(prefix)
    if usage.get("type") == "duration":  # a transcription billed by the second
        seconds = usage.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_TOKENS:
            errors.setdefault(f"{p}seconds", []).append(f"Must be a number from 0 to {MAX_TOKENS:,}.")
            return Shape()
        return Shape(units={"input_seconds": seconds})
    chat = fmt == "openai_chat"
    in_key, out_key = ("prompt_tokens", "completion_tokens") if chat else ("input_tokens", "output_tokens")
    in_det = f"{in_key}_details" if f"{in_key}_details" in usage or chat else "input_token_details"
    out_det = f"{out_key}_details" if f"{out_key}_details" in usage or chat else "output_token_details"
    prompt = _int(usage.get(in_key), f"{p}{in_key}", errors)
    completion = _int(usage.get(out_key), f"{p}{out_key}", errors)
    pdet = _obj(usage.get(in_det), f"{p}{in_det}", errors)
    cdet = _obj(usage.get(out_det), f"{p}{out_det}", errors)
    if pdet.get("cached_tokens") is None and usage.get("prompt_cache_hit_tokens") is not None:  # DeepSeek
        cached = _int(usage.get("prompt_cache_hit_tokens"), f"{p}prompt_cache_hit_tokens", errors)
    else:
        cached = _int(pdet.get("cached_tokens"), f"{p}{in_det}.cached_tokens", errors)
    cdetails = _obj(pdet.get("cached_tokens_details"), f"{p}{in_det}.cached_tokens_details", errors)
    cached_audio = _int(cdetails.get("audio_tokens"), f"{p}{in_det}.cached_tokens_details.audio_tokens", errors)
    cached_image = _int(cdetails.get("image_tokens"), f"{p}{in_det}.cached_tokens_details.image_tokens", errors)
    written = _int(pdet.get("cache_write_tokens"), f"{p}{in_det}.cache_write_tokens", errors)
    wdetails = _obj(pdet.get("cache_write_tokens_details"), f"{p}{in_det}.cache_write_tokens_details", errors)
    written_12h = _int(wdetails.get("ttl_12h_tokens"), f"{p}{in_det}.cache_write_tokens_details.ttl_12h_tokens",
                       errors)
    audio = _int(pdet.get("audio_tokens"), f"{p}{in_det}.audio_tokens", errors)
    image = _int(pdet.get("image_tokens"), f"{p}{in_det}.image_tokens", errors)
    reasoning = _int(cdet.get("reasoning_tokens"), f"{p}{out_det}.reasoning_tokens", errors)
    audio_out = _int(cdet.get("audio_tokens"), f"{p}{out_det}.audio_tokens", errors)
    image_out = _int(cdet.get("image_tokens"), f"{p}{out_det}.image_tokens", errors)
    total = usage.get("total_tokens")
    # xAI counts reasoning outside the completion: the total then says so.
    reasoning_apart = bool(reasoning) and isinstance(total, int) and total == prompt + completion + reasoning
    if written_12h > written:
        errors.setdefault(f"{p}{in_det}.cache_write_tokens_details.ttl_12h_tokens", []).append(
            "Cannot exceed cache_write_tokens.")
        written_12h = 0
    if cached_audio > min(cached, audio) or cached_image > min(cached, image):
        errors.setdefault(f"{p}{in_det}.cached_tokens_details", []).append(
            "Cached audio and image tokens cannot exceed cached_tokens nor the prompt's audio and image tokens.")
        cached_audio = cached_image = 0
    # A rejected total reads as 0: compare the breakdown only with a valid one.
    uncached = prompt - cached - written - (audio - cached_audio) - (image - cached_image)
    if uncached < 0 and f"{p}{in_key}" not in errors:
        media = " (and the audio and image tokens)" if audio or image else ""
        errors.setdefault(f"{p}{in_det}.cached_tokens", []).append(
            f"cached_tokens plus cache_write_tokens{media} cannot exceed {in_key} (OpenAI counts them inside it)."
        )
        return Shape()
    text_out = completion - (0 if reasoning_apart else reasoning) - audio_out - image_out
    if text_out < 0 and f"{p}{out_key}" not in errors:
        errors.setdefault(f"{p}{out_det}.reasoning_tokens", []).append(
            f"Cannot exceed {out_key} (OpenAI counts reasoning, audio and image tokens inside it)."
        )
        return Shape()
    return Shape(counts=TokenCounts(
        input=max(uncached, 0),
        cached_input=cached - cached_audio - cached_image,
        cache_write=written - written_12h,
        cache_write_12h=written_12h,
        audio_input=audio - cached_audio,
        cached_audio_input=cached_audio,
        image_input=image - cached_image,
        cached_image_input=cached_image,
        output=max(text_out, 0),
        reasoning=reasoning,
        audio_output=audio_out,
        image_output=image_out,
    ))


def _anthropic(usage: dict, fmt: str, errors: dict, prefix: str) -> Shape:
    p = _p(prefix)
    written = _int(usage.get("cache_creation_input_tokens"), f"{p}cache_creation_input_tokens", errors)
    split = _obj(usage.get("cache_creation"), f"{p}cache_creation", errors)
    five = _int(split.get("ephemeral_5m_input_tokens"), f"{p}cache_creation.ephemeral_5m_input_tokens", errors)
    hour = _int(split.get("ephemeral_1h_input_tokens"), f"{p}cache_creation.ephemeral_1h_input_tokens", errors)
    if split and usage.get("cache_creation_input_tokens") is None:
        written = five + hour
    elif split and five + hour != written:
        errors.setdefault(f"{p}cache_creation", []).append(
            "ephemeral_5m_input_tokens plus ephemeral_1h_input_tokens must equal cache_creation_input_tokens."
        )
    output = _int(usage.get("output_tokens"), f"{p}output_tokens", errors)
    details = _obj(usage.get("output_tokens_details"), f"{p}output_tokens_details", errors)
    thinking = _int(details.get("thinking_tokens"), f"{p}output_tokens_details.thinking_tokens", errors)
    if thinking > output:
        errors.setdefault(f"{p}output_tokens_details.thinking_tokens", []).append(
            "Cannot exceed output_tokens (Anthropic counts thinking inside it).")
        thinking = 0
    tools = _obj(usage.get("server_tool_use"), f"{p}server_tool_use", errors)
    searches = _int(tools.get("web_search_requests"), f"{p}server_tool_use.web_search_requests", errors,
                    unit="requests")
    return Shape(
        counts=TokenCounts(
            input=_int(usage.get("input_tokens"), f"{p}input_tokens", errors),
            cached_input=_int(usage.get("cache_read_input_tokens"), f"{p}cache_read_input_tokens", errors),
            cache_write=written - hour if split else written,
            cache_write_1h=hour if split else 0,
            output=output - thinking,
            reasoning=thinking,
        ),
        units={"web_search_requests": searches} if searches else {},
    )


def _modalities(items: Any, name: str, errors: dict) -> dict[str, int]:
    """Gemini's [{"modality": "AUDIO", "token_count": 10}, ...] as {"AUDIO": 10}."""
    out: dict[str, int] = {}
    if items is None:
        return out
    if not isinstance(items, list):
        errors.setdefault(name, []).append("Must be a list of {modality, token_count}.")
        return out
    for i, item in enumerate(items):
        item = _obj(item, f"{name}.{i}", errors)
        modality = item.get("modality") or "TEXT"
        problem = string_error(modality, 32)
        if problem:
            errors.setdefault(f"{name}.{i}.modality", []).append(problem)
            continue
        modality = modality.upper()
        out[modality] = out.get(modality, 0) + _int(item.get("token_count"), f"{name}.{i}.token_count", errors)
    return out


def _gemini(usage: dict, fmt: str, errors: dict, prefix: str) -> Shape:
    p = _p(prefix)
    prompt = _int(usage.get("prompt_token_count"), f"{p}prompt_token_count", errors)
    cached = _int(usage.get("cached_content_token_count"), f"{p}cached_content_token_count", errors)
    candidates = _int(usage.get("candidates_token_count"), f"{p}candidates_token_count", errors)
    thoughts = _int(usage.get("thoughts_token_count"), f"{p}thoughts_token_count", errors)
    tool_prompt = _int(usage.get("tool_use_prompt_token_count"), f"{p}tool_use_prompt_token_count", errors)
    into = _modalities(usage.get("prompt_tokens_details"), f"{p}prompt_tokens_details", errors)
    from_cache = _modalities(usage.get("cache_tokens_details"), f"{p}cache_tokens_details", errors)
    out = _modalities(usage.get("candidates_tokens_details"), f"{p}candidates_tokens_details", errors)
    audio_cached, image_cached = from_cache.get("AUDIO", 0), from_cache.get("IMAGE", 0)
    audio = into.get("AUDIO", 0) - audio_cached
    image = into.get("IMAGE", 0) - image_cached
    video = into.get("VIDEO", 0) - from_cache.get("VIDEO", 0)
    text = prompt - cached - audio - image - video
    text_out = candidates - out.get("AUDIO", 0) - out.get("IMAGE", 0)
    if min(audio, image, video, text, text_out, cached - audio_cached - image_cached) < 0:
        errors.setdefault(f"{p}prompt_tokens_details", []).append(
            "The modality details cannot exceed prompt_token_count, cached_content_token_count "
            "or candidates_token_count (Gemini counts them inside those)."
        )
        return Shape()
    return Shape(counts=TokenCounts(
        input=text + tool_prompt,
        cached_input=cached - audio_cached - image_cached,
        audio_input=audio,
        cached_audio_input=audio_cached,
        image_input=image,
        cached_image_input=image_cached,
        video_input=video,
        output=text_out,
        reasoning=thoughts,
        audio_output=out.get("AUDIO", 0),
        image_output=out.get("IMAGE", 0),
    ))


def _cohere(usage: dict, fmt: str, errors: dict, prefix: str) -> Shape:
    p = _p(prefix)
    billed = usage.get("billed_units")
    if billed is not None:  # the meta object; without it, the billed units themselves
        usage, p = (billed if isinstance(billed, dict) else {}), f"{p}billed_units."
    searches = _int(usage.get("search_units"), f"{p}search_units", errors, unit="units")
    return Shape(
        counts=TokenCounts(
            input=_int(usage.get("input_tokens"), f"{p}input_tokens", errors),
            output=_int(usage.get("output_tokens"), f"{p}output_tokens", errors),
        ),
        units={"queries": searches} if searches else {},
    )
