"""Fixtures of the token-saving tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from optimization.semantic import index


@pytest.fixture
def fresh_cache():
    """An empty Django cache and semantic index (each process keeps its index across tests otherwise)."""
    cache.clear()
    index.clear()
    yield
    cache.clear()
    index.clear()
