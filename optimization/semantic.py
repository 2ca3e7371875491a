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

import hashlib
import json
import threading
import time
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


@dataclass
class _Group:
    dim: int
    rows: dict[int, int] = field(default_factory=dict)  # entry id -> row of the matrix
    keys: list[str] = field(default_factory=list)
    matrix: np.ndarray | None = None
    count: int = 0
    newest_id: int = 0  # rows above it are new
    loaded_at: float = 0.0

    def put(self, entry_id: int, key: str, vector: np.ndarray) -> None:
        row = self.rows.get(entry_id)
        if row is None:
            if self.matrix is None or self.count == len(self.matrix):
                grown = np.zeros((max(64, 2 * self.count), self.dim), dtype=np.float32)
                if self.matrix is not None:
                    grown[: self.count] = self.matrix[: self.count]
                self.matrix = grown
            row = self.rows[entry_id] = self.count
            self.keys.append(key)
            self.count += 1
        self.keys[row] = key
        self.matrix[row] = vector


class VectorIndex:
    """Per-process exact search over the database's vectors, one matrix per (scope, group)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], _Group] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()

    def _sync(self, scope: str, group: str, dim: int) -> _Group:
        now = time.monotonic()
        current = self._groups.get((scope, group))
        if current is None or now - current.loaded_at > settings.NETRA_SEMANTIC_RELOAD_SECONDS:
            current = self._groups[(scope, group)] = _Group(dim, loaded_at=now)
        rows = ResponseCacheEntry.objects.filter(
            scope=scope, semantic_group=group, embedding__isnull=False, id__gt=current.newest_id
        )
        for entry_id, key, blob in rows.values_list("id", "key_hash", "embedding"):
            current.newest_id = max(current.newest_id, entry_id)
            vector = np.frombuffer(bytes(blob), dtype=np.float32)
            if vector.shape[0] == dim:  # else written under another embedder's configuration
                current.put(entry_id, key, vector)
        return current

    def search(self, *, scope: str, key: SemanticKey, threshold: float) -> list[tuple[str, float]]:
        """Up to ``CANDIDATES`` (entry key, similarity) at or above ``threshold``, most similar first."""
        with self._lock:
            found = self._sync(scope, key.group, key.vector.shape[0])
            if not found.count:
                return []
            scores = found.matrix[: found.count] @ key.vector
            keys = list(found.keys)
        take = min(CANDIDATES, len(scores))
        best = np.argpartition(-scores, take - 1)[:take]
        ordered = sorted(best, key=lambda i: -scores[i])
        return [(keys[i], round(float(scores[i]), 4)) for i in ordered if scores[i] >= threshold]


index = VectorIndex()


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
