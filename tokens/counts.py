"""The token classes: each token of a call belongs to exactly one, priced once at its own rate.

``TOKEN_FIELDS`` is the one list of the ledger's token columns; rollups,
summaries, reports and the API's ``tokens`` object are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Normalized class -> ledger column, in the order every report shows them; "total" is their sum.
TOKEN_CLASSES = {
    "input": "input_tokens",
    "cached_input": "cached_input_tokens",
    "cache_write": "cache_write_tokens",
    "output": "output_tokens",
    "reasoning": "reasoning_tokens",
}
TOKEN_FIELDS = (*TOKEN_CLASSES.values(), "total_tokens")
PROMPT_FIELDS = ("input_tokens", "cached_input_tokens", "cache_write_tokens")
COMPLETION_FIELDS = ("output_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class TokenCounts:
    """Normalized token classes of one call."""

    input: int = 0
    cached_input: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input + self.cached_input + self.cache_write + self.output + self.reasoning

    @property
    def prompt(self) -> int:
        return self.input + self.cached_input + self.cache_write

    @property
    def completion(self) -> int:
        return self.output + self.reasoning

    def as_dict(self) -> dict[str, int]:
        return {**{name: getattr(self, name) for name in TOKEN_CLASSES}, "total": self.total}

    @classmethod
    def from_row(cls, row) -> TokenCounts:
        """The counts of a ledger row or of a dict with the ledger's column names."""
        get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
        return cls(**{name: get(column) or 0 for name, column in TOKEN_CLASSES.items()})


def with_prompt_and_completion(values: dict) -> dict:
    """Add the provider-style prompt_tokens and completion_tokens to a row of token columns."""
    values["prompt_tokens"] = sum(values[f] for f in PROMPT_FIELDS)
    values["completion_tokens"] = sum(values[f] for f in COMPLETION_FIELDS)
    return values
