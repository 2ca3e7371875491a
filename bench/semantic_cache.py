"""Semantic response cache: hit and false-hit rates on a paraphrase workload, and lookup latency at scale.

Workload (default; a throwaway SQLite database, no services needed):

    .venv/bin/python bench/semantic_cache.py [--thresholds 0.7,0.75,0.8,0.85,0.9]

replays bench/data/cache_workload.json (30 questions asked 4-6 ways each, and
20 near misses: questions worded like one of them that ask something else) in
a seeded random order, as an application would: look up (semantic); on a
miss, call the model and store the answer (semantic). A hit is *false* when
the answer served was stored for another question. Rates are per request;
"possible" is the hit rate a perfect cache would reach (every request after
the first of its question). ``NETRA_EMBEDDINGS=minilm`` (with the optional
extra installed) measures the MiniLM embedder.

Latency (PostgreSQL and Redis; drops and recreates the database):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/netra_semantic_bench \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/semantic_cache.py --latency [--entries 100000]

stores ``--entries`` semantic entries in one scope and group (the worst case:
every entry a candidate), then times ``cache_lookup(semantic=True)`` (half
hits, half misses), a lookup right after a store, and the first lookup of a
process (the index load), beside the raw operations they are bounded by: one
primary-key SELECT on the same table and the numpy scan alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netra_site.settings")
WORKLOAD = ROOT / "bench" / "data" / "cache_workload.json"


LATENCY = "--latency" in sys.argv
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("NETRA_EMBEDDED_BEAT", "0")
if LATENCY:
    os.environ.setdefault("CACHE_KEY_PREFIX", "netra-semantic-bench")
else:  # a throwaway database and the local-memory cache
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/semantic.sqlite3"
    os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from optimization import cache as cache_module  # noqa: E402
from optimization.cache import _storage_key, cache_lookup, cache_store, canonical_model, user_scope  # noqa: E402
from optimization.embeddings import embedder  # noqa: E402
from optimization.models import ResponseCacheEntry  # noqa: E402
from optimization.semantic import SemanticKey, index, semantic_key, threshold_for, vector_bytes  # noqa: E402


def _create_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("--latency needs DATABASE_URL=postgres://.../netra_semantic_bench")
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("--latency needs REDIS_URL (payloads live in the Django cache)")
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')


def _user(name: str):
    return get_user_model().objects.create(username=name)


def replay(threshold: float, seed: int, run: int) -> dict[str, float]:
    data = json.loads(WORKLOAD.read_text())
    requests = [(intent, q) for group in ("intents", "near_miss") for intent, qs in data[group].items() for q in qs]
    random.Random(seed).shuffle(requests)
    user = _user(f"replay-{run}")
    hits = false_hits = 0
    seen: set[str] = set()
    possible = 0
    started = time.perf_counter()
    for intent, question in requests:
        messages = [{"role": "system", "content": data["system"]}, {"role": "user", "content": question}]
        possible += intent in seen
        seen.add(intent)
        found = cache_lookup(user=user, model="gpt-4o", messages=messages, semantic=True,
                             similarity_threshold=threshold)
        if found.hit:
            hits += 1
            false_hits += found.response != intent
        else:
            cache_store(user=user, model="gpt-4o", messages=messages, response=intent, semantic=True,
                        output_tokens=100)
    n = len(requests)
    return {"requests": n, "hits": hits, "false": false_hits, "possible": possible,
            "ms": 1000 * (time.perf_counter() - started) / n}


def workload(args: argparse.Namespace) -> int:
    name = embedder().name
    thresholds = [float(t) for t in args.thresholds.split(",")] if args.thresholds else []
    default = threshold_for(name, None)
    if default not in thresholds:
        thresholds.append(default)
    print(f"embedder {name} (default threshold {default}); workload {WORKLOAD.name}; seeds {args.seeds}")
    print("| threshold | requests | hits | hit rate | possible | false hits | false-hit rate | false / hits "
          "| ms per request |")
    print("|---|---|---|---|---|---|---|---|---|")
    run = 0
    for threshold in sorted(thresholds):
        totals = {"requests": 0, "hits": 0, "false": 0, "possible": 0, "ms": 0.0}
        for seed in range(args.seeds):
            run += 1
            for k, v in replay(threshold, seed, run).items():
                totals[k] += v
        n, hits, false = totals["requests"], totals["hits"], totals["false"]
        mark = " (default)" if threshold == default else ""
        print(f"| {threshold}{mark} | {n} | {hits} | {100 * hits / n:.1f}% | {100 * totals['possible'] / n:.1f}% "
              f"| {false} | {100 * false / n:.2f}% | {100 * false / hits if hits else 0:.1f}% "
              f"| {totals['ms'] / args.seeds:.1f} |")
    return 0


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def latency(args: argparse.Namespace) -> int:
    user = _user("latency")
    scope = user_scope(user)
    system = {"role": "system", "content": "You are the support assistant for Acme Cloud. Answer briefly."}
    probe = semantic_key(model=canonical_model("gpt-4o"), messages=[system, {"role": "user", "content": "x"}],
                         params={})
    rng = np.random.default_rng(7)
    dim = probe.vector.shape[0]
    started = time.perf_counter()
    vectors = rng.standard_normal((args.entries, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    now = timezone.now()
    expires = now + timezone.timedelta(days=1)
    for start in range(0, args.entries, 5000):
        ResponseCacheEntry.objects.bulk_create([
            ResponseCacheEntry(scope=scope, key_hash=f"{i:064x}", user=user, model="gpt-4o", input_tokens=50,
                               output_tokens=100, size_bytes=300, created_at=now, expires_at=expires,
                               last_used_at=now, semantic_group=probe.group, embedding=vector_bytes(vectors[i]))
            for i in range(start, min(start + 5000, args.entries))
        ])
    targets = list(range(0, args.entries, max(1, args.entries // 500)))[:500]
    payload = {"model": "gpt-4o", "semantic_group": probe.group, "response": "stored answer", "input_tokens": 50,
               "output_tokens": 100, "stored_at": now.isoformat(), "expires_at": expires.isoformat()}
    cache.set_many({_storage_key(scope, f"{i:064x}"): payload for i in targets}, timeout=86400)
    print(f"{args.entries:,} entries of {dim} dimensions in one scope and group, loaded in "
          f"{time.perf_counter() - started:.1f} s")

    def ask(vector: np.ndarray) -> float:
        # The service embeds the text; to hit a chosen entry the probe's vector is swapped for a near one.
        key = SemanticKey(probe.group, vector.astype(np.float32), probe.embedder)
        began = time.perf_counter()
        with _patched_key(key):
            result = cache_lookup(user=user, model="gpt-4o", messages=[system, {"role": "user", "content": "x"}],
                         semantic=True, similarity_threshold=0.9)
        found.append(result.hit)
        return 1000 * (time.perf_counter() - began)

    found: list[bool] = []
    index.clear()
    cold = ask(vectors[targets[0]])
    hits, misses = [], []
    for n in range(args.lookups):
        # A stored request reworded: its vector plus noise, about 0.95 similar.
        target = vectors[targets[n % len(targets)]]
        noisy = target + 0.02 * rng.standard_normal(dim).astype(np.float32)
        hits.append(ask(noisy / np.linalg.norm(noisy)))
        other = rng.standard_normal(dim).astype(np.float32)
        misses.append(ask(other / np.linalg.norm(other)))
    recall = sum(found[1::2]) / len(hits)
    false = sum(found[2::2])
    after_store = []
    for n in range(20):
        cache_store(user=user, model="gpt-4o", messages=[system, {"role": "user", "content": f"new {n}"}],
                    response="a", semantic=True)
        after_store.append(ask(vectors[targets[n]]))
    raw_pk, raw_scan = [], []
    with connection.cursor() as cursor:
        table = ResponseCacheEntry._meta.db_table
        for n in range(args.lookups):
            began = time.perf_counter()
            cursor.execute(f"SELECT key_hash FROM {table} WHERE id = %s", [n + 1])
            cursor.fetchone()
            raw_pk.append(1000 * (time.perf_counter() - began))
    for _ in range(args.lookups):
        began = time.perf_counter()
        float(np.einsum("ij,j->i", vectors, vectors[0]).max())
        raw_scan.append(1000 * (time.perf_counter() - began))
    print("| operation | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|")
    for label, values in (("semantic lookup, hit", hits), ("semantic lookup, miss", misses),
                          ("semantic lookup right after a store", after_store),
                          ("raw: SELECT one row by primary key", raw_pk),
                          (f"raw: numpy exact scan of {args.entries:,} vectors", raw_scan)):
        print(f"| {label} | {_p(values, 0.5):.2f} | {_p(values, 0.95):.2f} | {_p(values, 0.99):.2f} |")
    print(f"first lookup of a process (loads the index): {cold:.0f} ms; reworded stored requests found: "
          f"{100 * recall:.1f}%; random requests that hit: {false}")
    cache.delete_many([_storage_key(scope, f"{i:064x}") for i in targets])
    return 0


class _patched_key:
    """Make the service see ``key`` as the request's semantic key (the bench picks vectors, not texts)."""

    def __init__(self, key) -> None:
        self.key = key

    def __enter__(self) -> None:
        self.saved = cache_module.semantic_key
        cache_module.semantic_key = lambda **_: self.key

    def __exit__(self, *exc: object) -> None:
        cache_module.semantic_key = self.saved


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--thresholds", default="0.7,0.75,0.8,0.85,0.9")
    parser.add_argument("--seeds", type=int, default=5, help="replay orders (workload)")
    args = parser.parse_args()
    if args.latency:
        _create_database()
    call_command("migrate", verbosity=0)
    return latency(args) if args.latency else workload(args)


if __name__ == "__main__":
    raise SystemExit(main())
