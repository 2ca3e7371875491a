"""Semantic response cache: find a stored request that means the same, by embedding similarity.

What must be *equal* for a semantic hit is hashed into a group: the
embedder, the canonical model, the answer-changing parameters, every message
before the last one, the last message's role, and the numbers and negations
of the last message ("refunds over $50" never answers "refunds over $500",
"can I" never answers "can't I"). Within a group (and a scope: the user's own
entries, then the shared ones) the last message's embedding must be at least
``threshold`` similar (cosine).

Vectors live in the database (``ResponseCacheEntry.embedding``, float32
bytes), so every process and both backends see the same entries. Each process
searches them in memory: ``VectorIndex`` holds one numpy matrix per (scope,
group), picks up new rows on every search (one indexed query for ids above
the newest it holds; a store is one autocommit statement, so a row that
commits after a higher id was read is rare, and found at the next reload),
and reloads a group whole every ``NETRA_SEMANTIC_RELOAD_SECONDS`` to forget
evicted rows.
A candidate is served only if its payload is still in the Django cache, so
an entry evicted by another process is skipped, never served. PostgreSQL's
pgvector is not used: see docs/optimization.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from optimization.compression.guarantees import NEGATION_RE, NUMBER_RE
from optimization.embeddings import embedder
from optimization.models import ResponseCacheEntry
from tokens.tokenizer import _content_text

# The similarity a hit needs when neither the caller nor NETRA_SEMANTIC_THRESHOLD sets one, per embedder,
# chosen on the paraphrase workload (bench/semantic_cache.py; docs/optimization.md).
DEFAULT_THRESHOLDS = {"hashed-v1-256": 0.8, "all-MiniLM-L6-v2": 0.9}
CANDIDATES = 5
# Past this many rows in a group a search scores a projection first, then a shortlist exactly.
EXACT_ROWS = 20_000
COARSE_DIM = 64
SHORTLIST = 256
# Groups each process keeps in memory (least recently searched go first).
MAX_GROUPS = 10_000


@dataclass(frozen=True)
class SemanticKey:
    group: str
    vector: np.ndarray
    embedder: str


def _facts(text: str) -> list[str]:
    """Numbers and negations: what a paraphrase must keep to mean the same."""
    return sorted(NUMBER_RE.findall(text)) + sorted(w.lower() for w in NEGATION_RE.findall(text))


def semantic_key(*, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> SemanticKey:
    """The group that must match exactly and the vector that must be near, for a request."""
    model_embedder = embedder()
    last = messages[-1]
    text = _content_text(last.get("content"))
    group = {
        "embedder": model_embedder.name,
        "model": model,
        "params": params,
        "before": messages[:-1],
        "role": last.get("role"),
        "facts": _facts(text),
    }
    digest = hashlib.sha256(
        json.dumps(group, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    return SemanticKey(digest, model_embedder.embed([text])[0], model_embedder.name)


def threshold_for(name: str, requested: float | None) -> float:
    if requested is not None:
        return requested
    return settings.NETRA_SEMANTIC_THRESHOLD or DEFAULT_THRESHOLDS.get(name, 0.9)


@functools.cache
def _projection(dim: int) -> np.ndarray:
    """A fixed random orthonormal projection to ``COARSE_DIM`` dimensions (seeded: every process agrees)."""
    matrix = np.random.default_rng(17).standard_normal((dim, COARSE_DIM)).astype(np.float32)
    q, _ = np.linalg.qr(matrix)
    return np.ascontiguousarray(q[:, :COARSE_DIM], dtype=np.float32)


@dataclass
class _Group:
    dim: int
    keys: list[str] = field(default_factory=list)
    matrix: np.ndarray | None = None  # count x dim, rows past count unused
    coarse: np.ndarray | None = None  # count x COARSE_DIM: the same vectors projected, for the first pass
    count: int = 0
    newest_id: int = 0  # rows above it are new
    loaded_at: float = 0.0

    def extend(self, keys: list[str], vectors: np.ndarray) -> None:
        need = self.count + len(keys)
        if self.matrix is None or need > len(self.matrix):
            size = max(4, need, 2 * self.count)
            grown, coarse = np.zeros((size, self.dim), np.float32), np.zeros((size, COARSE_DIM), np.float32)
            if self.matrix is not None:
                grown[: self.count], coarse[: self.count] = self.matrix[: self.count], self.coarse[: self.count]
            self.matrix, self.coarse = grown, coarse
        self.matrix[self.count : need] = vectors
        self.coarse[self.count : need] = vectors @ _projection(self.dim)
        self.keys.extend(keys)
        self.count = need

    def best(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows and similarities of the likeliest matches: every row when few, else a shortlist re-scored exactly.

        Above ``EXACT_ROWS`` a first pass scores the projected vectors (a
        quarter of the bytes to read) and keeps ``SHORTLIST`` rows; only those
        are scored exactly. A match at 0.8 or more stays far above the
        projection's noise (recall is measured in bench/semantic_cache.py).
        """
        if self.count <= EXACT_ROWS:
            rows = np.arange(self.count)
        else:
            rough = np.einsum("ij,j->i", self.coarse[: self.count], vector @ _projection(self.dim))
            rows = np.argpartition(-rough, SHORTLIST)[:SHORTLIST]
        return rows, np.einsum("ij,j->i", self.matrix[rows], vector)


class VectorIndex:
    """Per-process search over the database's vectors, one matrix per (scope, group)."""

    def __init__(self) -> None:
        # Least recently searched first: a chat's every turn is a group of its own, so the set is bounded.
        self._groups: OrderedDict[tuple[str, str], _Group] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()

    def _sync(self, scope: str, group: str, dim: int) -> _Group:
        now = time.monotonic()
        current = self._groups.get((scope, group))
        if current is None or now - current.loaded_at > settings.NETRA_SEMANTIC_RELOAD_SECONDS:
            current = self._groups[(scope, group)] = _Group(dim, loaded_at=now)
        self._groups.move_to_end((scope, group))
        while len(self._groups) > MAX_GROUPS:
            self._groups.popitem(last=False)  # a forgotten group is reloaded from the database when asked
        rows = ResponseCacheEntry.objects.filter(
            scope=scope, semantic_group=group, embedding__isnull=False, id__gt=current.newest_id
        ).order_by("id")
        found = []
        for entry_id, key, blob in rows.values_list("id", "key_hash", "embedding"):  # one round trip
            current.newest_id = max(current.newest_id, entry_id)
            blob = bytes(blob)
            if len(blob) == 4 * dim:  # else written under another embedder's configuration: never compared
                found.append((key, blob))
        if found:
            current.extend([k for k, _ in found], np.frombuffer(b"".join(b for _, b in found), np.float32)
                           .reshape(len(found), dim))
        return current

    def search(self, *, scope: str, key: SemanticKey, threshold: float) -> list[tuple[str, float]]:
        """Up to ``CANDIDATES`` (entry key, similarity) at or above ``threshold``, most similar first."""
        with self._lock:
            found = self._sync(scope, key.group, key.vector.shape[0])
            if not found.count:
                return []
            rows, scores = found.best(key.vector)
            take = min(CANDIDATES, len(scores))
            top = np.argpartition(-scores, take - 1)[:take]
            top = top[np.argsort(-scores[top])]
            return [(found.keys[int(rows[i])], round(float(scores[i]), 4)) for i in top if scores[i] >= threshold]


index = VectorIndex()


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
