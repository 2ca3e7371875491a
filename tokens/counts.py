"""The token classes: each token of a call belongs to exactly one, priced once at its own rate.

``TOKEN_CLASSES`` is the one list of the ledger's token columns; rollups,
summaries, reports, the CSV and the API's ``tokens`` object are built from it.
Adding a class here (with a migration for its ledger and rollup columns) makes
it flow everywhere.

Text input is ``input``; the cache classes split the prompt by what the
provider did with it (read from cache, written with 5-minute, 1-hour or
12-hour retention); audio, image and video tokens are their own classes
because providers price them apart. Cached audio and image reads are apart
too (``cached_audio_input``, ``cached_image_input``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

# Normalized class -> ledger column, in the order every report shows them; "total" is their sum.
# The first five are the original classes (their order is kept so CSV columns stay where they were).
TOKEN_CLASSES = {
    "input": "input_tokens",
    "cached_input": "cached_input_tokens",
    "cache_write": "cache_write_tokens",  # 5-minute (the provider's default) retention
    "output": "output_tokens",
    "reasoning": "reasoning_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
    "cache_write_12h": "cache_write_12h_tokens",
    "audio_input": "audio_input_tokens",
    "cached_audio_input": "cached_audio_input_tokens",
    "image_input": "image_input_tokens",
    "cached_image_input": "cached_image_input_tokens",
    "video_input": "video_input_tokens",
    "audio_output": "audio_output_tokens",
    "image_output": "image_output_tokens",
}
TOKEN_FIELDS = (*TOKEN_CLASSES.values(), "total_tokens")
PROMPT_CLASSES = (
    "input", "cached_input", "cache_write", "cache_write_1h", "cache_write_12h",
    "audio_input", "cached_audio_input", "image_input", "cached_image_input", "video_input",
)
COMPLETION_CLASSES = ("output", "reasoning", "audio_output", "image_output")
PROMPT_FIELDS = tuple(TOKEN_CLASSES[name] for name in PROMPT_CLASSES)
COMPLETION_FIELDS = tuple(TOKEN_CLASSES[name] for name in COMPLETION_CLASSES)
assert set(PROMPT_CLASSES) | set(COMPLETION_CLASSES) == set(TOKEN_CLASSES)


@dataclass(frozen=True)
class TokenCounts:
    """Normalized token classes of one call."""

    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0
    cache_write_1h: int = 0
    cache_write_12h: int = 0
    audio_input: int = 0
    cached_audio_input: int = 0
    image_input: int = 0
    cached_image_input: int = 0
    video_input: int = 0
    audio_output: int = 0
    image_output: int = 0

    # Cached: the ingestion hot path reads them several times per record.
    @cached_property
    def total(self) -> int:
        return self.prompt + self.completion

    @cached_property
    def prompt(self) -> int:
        return sum([getattr(self, name) for name in PROMPT_CLASSES])

    @cached_property
    def completion(self) -> int:
        return sum([getattr(self, name) for name in COMPLETION_CLASSES])

    def items(self) -> list[tuple[str, int]]:
        """(class, count) of every class with tokens."""
        return [(name, value) for name in TOKEN_CLASSES if (value := getattr(self, name))]

    def as_dict(self) -> dict[str, int]:
        return {**{name: getattr(self, name) for name in TOKEN_CLASSES}, "total": self.total}

    @classmethod
    def from_row(cls, row) -> TokenCounts:
        """The counts of a ledger row or of a dict with the ledger's column names."""
        get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
        return cls(**{name: get(column) or 0 for name, column in TOKEN_CLASSES.items()})


assert tuple(f.name for f in fields(TokenCounts)) == tuple(TOKEN_CLASSES)


def with_prompt_and_completion(values: dict) -> dict:
    """Add the provider-style prompt_tokens and completion_tokens to a row of token columns."""
    values["prompt_tokens"] = sum(values[f] for f in PROMPT_FIELDS)
    values["completion_tokens"] = sum(values[f] for f in COMPLETION_FIELDS)
    return values
