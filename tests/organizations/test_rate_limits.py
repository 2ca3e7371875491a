"""Rate limits per key, user and project: 429 with Retry-After and OpenAI's x-ratelimit-* headers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings

from budgets.models import UserRateLimit
from budgets.ratelimits import rate_limits_take
from tests.organizations.conftest import client_of
from tokens.models import UsageRecord

NOON = 1_800_000_000.0 - 1_800_000_000.0 % 60 + 20  # 20 s into a minute: 40 s to its end


def check(client, tokens=100, **extra):
    body = {"agent": "triage", "model": "gpt-4o", "estimated_input_tokens": tokens, "max_output_tokens": 50, **extra}
    return client.post("/api/v1/budgets/check", body, format="json")


def test_a_keys_requests_per_minute_answer_429_with_retry_after_and_headers(world):
    client = client_of(world.dave, rpm_limit=2)
    first = check(client)
    assert first.status_code == 200
    assert (first["x-ratelimit-limit-requests"], first["x-ratelimit-remaining-requests"]) == ("2", "1")
    assert first["x-ratelimit-reset-requests"].endswith("s")
    assert check(client)["x-ratelimit-remaining-requests"] == "0"
    refused = check(client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["x-ratelimit-remaining-requests"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"] == (f"Rate limit reached (key {client.key.key_prefix}… (tests): 2 requests per minute). "
                                f"Retry in {refused['Retry-After']} s.")
    assert "x-ratelimit-limit-tokens" not in first  # no token limit on this key
    assert check(client_of(world.dave)).status_code == 200  # another key of dave's has no limit


def test_tokens_per_minute_count_the_prompt_and_the_output_cap(world):
    client = client_of(world.dave, tpm_limit=400)
    ok = check(client, tokens=100)  # 100 + 50
    assert (ok["x-ratelimit-limit-tokens"], ok["x-ratelimit-remaining-tokens"]) == ("400", "250")
    assert check(client, tokens=150)["x-ratelimit-remaining-tokens"] == "50"
    refused = check(client, tokens=1)  # 51 > 50 left: refused, and counted nowhere
    assert refused.status_code == 429
    assert refused["x-ratelimit-remaining-tokens"] == "50"
    assert check(client, tokens=0, max_output_tokens=50).status_code == 200


def test_user_and_project_limits_span_all_their_keys(world):
    UserRateLimit.objects.create(user=world.carol, rpm_limit=1)
    assert check(client_of(world.carol)).status_code == 200
    assert check(client_of(world.carol)).status_code == 429
    world.web.rpm_limit = 2
    world.web.save()
    one, two, three = (client_of(u, project=world.web) for u in (world.dave, world.alice, world.dave))
    assert [check(c).status_code for c in (one, two, three)] == [200, 200, 429]
    assert check(client_of(world.dave)).status_code == 200  # outside the project


def test_the_limits_reset_with_the_minute():
    key = SimpleNamespace(pk=7, rpm_limit=1, tpm_limit=None, key_prefix="ntk_abc", name="k")
    first = rate_limits_take(api_key=key, user=None, project=None, tokens=10, now=NOON)
    assert (first.allowed, first.headers) == (True, {"x-ratelimit-limit-requests": "1",
                                                     "x-ratelimit-remaining-requests": "0",
                                                     "x-ratelimit-reset-requests": "40s"})
    refused = rate_limits_take(api_key=key, user=None, project=None, tokens=10, now=NOON + 39.5)
    assert (refused.allowed, refused.retry_after, refused.headers["retry-after"]) == (False, 1, "1")
    assert rate_limits_take(api_key=key, user=None, project=None, tokens=10, now=NOON + 40).allowed


def test_no_limit_means_no_headers_and_no_refusal(world):
    response = check(client_of(world.dave))
    assert response.status_code == 200
    assert not [h for h in response.headers if h.lower().startswith("x-ratelimit")]
    decision = rate_limits_take(api_key=None, user=None, project=None, tokens=10**9)
    assert (decision.allowed, decision.headers, decision.retry_after) == (True, {}, 0)


def test_refused_checks_hold_nothing_and_usage_is_never_rate_limited(world):
    client = client_of(world.dave, rpm_limit=1)
    assert check(client, reserve=True).status_code == 200
    assert check(client, reserve=True).status_code == 429
    record = {"request_id": "after-429", "model": "gpt-4o", "prompt_tokens": 1, "completion_tokens": 1}
    assert client.post("/api/v1/usage", record, format="json").status_code == 201
    assert UsageRecord.objects.count() == 1


def test_redis_counts_exactly_across_two_processes(private_redis, settings):
    """Two processes take 40 requests each at once against one key's 30 per minute: 30 pass, in all."""
    settings.REDIS_URL = private_redis.url
    script = textwrap.dedent("""
        import os, sys, time
        from types import SimpleNamespace
        import django
        django.setup()
        from budgets.ratelimits import rate_limits_take
        key = SimpleNamespace(pk=1, rpm_limit=30, tpm_limit=1000, key_prefix="ntk_x", name="shared")
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        now = float(sys.argv[2])
        print(sum(rate_limits_take(api_key=key, user=None, project=None, tokens=10, now=now).allowed
                  for _ in range(40)))
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "netra_site.test_settings", "REDIS_URL": private_redis.url,
           "NETRA_RATELIMIT_PREFIX": django_settings.NETRA_RATELIMIT_PREFIX}
    env.pop("DATABASE_URL", None)
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start), str(NOON)], env=env,
                              cwd=django_settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(int(out.strip()) for out, _ in outs) == 30
    # This process sees the same counters: the minute is used up, for requests and tokens alike.
    key = SimpleNamespace(pk=1, rpm_limit=30, tpm_limit=1000, key_prefix="ntk_x", name="shared")
    decision = rate_limits_take(api_key=key, user=None, project=None, tokens=10, now=NOON + 1)
    assert (decision.allowed, decision.headers["x-ratelimit-remaining-requests"],
            decision.headers["x-ratelimit-remaining-tokens"]) == (False, "0", "700")


@pytest.mark.django_db
def test_redis_down_lets_calls_through(private_redis, settings):
    settings.REDIS_URL = private_redis.url
    private_redis.stop()
    key = SimpleNamespace(pk=2, rpm_limit=1, tpm_limit=None, key_prefix="ntk_y", name="k")
    assert [rate_limits_take(api_key=key, user=None, project=None, tokens=1).allowed for _ in range(3)] == [True] * 3
