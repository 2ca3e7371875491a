"""Token-exact chunking: paragraph, then sentence, then token boundaries.

Every chunk's count (tokens.tokenizer.count_text for the model) is at most
the maximum. Pieces keep their trailing separators, so with no overlap the
chunks join back to the original text exactly. Counts are re-measured on the
joined text because BPE counts are not additive across a seam.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidInput
from tokens.tokenizer import choose_tokenizer, count_text, get_encoding

_PARAGRAPH_RE = re.compile(r".*?(?:\n[ \t]*\n\s*|$)", re.DOTALL)
_SENTENCE_RE = re.compile(r".*?(?:[.!?]+[\"')\]]*(?:\s+|$)|\n+|$)", re.DOTALL)


@dataclass
class Chunk:
    text: str
    tokens: int
    start: int
    end: int


def _chunk_error(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"max_tokens_per_chunk": [message]})


def _split(text: str, regex: re.Pattern) -> list[str]:
    return [p for p in regex.findall(text) if p]


def _token_pieces(text: str, model: str, limit: int) -> list[str]:
    """Cut ``text`` at token boundaries into pieces of at most ``limit`` tokens each."""
    choice = choose_tokenizer(model)
    enc = get_encoding(choice.encoding)
    ids = enc.encode(text, disallowed_special=())
    _, offsets = enc.decode_with_offsets(ids)
    # Token start offsets where a cut is allowed (a multi-byte character spanning
    # tokens shares one offset, so cutting there would split the character).
    starts = sorted(set(offsets) | {len(text)})
    index_of = {offset: i for i, offset in enumerate(starts)}
    pieces = []
    pos = 0
    step = max(1, int(limit / choice.factor))
    while pos < len(text):
        lo = index_of.get(pos, 0)
        hi = min(lo + step, len(starts) - 1)
        while hi > lo + 1 and count_text(text[pos : starts[hi]], model).tokens > limit:
            hi -= 1
        end = starts[hi]
        if count_text(text[pos:end], model).tokens > limit:
            # One character alone exceeds the limit (limit below 1 char's tokens).
            raise _chunk_error("max_tokens_per_chunk is too small to hold a single character.")
        pieces.append(text[pos:end])
        pos = end
    return pieces


def _pieces(text: str, model: str, limit: int) -> list[tuple[str, int | None]]:
    """Pieces of at most ``limit`` tokens, with their count where it is already known."""
    out: list[tuple[str, int | None]] = []
    for para in _split(text, _PARAGRAPH_RE):
        tokens = count_text(para, model).tokens
        if tokens <= limit:
            out.append((para, tokens))
            continue
        for sentence in _split(para, _SENTENCE_RE):
            tokens = count_text(sentence, model).tokens
            if tokens <= limit:
                out.append((sentence, tokens))
            else:
                out.extend((piece, None) for piece in _token_pieces(sentence, model, limit))
    return out


def _pack(pieces: list[tuple[str, int | None]], model: str, limit: int) -> list[str]:
    """Greedy packing in linear time.

    Each piece is counted once; a chunk's running estimate is the sum of its
    pieces' counts, and only when a piece would push the estimate past the
    limit is the joined text counted exactly (once per chunk boundary, so the
    work stays linear in the text, not quadratic).
    """
    chunks: list[str] = []
    parts: list[str] = []
    estimate = 0
    for piece, known in pieces:
        tokens = known if known is not None else count_text(piece, model).tokens
        if parts and estimate + tokens > limit:
            exact = count_text("".join(parts) + piece, model).tokens
            if exact > limit:
                chunks.append("".join(parts))
                parts, estimate = [piece], tokens
                continue
            estimate = exact - tokens  # the seam merged tokens: carry the exact figure
        parts.append(piece)
        estimate += tokens
    if parts:
        chunks.append("".join(parts))
    # A seam can merge into more tokens than the parts: re-split any offender.
    fixed: list[str] = []
    for chunk in chunks:
        if count_text(chunk, model).tokens <= limit:
            fixed.append(chunk)
        else:
            fixed.extend(_token_pieces(chunk, model, limit))
    return fixed


def _tail(text: str, model: str, n: int) -> str:
    """The last ``n`` tokens of ``text`` (cut at a token boundary)."""
    if n <= 0 or not text:
        return ""
    enc = get_encoding(choose_tokenizer(model).encoding)
    ids = enc.encode(text, disallowed_special=())
    _, offsets = enc.decode_with_offsets(ids)
    if len(ids) <= n:
        return text
    return text[offsets[len(ids) - n] :]


def chunk_text(text: str, *, model: str, max_tokens: int, overlap_tokens: int = 0) -> list[Chunk]:
    if max_tokens < 1:
        raise _chunk_error("max_tokens_per_chunk must be at least 1.")
    if overlap_tokens < 0 or overlap_tokens >= max_tokens:
        raise _chunk_error("overlap_tokens must be at least 0 and less than max_tokens_per_chunk.")
    if not text:
        return []
    limit = max_tokens - overlap_tokens
    bodies = _pack(_pieces(text, model, limit), model, limit)
    chunks: list[Chunk] = []
    pos = 0
    previous = ""
    for body in bodies:
        prefix = _tail(previous, model, overlap_tokens) if chunks else ""
        joined = prefix + body
        while prefix and count_text(joined, model).tokens > max_tokens:
            prefix = prefix[1:]
            joined = prefix + body
        chunks.append(
            Chunk(
                text=joined,
                tokens=count_text(joined, model).tokens,
                start=pos - len(prefix),
                end=pos + len(body),
            )
        )
        pos += len(body)
        previous = body
    return chunks
