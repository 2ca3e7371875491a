"""Response cache: exact-match on the request (and, asked for, semantic), payloads in the Django cache.

Key: sha256 of canonical JSON (sorted keys, no whitespace) of the canonical
model name, the messages and the parameters that change the answer. Entries
are private to a user (scope ``u:<id>``) unless a service key stores them
with ``shared``. The payload lives in the Django cache (Redis when
``REDIS_URL`` is set) with the entry's TTL; a small index table keeps size,
last use and expiry so the size limit evicts least-recently-used entries the
same way on every backend.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from core.db import counters_add
from core.errors import InvalidInput
from optimization.models import ResponseCacheCounter, ResponseCacheEntry, SavingsRecord
from optimization.savings import savings_record_create, usd_for_tokens
from optimization.semantic import index as semantic_index
from optimization.semantic import semantic_key, threshold_for, vector_bytes
from tokens.pricing import catalog
from tokens.tokenizer import count_messages, count_text

# Parameters that change the answer; anything else (user, metadata, stream,
# timeouts) does not take part in the key.
KEY_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "seed",
    "stop",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "response_format",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "reasoning",
    "system",
    "parallel_tool_calls",
    "modalities",
    "audio",
    "prediction",
    "thinking",
)
SHARED_SCOPE = "shared"
CACHE_PREFIX = "netra:rc:"


def canonical_model(model: str) -> str:
    return catalog.canonical_name(model) or model


def answer_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Only the parameters that change the answer."""
    return {k: v for k, v in (params or {}).items() if k in KEY_PARAMS and v is not None}


def cache_key(*, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None) -> str:
    """sha256 of the canonical request; key order anywhere in it does not matter."""
    payload = {"model": canonical_model(model), "messages": messages, "params": answer_params(params)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def user_scope(user) -> str:
    return f"u:{user.pk}"


def _storage_key(scope: str, key_hash: str) -> str:
    return f"{CACHE_PREFIX}{scope}:{key_hash}"


@dataclass
class LookupResult:
    hit: bool
    key: str
    response: Any = None
    shared: bool = False
    tokens_saved: int = 0
    usd_saved: Decimal = Decimal(0)
    stored_at: str | None = None
    expires_at: str | None = None
    # Semantic lookups: how similar the matched request is (1.0 for an exact hit), and its key.
    similarity: float | None = None
    matched_key: str | None = None
    semantic: bool = False


def _count(*, user, hit: bool, tokens: int = 0, usd: Decimal = Decimal(0)) -> None:
    """Add one lookup to the user's counters of the day (an upsert: atomic, never read-modify-save)."""
    values = {"hits": int(hit), "misses": int(not hit), "tokens_saved": tokens if hit else 0,
              "usd_saved": usd if hit else Decimal(0)}
    counters_add(ResponseCacheCounter, {(user.pk, timezone.localdate()): values},
                 key=("user_id", "day"), counters=tuple(values))


def _serve(*, user, scope: str, key: str, entry_key: str, payload: dict[str, Any], agent: str,
           similarity: float | None) -> LookupResult:
    """A hit: mark the entry used, count it and record what it saved (semantic hits as their own technique)."""
    ResponseCacheEntry.objects.filter(scope=scope, key_hash=entry_key).update(
        last_used_at=timezone.now(), hits=F("hits") + 1
    )
    tokens = payload["input_tokens"] + payload["output_tokens"]
    usd = usd_for_tokens(
        model=payload["model"], input_tokens=payload["input_tokens"], output_tokens=payload["output_tokens"]
    )
    semantic = entry_key != key
    with transaction.atomic():
        _count(user=user, hit=True, tokens=tokens, usd=usd)
        savings_record_create(
            user=user,
            source=SavingsRecord.SOURCE_CACHE,
            technique="semantic_cache" if semantic else "response_cache",
            model=payload["model"],
            original_tokens=tokens,
            optimized_tokens=0,
            output_tokens_saved=payload["output_tokens"],
            agent=agent,
        )
    return LookupResult(True, key, payload["response"], scope == SHARED_SCOPE, tokens, usd, payload["stored_at"],
                        payload["expires_at"], similarity, entry_key if similarity is not None else None, semantic)


def cache_lookup(
    *, user, model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None, agent: str = "",
    semantic: bool = False, similarity_threshold: float | None = None,
) -> LookupResult:
    """Private entry first, then shared; with ``semantic``, then the most similar semantic entry of each.

    A hit records what it saved. Semantic candidates come from the vector
    index; one is served only while its payload is still in the cache.
    """
    key = cache_key(model=model, messages=messages, params=params)
    scopes = (user_scope(user), SHARED_SCOPE)
    for scope in scopes:
        payload = cache.get(_storage_key(scope, key))
        if payload is not None:
            return _serve(user=user, scope=scope, key=key, entry_key=key, payload=payload, agent=agent,
                          similarity=1.0 if semantic else None)
    if semantic:
        wanted = semantic_key(model=canonical_model(model), messages=messages, params=answer_params(params))
        threshold = threshold_for(wanted.embedder, similarity_threshold)
        for scope in scopes:
            for entry_key, similarity in semantic_index.search(scope=scope, key=wanted, threshold=threshold):
                payload = cache.get(_storage_key(scope, entry_key))
                if payload is not None and payload.get("semantic_group") == wanted.group:
                    return _serve(user=user, scope=scope, key=key, entry_key=entry_key, payload=payload,
                                  agent=agent, similarity=similarity)
    _count(user=user, hit=False)
    return LookupResult(False, key)


class EntryTooLarge(InvalidInput):
    """One entry alone is larger than the whole cache may hold."""

    def __init__(self, *, size: int, limit: int) -> None:
        message = f"The entry is {size} bytes; the cache holds at most {limit}."
        super().__init__(message, code="entry_too_large", fields={"response": [message]})
        self.size = size
        self.limit = limit


@dataclass
class StoreResult:
    key: str
    shared: bool
    expires_at: str
    size_bytes: int
    evicted: int
    # False when the cache backend (Redis) is unreachable: the store is skipped, nothing else fails.
    stored: bool = True
    semantic: bool = False


def cache_store(
    *,
    user,
    model: str,
    messages: list[dict[str, Any]],
    response: Any,
    params: dict[str, Any] | None = None,
    output_tokens: int | None = None,
    ttl_seconds: int | None = None,
    shared: bool = False,
    semantic: bool = False,
) -> StoreResult:
    """Store a response for the user (or, for service keys, the shared scope), within that scope's quota.

    With ``semantic`` the entry is also found by requests that mean the same
    (``cache_lookup(semantic=True)``): its last message's embedding is stored
    with its index row.
    """
    key = cache_key(model=model, messages=messages, params=params)
    scope = SHARED_SCOPE if shared else user_scope(user)
    ttl = ttl_seconds or settings.NETRA_RESPONSE_CACHE_TTL_SECONDS
    now = timezone.now()
    expires = now + timedelta(seconds=ttl)
    input_tokens = count_messages(messages, model).tokens
    if output_tokens is None:
        text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
        output_tokens = count_text(text, model).tokens
    meaning = (
        semantic_key(model=canonical_model(model), messages=messages, params=answer_params(params))
        if semantic else None
    )
    payload = {
        "model": canonical_model(model),
        "semantic_group": meaning.group if meaning else "",
        "response": response,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "stored_at": now.isoformat(),
        "expires_at": expires.isoformat(),
    }
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    if size > settings.NETRA_RESPONSE_CACHE_MAX_BYTES:
        raise EntryTooLarge(size=size, limit=settings.NETRA_RESPONSE_CACHE_MAX_BYTES)
    storage_key = _storage_key(scope, key)
    cache.set(storage_key, payload, timeout=ttl)
    if cache.get(storage_key) is None:  # the backend is down (its errors are ignored): skip, never fail
        return StoreResult(key, shared, expires.isoformat(), size, evicted=0, stored=False, semantic=semantic)
    ResponseCacheEntry.objects.update_or_create(
        scope=scope,
        key_hash=key,
        defaults={
            "user": user,
            "model": payload["model"],
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "size_bytes": size,
            "created_at": now,
            "expires_at": expires,
            "last_used_at": now,
            "semantic_group": meaning.group if meaning else "",
            "embedding": vector_bytes(meaning.vector) if meaning else None,
        },
    )
    evicted = cache_evict(scope=scope)
    return StoreResult(key, shared, expires.isoformat(), size, evicted, semantic=semantic)


def cache_evict(*, scope: str) -> int:
    """Drop the scope's expired entries, then its least-recently-used ones beyond its quota.

    Quotas are per scope (each customer's private entries, and the shared
    entries): a customer who stores a lot evicts only their own entries.
    Returns how many live entries were evicted.
    """
    now = timezone.now()
    entries = ResponseCacheEntry.objects.filter(scope=scope)
    expired = list(entries.filter(expires_at__lte=now).values_list("pk", "key_hash"))
    victims = list(expired)
    limit_entries, limit_bytes = settings.NETRA_RESPONSE_CACHE_MAX_ENTRIES, settings.NETRA_RESPONSE_CACHE_MAX_BYTES
    live = entries.filter(expires_at__gt=now)
    totals = live.aggregate(count=Count("pk"), size=Sum("size_bytes"))
    count, size = totals["count"], totals["size"] or 0
    if count > limit_entries or size > limit_bytes:
        for pk, key_hash, entry_size in (
            live.order_by("last_used_at", "pk").values_list("pk", "key_hash", "size_bytes").iterator()
        ):
            if count <= limit_entries and size <= limit_bytes:
                break
            victims.append((pk, key_hash))
            count -= 1
            size -= entry_size
    if not victims:
        return 0
    cache.delete_many([_storage_key(scope, key_hash) for _, key_hash in victims])
    ResponseCacheEntry.objects.filter(pk__in=[pk for pk, _ in victims]).delete()
    return len(victims) - len(expired)


def _stats_out(row: dict[str, Any]) -> dict[str, Any]:
    hits, misses = row["hits"] or 0, row["misses"] or 0
    lookups = hits + misses
    return {
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / lookups, 4) if lookups else 0.0,
        "tokens_saved": row["tokens_saved"] or 0,
        "usd_saved": row["usd_saved"] or Decimal(0),
    }


def cache_stats(*, user=None) -> dict[str, Any]:
    """Totals for one user, or for everyone when ``user`` is None."""
    qs = ResponseCacheCounter.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    row = qs.aggregate(
        hits=Sum("hits"), misses=Sum("misses"), tokens_saved=Sum("tokens_saved"), usd_saved=Sum("usd_saved")
    )
    out = _stats_out(row)
    entries = ResponseCacheEntry.objects.filter(expires_at__gt=timezone.now())
    if user is not None:
        entries = entries.filter(scope=user_scope(user))
    out["entries"] = entries.count()
    return out
