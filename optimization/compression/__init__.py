"""Rule-based prompt compression (pure Python, no model calls): the entry points callers use."""

from optimization.compression.guarantees import NEGATIONS
from optimization.compression.masking import fenced_blocks
from optimization.compression.pipeline import DEFAULT_MAX_EXAMPLES, LEVELS, CompressionResult, compress

__all__ = ["DEFAULT_MAX_EXAMPLES", "LEVELS", "NEGATIONS", "CompressionResult", "compress", "fenced_blocks"]
