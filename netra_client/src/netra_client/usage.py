"""Reading the usage out of provider responses (objects or dicts) without importing the SDKs.

Token classes follow the server (each token priced once, at its own rate):
OpenAI Chat ``prompt_tokens`` includes ``prompt_tokens_details.cached_tokens`` (and
``cache_write_tokens`` where reported) and ``completion_tokens`` includes reasoning; the
Responses API likewise with input/output;
Anthropic ``input_tokens`` excludes ``cache_read_input_tokens`` and ``cache_creation_input_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OPENAI_CHAT = "openai_chat"
OPENAI_RESPONSES = "openai_responses"
ANTHROPIC = "anthropic"


@dataclass(frozen=True)
class Counts:
    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input + self.cached_input + self.cache_write + self.output + self.reasoning


def to_dict(obj: Any) -> dict | None:
    """A pydantic model (openai/anthropic), a dict or a plain object as a JSON-ready dict."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except TypeError:
            return dump()
    to_d = getattr(obj, "to_dict", None)
    if callable(to_d):
        return to_d()
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    return None


def _looks_like_usage(data: dict) -> bool:
    return any(k in data for k in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens"))


def extract_usage(response: Any) -> dict | None:
    """The usage object of a response (or the usage itself), as a dict, or None."""
    if response is None:
        return None
    if isinstance(response, dict):
        if _looks_like_usage(response):
            return response
        return to_dict(response.get("usage"))
    usage = getattr(response, "usage", None)
    if usage is not None:
        return to_dict(usage)
    data = to_dict(response)
    if data and _looks_like_usage(data):
        return data
    return None


def detect_format(usage: dict) -> str | None:
    """Which SDK produced ``usage``, or None to let the server decide from the model."""
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return OPENAI_CHAT
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        return ANTHROPIC
    if "total_tokens" in usage or "input_tokens_details" in usage or "output_tokens_details" in usage:
        return OPENAI_RESPONSES
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def normalize(usage: dict, fmt: str | None) -> Counts:
    """The five token classes, as the server will store them (for local metrics)."""
    fmt = fmt or detect_format(usage) or ANTHROPIC
    if fmt in (OPENAI_CHAT, OPENAI_RESPONSES):
        in_key, out_key = ("prompt_tokens", "completion_tokens") if fmt == OPENAI_CHAT else (
            "input_tokens", "output_tokens")
        prompt, completion = _int(usage.get(in_key)), _int(usage.get(out_key))
        in_details = usage.get(f"{in_key}_details") or {}
        out_details = usage.get(f"{out_key}_details") or {}
        # OpenAI counts cache reads and cache writes inside the prompt, reasoning inside the output.
        cached = min(_int(in_details.get("cached_tokens")), prompt)
        written = min(_int(in_details.get("cache_write_tokens")), prompt - cached)
        reasoning = min(_int(out_details.get("reasoning_tokens")), completion)
        return Counts(input=prompt - cached - written, cached_input=cached, cache_write=written,
                      output=completion - reasoning, reasoning=reasoning)
    return Counts(
        input=_int(usage.get("input_tokens")),
        cached_input=_int(usage.get("cache_read_input_tokens")),
        cache_write=_int(usage.get("cache_creation_input_tokens")),
        output=_int(usage.get("output_tokens")),
    )
