"""factory_boy factories for the test suite."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.db import uuid7
from tokens.models import ModelPrice, UsageRecord


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    name = factory.Sequence(lambda n: f"test-model-{n}")
    provider = "openai"
    input_per_million = Decimal("1")
    output_per_million = Decimal("2")
    context_window = 8192
    max_output_tokens = 4096
    valid_from = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3650))


class UsageRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UsageRecord

    id = factory.LazyFunction(uuid7)
    user = factory.SubFactory(UserFactory)
    request_id = factory.Sequence(lambda n: f"req-{n}")
    agent = "default"
    model = "gpt-4o"
    input_tokens = 100
    output_tokens = 50
    total_tokens = factory.LazyAttribute(
        lambda o: o.input_tokens + o.output_tokens + o.cached_input_tokens + o.cache_write_tokens
        + o.reasoning_tokens
    )
    cached_input_tokens = 0
    cache_write_tokens = 0
    reasoning_tokens = 0
    cost_usd = Decimal("0.00075")
    priced = True
    occurred_at = factory.LazyFunction(timezone.now)
