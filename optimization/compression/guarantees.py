"""What compression never drops, as patterns shared with the checks: negations, numbers, identifiers."""

from __future__ import annotations

import re

# One list for both the set and the pattern; a contraction ("don't", "isn't") negates too.
_NEGATION_WORDS = ("not", "no", "never", "none", "nothing", "nobody", "nowhere", "nor", "neither", "cannot", "without")
NEGATIONS = frozenset(_NEGATION_WORDS)
NEGATION_RE = re.compile(r"\b(?:" + "|".join(_NEGATION_WORDS) + r"|\w+n['’]t)\b", re.IGNORECASE)
IDENTIFIER_RE = re.compile(
    r"\b(?:[A-Za-z_][A-Za-z0-9]*_[A-Za-z0-9_]*|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*"
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Z][A-Z0-9_]{1,}|[A-Za-z]+\d\w*)\b"
)
NUMBER_RE = re.compile(r"\d+(?:[.,:/]\d+)*")
