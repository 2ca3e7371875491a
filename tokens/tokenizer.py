"""Token counting with tiktoken, from encodings shipped in the project.

OpenAI models are counted exactly with the encoding tiktoken assigns them
(o200k_base for GPT-4o/4.1/5 and o-series, cl100k_base for GPT-4/3.5).
Models with no public tokenizer (Claude, Gemini, Mistral, ...) get an estimate
from cl100k_base times a per-provider factor, flagged ``exact=False``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENCODINGS_DIR = Path(__file__).resolve().parent / "encodings"
# Must be set before tiktoken first loads an encoding: tiktoken then finds the
# files in this folder and never downloads.
os.environ["TIKTOKEN_CACHE_DIR"] = str(ENCODINGS_DIR)

import tiktoken  # noqa: E402
from tiktoken.model import encoding_name_for_model  # noqa: E402

SHIPPED_ENCODINGS = ("cl100k_base", "o200k_base")
ESTIMATE_ENCODING = "cl100k_base"
# Tokenizers of these providers split English somewhat finer than cl100k_base;
# estimates err on the high side so budgets are not under-reserved.
ESTIMATE_FACTORS = {"anthropic": 1.10, "gemini": 1.0, "mistral": 1.10, "deepseek": 1.0, "xai": 1.0}

# OpenAI's published chat overhead (cookbook "How to count tokens"):
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER_TOKENS = 3


@dataclass(frozen=True)
class TokenizerChoice:
    encoding: str
    exact: bool
    factor: float = 1.0


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    if name not in SHIPPED_ENCODINGS:
        raise ValueError(f"Encoding {name!r} is not shipped with the project.")
    return tiktoken.get_encoding(name)


def _strip_provider(model: str) -> tuple[str, str]:
    if "/" in model:
        provider, _, rest = model.partition("/")
        return provider.lower(), rest
    return "", model


@functools.lru_cache(maxsize=4096)
def choose_tokenizer(model: str, provider: str = "") -> TokenizerChoice:
    """Pick the encoding for a model the way tiktoken does, or an estimate."""
    prefix, bare = _strip_provider(model)
    provider = (provider or prefix).lower()
    if provider in ("", "openai", "azure"):
        try:
            name = encoding_name_for_model(bare)
        except KeyError:
            name = None
        if name in SHIPPED_ENCODINGS:
            return TokenizerChoice(name, exact=True)
    guessed = provider or _guess_provider(bare)
    return TokenizerChoice(ESTIMATE_ENCODING, exact=False, factor=ESTIMATE_FACTORS.get(guessed, 1.0))


def _guess_provider(model: str) -> str:
    lowered = model.lower()
    for needle, provider in (
        ("claude", "anthropic"),
        ("gemini", "gemini"),
        ("mistral", "mistral"),
        ("mixtral", "mistral"),
        ("codestral", "mistral"),
        ("deepseek", "deepseek"),
        ("grok", "xai"),
    ):
        if needle in lowered:
            return provider
    return ""


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    encoding: str
    exact: bool


def _scale(raw: int, choice: TokenizerChoice) -> int:
    return raw if choice.factor == 1.0 else math.ceil(raw * choice.factor)


# tiktoken's pre-tokenizer regex backtracks across a run of whitespace, and on a run of a few hundred
# thousand characters it gives up ("Max stack size exceeded for backtracking"). Such runs are encoded
# in pieces it can take; the count is then no longer exact (a piece boundary may split a token).
LONG_WHITESPACE = re.compile(r"\s{50000,}")
WHITESPACE_PIECE = 50_000


def _encode(enc: tiktoken.Encoding, text: str) -> tuple[list[int], bool]:
    """Token ids, and whether they are exactly what the provider's tokenizer gives."""
    try:
        return enc.encode(text, disallowed_special=()), True
    except ValueError:
        pass
    ids: list[int] = []
    pos = 0
    for run in LONG_WHITESPACE.finditer(text):
        ids += enc.encode(text[pos : run.start()], disallowed_special=())
        for start in range(run.start(), run.end(), WHITESPACE_PIECE):
            ids += enc.encode(text[start : min(start + WHITESPACE_PIECE, run.end())], disallowed_special=())
        pos = run.end()
    ids += enc.encode(text[pos:], disallowed_special=())
    return ids, False


def encode(text: str, model: str, provider: str = "") -> list[int]:
    """Token ids of ``text`` with the model's encoding (estimate encoding if none)."""
    choice = choose_tokenizer(model, provider)
    return _encode(get_encoding(choice.encoding), text)[0]


def decode(tokens: list[int], model: str, provider: str = "") -> str:
    choice = choose_tokenizer(model, provider)
    return get_encoding(choice.encoding).decode(tokens)


def count_text(text: str, model: str, provider: str = "") -> TokenCount:
    choice = choose_tokenizer(model, provider)
    ids, whole = _encode(get_encoding(choice.encoding), text)
    return TokenCount(_scale(len(ids), choice), choice.encoding, choice.exact and whole)


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return str(content)


def count_messages(messages: list[dict[str, Any]], model: str, provider: str = "") -> TokenCount:
    """Count a chat request as OpenAI bills it: 3 per message, 1 per name, 3 for the reply.

    Every string value of a message is encoded (role, content, name, ...), as in
    OpenAI's cookbook; tool calls are counted by their JSON text.
    """
    choice = choose_tokenizer(model, provider)
    enc = get_encoding(choice.encoding)
    total = REPLY_PRIMER_TOKENS
    exact = choice.exact
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if key == "content":
                text = _content_text(value)
            elif isinstance(value, str):
                text = value
            elif value is None:
                continue
            else:
                text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            ids, whole = _encode(enc, text)
            total += len(ids)
            exact = exact and whole
            if key == "name":
                total += TOKENS_PER_NAME
    return TokenCount(_scale(total, choice), choice.encoding, exact)
