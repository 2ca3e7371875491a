"""API keys, management commands, demo data and production settings guards."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from budgets.models import Budget
from demo import services as demo
from tokens.models import ApiKey, ModelPrice, UsageRecord
from tokens.services import api_key_create, prices_import

ROOT = Path(__file__).resolve().parents[2]


def test_create_api_key_prints_the_raw_key_last_and_stores_only_a_hash(user, catalog):
    out = StringIO()
    call_command("create_api_key", "alice", "--name", "triage-bot", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("ntk_")
    key = ApiKey.objects.get(name="triage-bot")
    assert key.key_hash == ApiKey.hash(raw)
    assert raw not in {key.key_hash, key.key_prefix, key.name}
    assert key.is_service is False
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/usage").status_code == 200


def test_create_api_key_service_and_create_user(db):
    out = StringIO()
    call_command("create_api_key", "orchestrator", "--service", "--create-user", stdout=out)
    key = ApiKey.objects.get(user__username="orchestrator")
    assert key.is_service is True
    assert key.key_hash == ApiKey.hash(out.getvalue().strip().splitlines()[-1])


def test_create_api_key_unknown_user_without_flag(db):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_api_key", "ghost", stdout=StringIO())


def test_admin_creates_a_key_and_shows_it_once(admin_client, user):
    response = admin_client.post(
        "/admin/tokens/apikey/add/", {"user": user.pk, "name": "from-admin", "is_service": ""}, follow=True
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) >= 1
    raw = shown[0].split("<code>")[1].split("</code>")[0]
    key = ApiKey.objects.get(name="from-admin")
    assert key.key_hash == ApiKey.hash(raw)
    detail = admin_client.get(f"/admin/tokens/apikey/{key.pk}/change/")
    assert raw not in detail.content.decode()


def test_admin_revoke_action(admin_client, user):

    key, _ = api_key_create(user=user, name="k")
    admin_client.post("/admin/tokens/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_admin_lists_unpriced_models_and_reprices_them(admin_client, api):
    api.post("/api/v1/usage", {"request_id": "u", "model": "acme-x", "prompt_tokens": 10, "completion_tokens": 0},
             format="json")
    page = admin_client.get("/admin/tokens/modelprice/unpriced/")
    assert "acme-x" in page.content.decode()

    prices_import(data={"acme-x": {"litellm_provider": "acme", "input_cost_per_token": 1e-06,
                                   "output_cost_per_token": 1e-06}})
    admin_client.post("/admin/tokens/modelprice/unpriced/", {"model": ["acme-x"]})
    assert UsageRecord.objects.get(request_id="u").priced is True


def test_admin_usage_ledger_is_read_only_and_filterable(admin_client, api):
    api.post("/api/v1/usage", {"request_id": "a", "model": "gpt-4o", "agent": "triage",
                               "prompt_tokens": 10, "completion_tokens": 0}, format="json")
    page = admin_client.get("/admin/tokens/usagerecord/?agent=triage")
    assert page.status_code == 200
    assert "0.000025" in page.content.decode()
    assert admin_client.get("/admin/tokens/usagerecord/add/").status_code == 403


def test_seed_demo_creates_users_budgets_and_a_month_of_usage(db, catalog, tmp_path, monkeypatch, settings):
    settings.DEBUG = True  # the test runner forces DEBUG=False

    monkeypatch.setattr(demo, "CREDENTIALS_FILE", tmp_path / "creds")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    assert users.get(username="admin").is_staff is True
    assert users.get(username="alice").is_staff is False
    alice_records = UsageRecord.objects.filter(user__username="alice")
    assert alice_records.count() > 300
    assert UsageRecord.objects.filter(user__username="bob").count() > 100
    assert alice_records.filter(priced=False).count() == 0
    days = {r.date() for r in alice_records.values_list("occurred_at", flat=True)}
    assert len(days) >= 28

    assert sorted(Budget.objects.filter(user__isnull=False).values_list("user__username", "scope", "period")) == [
        ("alice", "user", "month"), ("alice", "user_agent", "day"), ("bob", "user", "month"),
    ]
    assert sorted(Budget.objects.filter(user__isnull=True).values_list("name", "scope")) == [
        ("Acme monthly", "organization"), ("Globex monthly", "organization"), ("Marketing daily", "tag"),
        ("Research monthly", "project"),
    ]
    # Spend is attributed to the demo projects and tagged by cost center.
    assert set(alice_records.values_list("organization__slug", flat=True)) == {"acme"}
    assert set(alice_records.values_list("project__slug", flat=True)) == {"support-bot", "research"}
    assert set(UsageRecord.objects.filter(user__username="bob").values_list("project__slug", flat=True)) == {
        "pipeline"}
    assert {t for tags in alice_records.values_list("tags", flat=True) for t in tags} == {
        "support", "research", "marketing"}
    assert sorted(ApiKey.objects.values_list("name", "rpm_limit")) == [
        ("pipeline (demo)", 60), ("research (demo)", 60), ("support-bot (demo)", 120)]
    assert all(r.occurred_at <= timezone.now() for r in alice_records)
    for line in text.splitlines()[-3:]:
        username, password = line.split()[:2]
        assert users.get(username=username).check_password(password)
    # second run adds nothing and prints the same logins
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert again.getvalue().splitlines()[-3:] == text.splitlines()[-3:]


def test_seed_demo_refuses_in_production(db, settings):
    settings.DEBUG, settings.EMBEDDED = False, False
    with pytest.raises(CommandError, match="DEBUG=False"):
        call_command("seed_demo", stdout=StringIO())


def _clean_env() -> dict:
    """The test's environment without any of the settings the test is about."""
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DATABASE_URL", "REDIS_URL", "SQLITE_PATH"}}
    clean["DJANGO_SETTINGS_MODULE"] = "netra_site.settings"
    return clean


def _check_with(env: dict) -> subprocess.CompletedProcess:
    clean = _clean_env()
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


PRODUCTION_DB = {"DATABASE_URL": "postgres://netra@127.0.0.1:5432/netra"}  # check never connects


def test_production_refuses_to_start_without_secret_key_or_hosts():
    no_key = _check_with({**PRODUCTION_DB, "ALLOWED_HOSTS": "example.com"})
    assert no_key.returncode != 0
    assert "DEBUG=False requires SECRET_KEY" in no_key.stderr
    no_hosts = _check_with({**PRODUCTION_DB, "SECRET_KEY": "s" * 50})
    assert no_hosts.returncode != 0
    assert "DEBUG=False requires ALLOWED_HOSTS" in no_hosts.stderr
    ok = _check_with({**PRODUCTION_DB, "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "example.com"})
    assert ok.returncode == 0, ok.stderr


def test_debug_is_off_unless_set():
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT, env={**_clean_env(), **PRODUCTION_DB, "SECRET_KEY": "s" * 50, "ALLOWED_HOSTS": "example.com"},
        capture_output=True, text=True, timeout=120,
    )
    assert shown.stdout.strip().splitlines()[-1] == "False", shown.stderr


def test_a_command_on_the_embedded_default_runs_without_any_setting(tmp_path):
    """README: `.venv/bin/python manage.py create_api_key alice` right after `make run`, no variables set."""
    env = {**_clean_env(), "SQLITE_PATH": str(tmp_path / "db.sqlite3")}
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr
    created = subprocess.run([sys.executable, "manage.py", "create_api_key", "alice", "--create-user"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1].startswith("ntk_")


def test_admin_shows_price_history_of_a_model(admin_client, catalog):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone


    first = ModelPrice.objects.get(name="gpt-4o")
    ModelPrice.objects.create(
        name="gpt-4o", provider="openai", input_per_million=Decimal("2"), output_per_million=Decimal("8"),
        valid_from=timezone.now() + timedelta(days=1),
    )
    page = admin_client.get(f"/admin/tokens/modelprice/{first.pk}/change/").content.decode()
    assert "<td>$2.50</td><td>$10.00</td><td>$1.25</td>" in page  # prices exact, in dollars
    assert "<td>$2.00</td><td>$8.00</td><td>–</td>" in page


def test_admin_runs_list_shows_run_totals_in_one_query_per_page(admin_client, api, django_assert_max_num_queries):
    api.post("/api/v1/usage", {"records": [
        {"request_id": f"r{i}", "model": "gpt-4", "run_id": f"run-{i % 3}", "prompt_tokens": 1000,
         "completion_tokens": 0} for i in range(9)
    ]}, format="json")
    with django_assert_max_num_queries(8):  # session, user, count, page: not one per run
        page = admin_client.get("/admin/tokens/run/").content.decode()
    # each run: 3 records x 1000 tokens x $30/1M
    assert page.count("3,000") == 3
    assert page.count('<span title="0.09 USD">$0.0900</span>') == 3  # the money rule, exact on hover


# The production environment the README documents (with a real SECRET_KEY and host).
PRODUCTION_ENV = {
    **PRODUCTION_DB,
    "SECRET_KEY": "k3y-" + "x9Q" * 20,
    "ALLOWED_HOSTS": "netra.example.com",
    "SECURE_SSL_REDIRECT": "True",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
    "SECURE_HSTS_PRELOAD": "True",
    "SESSION_COOKIE_SECURE": "True",
    "CSRF_COOKIE_SECURE": "True",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def test_check_deploy_is_clean_with_the_documented_production_environment():
    checked = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                             env={**_clean_env(), **PRODUCTION_ENV}, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "System check identified no issues (0 silenced)."
