"""simulate_agents: realistic traffic through the real HTTP API."""

from __future__ import annotations

import socket
import types
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from budgets.services import budget_create
from demo.management.commands.simulate_agents import Command
from demo.services import AGENT_PROFILES
from tokens.models import ApiKey, UsageRecord


@pytest.mark.django_db(transaction=True)
def test_simulator_posts_agent_runs_through_the_api(live_server, catalog, user, other_user):
    out = StringIO()
    call_command("simulate_agents", users=3, rate=500, calls=40, base_url=live_server.url, seed=11,
                 force=True, stdout=out)
    text = out.getvalue()
    records = list(UsageRecord.objects.select_related("user"))
    assert len(records) == 40
    per_user = {}
    for record in records:
        per_user[record.user.username] = per_user.get(record.user.username, 0) + 1
    assert set(per_user) == {"alice", "bob", "sim-user-3"}
    assert sum(per_user.values()) == 40
    # Several agents and models per user, runs spanning several calls, every call priced.
    for username in ("alice", "bob"):
        mine = [r for r in records if r.user.username == username]
        assert len({r.agent for r in mine}) >= 2
        assert len({r.model for r in mine}) >= 2
    runs = {}
    for record in records:
        runs.setdefault(record.run_id, []).append(record)
    assert max(len(v) for v in runs.values()) >= 3
    assert all(r.priced and r.metadata == {"source": "simulate_agents"} for r in records)
    assert all(r.run_id.startswith(f"sim-{r.user.username}-") for r in records)
    # The simulator's keys only live while it runs.
    keys = ApiKey.objects.filter(name="simulate_agents")
    assert keys.count() == 3 and not keys.filter(revoked_at__isnull=True).exists()
    assert "Created customer sim-user-3 (password " in text
    assert f"Watch it live at {live_server.url}/live/ (log in as alice; staff see everyone)." in text
    assert f"Done: 40 calls (alice {per_user['alice']}, bob {per_user['bob']}, sim-user-3 " in text


@pytest.mark.django_db(transaction=True)
def test_simulator_over_many_calls_mixes_cache_hits_and_optimizations(live_server, catalog, user):
    call_command("simulate_agents", users=1, rate=1000, calls=60, base_url=live_server.url, seed=3,
                 force=True, stdout=StringIO())
    records = UsageRecord.objects.filter(user=user)
    assert records.count() == 60
    assert 0 < records.filter(cache_hit=True).count() < 20
    assert 0 < records.exclude(optimization_technique="").count() < 20
    assert records.filter(cached_input_tokens__gt=0).count() > records.filter(cache_hit=True).count()


@pytest.mark.django_db(transaction=True)
def test_simulator_says_when_the_server_is_not_running(user):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CommandError, match=r"Cannot reach http://127.0.0.1:\d+: .*Is the server running"):
        call_command("simulate_agents", users=1, calls=1, base_url=f"http://127.0.0.1:{port}", force=True,
                     stdout=StringIO())
    assert not ApiKey.objects.filter(name="simulate_agents", revoked_at__isnull=True).exists()


def test_simulator_refuses_production(settings):
    settings.DEBUG, settings.EMBEDDED = False, False
    with pytest.raises(CommandError, match="DEBUG=False"):
        call_command("simulate_agents", calls=1, stdout=StringIO())


@pytest.mark.django_db
def test_simulator_posts_through_the_sdk_when_installed(user, catalog, monkeypatch):
    posted: list[tuple[str, str, dict]] = []
    checked: list[dict] = []

    class NetraError(Exception):
        status = 400

    class ConnectionFailed(NetraError):
        pass

    class NetraClient:
        def __init__(self, base_url, api_key, **options):
            self.base_url, self.api_key, self.options = base_url, api_key, options

        def budget_check(self, **kwargs):
            checked.append(kwargs)
            return types.SimpleNamespace(allowed=True, reason="no_budget", raw={}, reservation=None)

        def usage_create(self, record):
            posted.append((self.base_url, self.api_key, record))
            return types.SimpleNamespace(duplicate=False, cost_usd=Decimal("0.0125"))

        def close(self, *, flush=True):
            pass

    monkeypatch.setattr("netra_client.NetraClient", NetraClient)
    monkeypatch.setattr("netra_client.NetraError", NetraError)
    monkeypatch.setattr("netra_client.ConnectionFailed", ConnectionFailed)
    out = StringIO()
    call_command("simulate_agents", users=1, rate=1000, calls=4, base_url="http://127.0.0.1:9", force=True,
                 stdout=out)
    assert len(posted) == 4
    assert {base for base, _, _ in posted} == {"http://127.0.0.1:9"}
    assert ApiKey.objects.get(name="simulate_agents").key_hash == ApiKey.hash(posted[0][1])
    assert all(record["agent"] in AGENT_PROFILES for _, _, record in posted)
    assert "Done: 4 calls (alice 4), $0.0500 in total; 0 blocked by a budget, 0 by a rate limit." in out.getvalue()
    # Every call was checked first, as its record says, with its tags.
    assert [(c["agent"], c["model"], c["reserve"], c["tags"]) for c in checked] == [
        (r["agent"], r["model"], True, r["tags"]) for _, _, r in posted]


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"HOST": "localhost", "PORT": "9001"}, "http://localhost:9001"),
        ({"HOST": "0.0.0.0", "PORT": "9002"}, "http://127.0.0.1:9002"),
        ({"HOST": "::1"}, "http://[::1]:8000"),
    ],
)
def test_simulator_defaults_to_where_make_run_serves(monkeypatch, environ, url):

    for name in ("HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    parser = Command().create_parser("manage.py", "simulate_agents")
    assert parser.parse_args([]).base_url == url
    assert parser.parse_args(["--base-url", "http://example.test:1"]).base_url == "http://example.test:1"


@pytest.mark.django_db(transaction=True)
def test_simulator_checks_budgets_first_so_a_spent_budget_blocks_calls_instead_of_overrunning(
        live_server, catalog, user):
    budget = budget_create(by=None, user=user, scope="user", period="month", limit_tokens=1, name="Tiny")
    out = StringIO()
    call_command("simulate_agents", users=1, rate=1000, calls=2, base_url=live_server.url, seed=3, force=True,
                 stdout=out)
    text = out.getvalue()
    assert UsageRecord.objects.count() == 0  # nothing spent past the hard budget
    assert f'alice: blocked: Denied: budget {budget.pk} "Tiny" (user, month) has 1 of 1 tokens left' in text
    assert "Done: 0 calls (alice 0), $0.0000 in total; 21 blocked by a budget, 0 by a rate limit." in text


@pytest.mark.django_db(transaction=True)
def test_simulator_counts_rate_limited_calls_and_goes_on(live_server, catalog, user, monkeypatch):
    monkeypatch.setattr("demo.management.commands.simulate_agents.SIM_RPM", 2)
    out = StringIO()
    call_command("simulate_agents", users=1, rate=1000, calls=3, base_url=live_server.url, seed=5, force=True,
                 stdout=out)
    text = out.getvalue()
    assert UsageRecord.objects.count() == 2  # two calls a minute through the simulator's key
    assert "alice: rate limited: " in text
    assert "Done: 2 calls (alice 2), $" in text
    assert "; 0 blocked by a budget, 31 by a rate limit." in text
