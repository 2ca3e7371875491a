"""Play realistic agent traffic through the real HTTP API, to watch the live page move.

Each simulated user runs agent pipelines (triage → data → optimization →
action → reporting, as in the demo data) on several models, with provider
prompt-cache hits and optimized prompts now and then. Calls arrive as a
Poisson process at ``--rate`` per second in total. Users and API keys are
created through services in the server's database (run this from the same
checkout and environment as the server); the keys are revoked on exit. Posts go
through the Netra SDK (``netra_client``).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

import netra_client
from demo.organizations import AGENT_TAGS, demo_project_for
from demo.services import AGENT_PROFILES
from tokens.models import ApiKey
from tokens.pricing import catalog
from tokens.services import api_key_create, api_key_revoke

CUSTOMERS = ("alice", "bob")  # the demo customers `make run` creates
TECHNIQUES = ("prompt_compression", "context_fit", "lean_template")
SIM_RPM, SIM_TPM = 90, 400_000  # each simulator key's rate limits


@dataclass
class SimUser:
    username: str
    raw_key: str
    rng: random.Random
    run_id: str = ""
    steps_left: int = 0
    sent: int = 0
    blocked: int = 0
    limited: int = 0
    cost: Decimal = field(default_factory=Decimal)


def usage_for(model: str, prompt: int, completion: int, cached_share: float, rng: random.Random) -> dict:
    """The usage object the provider's SDK would return for this call."""
    cached = int(prompt * cached_share)
    if model.startswith("claude"):
        return {"input_tokens": prompt - cached, "output_tokens": completion,
                "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}
    usage: dict[str, Any] = {
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if model.startswith("o"):
        usage["completion_tokens_details"] = {"reasoning_tokens": int(completion * rng.uniform(0.4, 0.8))}
    return usage


def priced_profiles() -> dict[str, list[tuple[str, str, int, int]]]:
    """The demo agent profiles, keeping only models the catalog can price."""
    profiles = {agent: [p for p in options if catalog.latest(p[0]) is not None]
                for agent, options in AGENT_PROFILES.items()}
    return {agent: options for agent, options in profiles.items() if options} or AGENT_PROFILES


def next_call(user: SimUser, profiles: dict[str, list[tuple[str, str, int, int]]]) -> dict[str, Any]:
    """One model call of the user's current run; starts a new run when the last one ended."""
    rng = user.rng
    agents = list(profiles)
    if user.steps_left <= 0:
        user.run_id = f"sim-{user.username}-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}"
        user.steps_left = rng.randint(3, 8)
    step = rng.randint(0, len(agents) - 1) if rng.random() < 0.3 else (8 - user.steps_left) % len(agents)
    user.steps_left -= 1
    agent = agents[step]
    model, tool, prompt, completion = rng.choice(profiles[agent])
    prompt = max(50, int(rng.gauss(prompt, prompt * 0.3)))
    completion = max(10, int(rng.gauss(completion, completion * 0.35)))
    cache_hit = rng.random() < 0.1
    cached_share = 0.9 if cache_hit else rng.choice([0, 0, 0, 0.3, 0.5])
    record: dict[str, Any] = {
        "request_id": f"sim-{uuid.uuid4()}",  # unique even when --seed repeats the traffic
        "model": model,
        "agent": agent,
        "tool": tool,
        "run_id": user.run_id,
        "usage": usage_for(model, prompt, completion, cached_share, rng),
        "latency_ms": int(rng.lognormvariate(7.0, 0.5)),
        "cache_hit": cache_hit,
        "metadata": {"source": "simulate_agents"},
        "tags": AGENT_TAGS.get(agent, []),
    }
    if rng.random() < 0.15:
        record["optimization"] = {"technique": rng.choice(TECHNIQUES),
                                  "original_tokens": int(prompt * rng.uniform(1.25, 1.8))}
    return record


class SdkPoster:
    """POST /api/v1/usage through the Netra SDK, one client per simulated user's key."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clients: dict[str, Any] = {}
        self.parts = urlsplit(base_url)

    def client(self, raw_key: str):
        client = self.clients.get(raw_key)
        if client is None:
            client = self.clients[raw_key] = netra_client.NetraClient(self.base_url, raw_key, retries=1,
                                                                  flush_interval=0)
        return client

    def check(self, raw_key: str, record: dict) -> tuple[str, str]:
        """Ask before the call, as an agent should: ("allowed", reservation id), ("blocked", why) or
        ("rate_limited", why)."""
        usage = record["usage"]
        prompt = usage.get("prompt_tokens") or usage.get("input_tokens", 0) + usage.get("cache_read_input_tokens", 0)
        completion = usage.get("completion_tokens") or usage.get("output_tokens", 1)
        try:
            answer = self.client(raw_key).budget_check(
                agent=record["agent"], model=record["model"], run_id=record["run_id"],
                estimated_input_tokens=prompt, max_output_tokens=max(completion, 1), reserve=True,
                tags=record.get("tags") or None, retries=0)
        except netra_client.ConnectionFailed as exc:
            raise ConnectionError(str(exc)) from exc
        except netra_client.NetraError as exc:
            if getattr(exc, "status", None) == 429:
                return "rate_limited", str(exc)
            raise
        if not answer.allowed:
            return "blocked", answer.raw.get("message", answer.reason)
        return "allowed", answer.reservation.id if answer.reservation else ""

    def post(self, raw_key: str, record: dict) -> tuple[int, dict]:
        client = self.client(raw_key)
        try:
            result = client.usage_create(record)
        except netra_client.ConnectionFailed as exc:
            raise ConnectionError(str(exc)) from exc
        except netra_client.NetraError as exc:
            return exc.status or 400, {"error": str(exc)}
        return (200 if result.duplicate else 201), {"cost_usd": str(result.cost_usd)}

    def close(self) -> None:
        for client in self.clients.values():
            client.close(flush=False)
        self.clients.clear()


def poster_for(base_url: str) -> SdkPoster:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(f"--base-url must be http(s)://host[:port], not {base_url!r}")
    return SdkPoster(base_url)


def default_base_url(environ=os.environ) -> str:
    """Where ``make run`` serves: its ``HOST`` and ``PORT`` (127.0.0.1:8000 by default).

    A server bound to every interface (0.0.0.0, ::) is reached on loopback.
    """
    host = environ.get("HOST") or "127.0.0.1"
    port = environ.get("PORT") or "8000"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Simulate LLM agents posting usage through the HTTP API (watch /live/ while it runs)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=2,
                            help="customers to simulate (default 2: alice, bob)")
        parser.add_argument("--rate", type=float, default=2.0,
                            help="model calls per second, all users together")
        parser.add_argument("--duration", type=float, default=60.0, help="seconds to run (0: until Ctrl-C)")
        parser.add_argument("--calls", type=int, default=0, help="stop after this many calls (0: no limit)")
        parser.add_argument("--base-url", default=default_base_url(),
                            help="the running server (default from HOST and PORT, as make run uses: %(default)s)")
        parser.add_argument("--seed", type=int, default=None, help="repeatable traffic")
        parser.add_argument("--force", action="store_true", help=("allow in production "
                                  "(DEBUG=False with a DATABASE_URL)"))

    def handle(self, *args, users, rate, duration, calls, base_url, seed, force, **options):
        if not (settings.DEBUG or settings.EMBEDDED) and not force:
            raise CommandError("Refusing to create simulated users and keys in production "
                               "(DEBUG=False with a DATABASE_URL; pass --force).")
        if users < 1 or rate <= 0:
            raise CommandError("--users must be at least 1 and --rate above 0.")
        rng = random.Random(seed)
        poster = poster_for(base_url)
        sims = self._users(users, rng)
        base = base_url.rstrip("/")
        limit = f"{calls} calls" if calls else ("until Ctrl-C" if not duration else f"{duration:g} s")
        self.stdout.write(
            f"Posting agent traffic to {base}/api/v1/usage at {rate:g} calls/s for {limit}, "
            f"as {', '.join(s.username for s in sims)}.\nWatch it live at {base}/live/ "
            f"(log in as {sims[0].username}; staff see everyone)."
        )
        try:
            self._loop(poster, sims, rng, rate=rate, duration=duration, calls=calls)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            poster.close()
            self._revoke(sims)
        total = sum(s.sent for s in sims)
        spent = sum((s.cost for s in sims), Decimal(0))
        per_user = ", ".join(f"{s.username} {s.sent}" for s in sims)
        blocked, limited = sum(s.blocked for s in sims), sum(s.limited for s in sims)
        self.stdout.write(f"Done: {total} calls ({per_user}), ${spent:.4f} in total; {blocked} blocked by a budget, "
                          f"{limited} by a rate limit. Simulator keys revoked.")

    def _users(self, count: int, rng: random.Random) -> list[SimUser]:
        User = get_user_model()
        sims = []
        for i in range(count):
            username = CUSTOMERS[i] if i < len(CUSTOMERS) else f"sim-user-{i + 1}"
            user = User.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(9)
                user = User.objects.create_user(username=username, password=password,
                                                email=f"{username}@example.com")
                self.stdout.write(f"Created customer {username} (password {password}).")
            # In the user's demo project, with limits, so budgets and rate limits of every scope apply.
            key, raw = api_key_create(user=user, name="simulate_agents", project=demo_project_for(user),
                                      rpm_limit=SIM_RPM, tpm_limit=SIM_TPM)
            self.stdout.write(f"Created API key {key.key_prefix}… for {username} (revoked on exit).")
            sims.append(SimUser(username=username, raw_key=raw, rng=random.Random(rng.getrandbits(64))))
        return sims

    def _loop(self, poster: SdkPoster, sims: list[SimUser], rng: random.Random, *, rate: float,
              duration: float, calls: int) -> None:
        start = time.monotonic()
        due = start
        next_report = start + 5
        sent = failed = 0
        weights = [1.0 / (i + 1) ** 0.5 for i in range(len(sims))]  # some customers are busier
        profiles = priced_profiles()
        while True:
            now = time.monotonic()
            if (calls and sent + failed >= calls) or (duration and now - start >= duration):
                return
            if due > now:
                time.sleep(due - now)
            due += rng.expovariate(rate)
            sim = rng.choices(sims, weights)[0]
            record = next_call(sim, profiles)
            try:
                verdict, detail = poster.check(sim.raw_key, record)
                if verdict != "allowed":
                    # The agent does not make the call: nothing is spent, the page shows the denial.
                    if verdict == "blocked":
                        sim.blocked += 1
                    else:
                        sim.limited += 1
                    if (sim.blocked + sim.limited) % 10 == 1:
                        self.stdout.write(f"  {sim.username}: {verdict.replace('_', ' ')}: {detail[:300]}")
                    if calls and sim.blocked + sim.limited > calls * 10:
                        return
                    continue
                if detail:
                    record["reservation_id"] = detail
                status, body = poster.post(sim.raw_key, record)
            except OSError as exc:
                raise CommandError(
                    f"Cannot reach {poster.parts.geturl()}: {exc}. Is the server running (make run)?"
                ) from exc
            if status in (200, 201):
                sent += 1
                sim.sent += 1
                sim.cost += Decimal(body.get("cost_usd") or "0")
            else:
                failed += 1
                self.stderr.write(f"  {sim.username}: HTTP {status} {json.dumps(body)[:300]}")
            if time.monotonic() >= next_report:
                next_report += 5
                spent = sum((s.cost for s in sims), Decimal(0))
                self.stdout.write(f"  {time.monotonic() - start:6.1f} s  {sent} calls  ${spent:.4f}"
                                  + (f"  ({failed} failed)" if failed else ""))

    def _revoke(self, sims: list[SimUser]) -> None:
        for sim in sims:
            key = ApiKey.objects.filter(key_hash=ApiKey.hash(sim.raw_key)).first()
            if key is not None:
                api_key_revoke(key=key)
