"""Semantic response cache: what may hit, what never does, how hits are reported and recorded."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache
from django.utils import timezone

from optimization import semantic
from optimization.cache import cache_lookup, cache_store, user_scope
from optimization.embeddings import HashedEmbedder, embedder
from optimization.models import ResponseCacheEntry, SavingsRecord
from optimization.semantic import semantic_key, vector_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

MODEL = "gpt-4o"


def ask(text: str, system: str = "You are the support assistant.") -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def test_the_hashed_embedder_is_deterministic_unit_length_and_needs_no_model():
    first = HashedEmbedder().embed(["How do I reset my password?", "how do i reset my password"])
    again = HashedEmbedder().embed(["How do I reset my password?"])

    assert np.allclose(first[0], again[0]) and np.allclose(first[0], first[1])
    assert abs(float(np.linalg.norm(first[0])) - 1.0) < 1e-5
    assert embedder().name == "hashed-v1-256"


def test_a_rewording_hits_with_its_similarity_and_saves_like_an_exact_hit(user, catalog):
    cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="Settings",
                output_tokens=40, semantic=True)

    found = cache_lookup(user=user, model=MODEL, messages=ask("How do I reset my password?"), semantic=True)

    assert found.hit and found.semantic and found.response == "Settings"
    assert 0.8 <= found.similarity < 1.0
    assert found.matched_key != found.key
    record = SavingsRecord.objects.get(user=user)
    assert record.technique == "semantic_cache" and record.tokens_saved == found.tokens_saved > 40


def test_an_exact_hit_reports_similarity_one_only_when_semantic_was_asked(user, catalog):
    cache_store(user=user, model=MODEL, messages=ask("What is the refund window?"), response="30 days",
                semantic=True)

    exact = cache_lookup(user=user, model=MODEL, messages=ask("What is the refund window?"), semantic=True)
    plain = cache_lookup(user=user, model=MODEL, messages=ask("What is the refund window?"))

    assert (exact.similarity, exact.semantic) == (1.0, False)
    assert (plain.hit, plain.similarity) == (True, None)


@pytest.mark.parametrize("other", [
    "How do I reset my username?",  # another thing
    "How do I reset my password in 2 steps?",  # a number the stored request did not have
    "Why can't I reset my password?",  # a negation
])
def test_what_means_something_else_misses(user, catalog, other):
    cache_store(user=user, model=MODEL, messages=ask("How do I reset my password?"), response="a", semantic=True)

    assert cache_lookup(user=user, model=MODEL, messages=ask(other), semantic=True).hit is False


def test_model_parameters_and_earlier_messages_must_be_the_same(user, catalog):
    cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="a",
                params={"temperature": 0}, semantic=True)
    rewording = "How do I reset my password?"

    assert cache_lookup(user=user, model=MODEL, messages=ask(rewording), params={"temperature": 0},
                        semantic=True).hit
    assert not cache_lookup(user=user, model=MODEL, messages=ask(rewording), params={"temperature": 1},
                            semantic=True).hit
    assert not cache_lookup(user=user, model="gpt-4o-mini", messages=ask(rewording), params={"temperature": 0},
                            semantic=True).hit
    assert not cache_lookup(user=user, model=MODEL, messages=ask(rewording, system="You are a pirate."),
                            params={"temperature": 0}, semantic=True).hit


def test_the_caller_sets_the_threshold_and_plain_lookups_stay_exact(user, catalog):
    cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="a", semantic=True)
    rewording = ask("How do I reset my password?")

    assert not cache_lookup(user=user, model=MODEL, messages=rewording).hit
    assert not cache_lookup(user=user, model=MODEL, messages=rewording, semantic=True,
                            similarity_threshold=0.999).hit
    assert cache_lookup(user=user, model=MODEL, messages=rewording, semantic=True, similarity_threshold=0.5).hit


def test_entries_stored_without_semantic_are_found_only_exactly(user, catalog):
    cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="a")

    assert not cache_lookup(user=user, model=MODEL, messages=ask("How do I reset my password?"), semantic=True).hit


def test_private_entries_stay_private_and_shared_ones_serve_everyone(user, other_user, catalog):
    cache_store(user=other_user, model=MODEL, messages=ask("How can I reset my password?"), response="bob's",
                semantic=True)
    assert not cache_lookup(user=user, model=MODEL, messages=ask("How do I reset my password?"), semantic=True).hit

    cache_store(user=other_user, model=MODEL, messages=ask("How can I export my invoices?"), response="shared",
                semantic=True, shared=True)
    found = cache_lookup(user=user, model=MODEL, messages=ask("How do I export my invoices?"), semantic=True)
    assert found.hit and found.shared and found.response == "shared"


def test_the_index_picks_up_entries_other_processes_store_and_skips_evicted_ones(user, catalog):
    rewording = ask("How do I reset my password?")
    assert not cache_lookup(user=user, model=MODEL, messages=rewording, semantic=True).hit  # index now loaded
    # Another process stores: only the row and the payload appear, this process's index is not told.
    stored = ask("How can I reset my password?")
    key = semantic_key(model=MODEL, messages=stored, params={})
    now = timezone.now()
    ResponseCacheEntry.objects.create(
        scope=user_scope(user), key_hash="f" * 64, user=user, model=MODEL, expires_at=now + timezone.timedelta(hours=1),
        semantic_group=key.group, embedding=vector_bytes(key.vector),
    )
    payload = {"model": MODEL, "semantic_group": key.group, "response": "from elsewhere", "input_tokens": 10,
               "output_tokens": 5, "stored_at": now.isoformat(), "expires_at": now.isoformat()}
    cache.set(f"netra:rc:{user_scope(user)}:{'f' * 64}", payload)

    assert cache_lookup(user=user, model=MODEL, messages=rewording, semantic=True).response == "from elsewhere"

    cache.delete(f"netra:rc:{user_scope(user)}:{'f' * 64}")  # evicted elsewhere: the row is gone or going
    assert not cache_lookup(user=user, model=MODEL, messages=rewording, semantic=True).hit


def test_a_cache_backend_outage_makes_semantic_lookups_miss_and_stores_skip(user, catalog, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    stored = cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="a",
                         semantic=True)

    assert stored.stored is False
    assert ResponseCacheEntry.objects.count() == 0
    assert not cache_lookup(user=user, model=MODEL, messages=ask("How do I reset my password?"), semantic=True).hit


def test_past_the_exact_limit_a_projected_first_pass_still_finds_the_match(user, catalog, monkeypatch):
    monkeypatch.setattr(semantic, "EXACT_ROWS", 8)
    monkeypatch.setattr(semantic, "SHORTLIST", 4)
    for n in range(30):
        cache_store(user=user, model=MODEL, messages=ask(f"Where is invoice number {n} stored?"), response=n,
                    semantic=True)
    cache_store(user=user, model=MODEL, messages=ask("How can I reset my password?"), response="it", semantic=True)

    found = cache_lookup(user=user, model=MODEL, messages=ask("How do I reset my password?"), semantic=True)

    assert found.hit and found.response == "it"


def test_each_process_keeps_a_bounded_number_of_groups(user, catalog, monkeypatch):
    monkeypatch.setattr(semantic, "MAX_GROUPS", 3)
    for n in range(6):  # six conversations, each its own group
        cache_lookup(user=user, model=MODEL, messages=ask("Hello?", system=f"conversation {n}"), semantic=True)

    assert len(semantic.index._groups) == 3
