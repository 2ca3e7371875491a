"""Demo data: a staff admin and two customers with a month of plausible usage."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from budgets.models import Budget
from budgets.services import budget_create
from demo.organizations import AGENT_TAGS
from ingestion.services import usage_ingest
from tokens.models import UsageRecord

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo_credentials"
DEMO_USERS = (("admin", True), ("alice", False), ("bob", False))

# agent -> [(model, tool, typical prompt, typical completion)]
AGENT_PROFILES = {
    "triage": [("gpt-4o-mini", "classify", 600, 80), ("claude-haiku-4-5", "classify", 700, 90)],
    "data": [("gpt-4o", "sql_query", 3500, 600), ("claude-sonnet-4-5", "retrieve", 5000, 900)],
    "optimization": [("gpt-4.1", "rewrite", 2500, 700), ("o3-mini", "plan", 1800, 1200)],
    "action": [("gpt-4o", "call_api", 1200, 300)],
    "reporting": [("claude-sonnet-4-5", "summarize", 4000, 1500), ("gemini/gemini-2.5-flash", "chart", 2000, 400)],
}


def _load_credentials() -> dict[str, str]:
    if not CREDENTIALS_FILE.exists():
        return {}
    pairs = (line.split(":", 1) for line in CREDENTIALS_FILE.read_text().splitlines() if ":" in line)
    return {u.strip(): p.strip() for u, p in pairs}


def demo_users_ensure() -> dict[str, str]:
    """Create missing demo users with random passwords; return username -> password."""
    User = get_user_model()
    creds = _load_credentials()
    for username, staff in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(
                username=username, password=password, email=f"{username}@example.com",
                is_staff=staff, is_superuser=staff,
            )
            creds[username] = password
    CREDENTIALS_FILE.write_text("".join(f"{u}: {p}\n" for u, p in creds.items()))
    CREDENTIALS_FILE.chmod(0o600)
    return creds


def _usage_shape(model: str, prompt: int, completion: int, rng: random.Random) -> dict:
    cached = int(prompt * rng.choice([0, 0, 0.3, 0.6]))
    if model.startswith("claude"):
        return {"input_tokens": prompt - cached, "output_tokens": completion,
                "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
             "prompt_tokens_details": {"cached_tokens": cached}}
    if model.startswith("o"):
        usage["completion_tokens_details"] = {"reasoning_tokens": int(completion * 0.6)}
    return usage


def demo_usage_generate(*, username: str, days: int = 30, seed: int = 7, api_keys: list | None = None) -> int:
    """A month of usage through the real ingestion service. Skips users that have usage.

    Each run is reported with one of ``api_keys`` (so it lands in that key's project) or with no key.
    Calls carry their agent's cost-center tags.
    """
    User = get_user_model()
    user = User.objects.get(username=username)
    if UsageRecord.objects.filter(user=user).exists():
        return 0
    rng = random.Random(f"{seed}-{username}")
    now = timezone.now()
    payloads: dict[int | None, list[dict]] = {}
    keys = list(api_keys or [None])
    scale = 1.0 if username == "alice" else 0.55
    for day in range(days, -1, -1):
        date = now - timedelta(days=day)
        # Past days: working hours. Today: only runs that already happened.
        first_hour, last_hour = (7, 19) if day else (0, now.hour - 1)
        if last_hour < first_hour:
            continue
        weekday_factor = 0.4 if date.weekday() >= 5 else 1.0
        runs = max(1, int(rng.gauss(6, 2) * weekday_factor * scale))
        for run in range(runs):
            run_id = f"demo-{username}-{date:%Y%m%d}-{run}"
            key = rng.choice(keys)
            start = date.replace(hour=rng.randint(first_hour, last_hour), minute=rng.randint(0, 59))
            for step, agent in enumerate(AGENT_PROFILES):
                model, tool, prompt, completion = rng.choice(AGENT_PROFILES[agent])
                p = max(50, int(rng.gauss(prompt, prompt * 0.25)))
                c = max(10, int(rng.gauss(completion, completion * 0.3)))
                when = min(start + timedelta(seconds=20 * step), now - timedelta(seconds=1))
                record = {
                    "request_id": f"{run_id}-{step}",
                    "model": model,
                    "agent": agent,
                    "tool": tool,
                    "run_id": run_id,
                    "usage": _usage_shape(model, p, c, rng),
                    "occurred_at": when.isoformat(),
                    "latency_ms": rng.randint(300, 4000),
                    "cache_hit": rng.random() < 0.08,
                    "tags": AGENT_TAGS[agent],
                }
                if rng.random() < 0.2:
                    record["optimization"] = {"technique": "prompt_compression",
                                              "original_tokens": int(p * 1.35)}
                payloads.setdefault(key.pk if key else None, []).append(record)
    created = 0
    by_pk = {k.pk: k for k in keys if k is not None}
    for key_pk, records in payloads.items():
        for i in range(0, len(records), 1000):
            results = usage_ingest(user=user, api_key=by_pk.get(key_pk), payloads=records[i:i + 1000])
            created += sum(r.status == "created" for r in results)
    return created


# username -> budgets (limits chosen so a first start shows a healthy gauge and a nearly spent one)
DEMO_BUDGETS = {
    "alice": [
        {"scope": "user", "period": "month", "limit_usd": Decimal("12"), "enforcement": "hard"},
        {"scope": "user_agent", "agent": "data", "period": "day", "limit_tokens": 60_000, "enforcement": "soft"},
    ],
    "bob": [{"scope": "user", "period": "month", "limit_usd": Decimal("3"), "enforcement": "hard"}],
}


def demo_budgets_ensure() -> int:
    """Budgets for the demo customers (skipped for users that have any)."""
    User = get_user_model()
    admin = User.objects.filter(username="admin").first()
    created = 0
    for username, specs in DEMO_BUDGETS.items():
        user = User.objects.filter(username=username).first()
        if user is None or Budget.objects.filter(user=user).exists():
            continue
        for spec in specs:
            budget_create(by=admin, user=user, **spec)
            created += 1
    return created
