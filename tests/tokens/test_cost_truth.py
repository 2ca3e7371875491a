"""Cost truth beyond the case file: the catalog keeps every rate, overrides, provider cost,
unpriced usage (alerted, counted, repriced once known) and the date-range reprice."""

import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from anthropic.types import CacheCreation
from anthropic.types import Usage as AnthropicUsage
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from analytics.models import Alert, DailyUsage
from budgets.models import Budget, BudgetWindow
from budgets.services import budget_create
from ingestion.services import usage_reprice
from tests.factories import ModelPriceFactory
from tokens.models import ModelPrice, PriceOverride, RepriceAudit, UsageRecord
from tokens.price_map import entry_prices, is_price_key, map_prices, plain
from tokens.services import prices_import

# The LiteLLM price map the catalog was imported from (a copy of ../shared/data/pricing/, shipped with the tests).
MAP = Path(settings.BASE_DIR) / "tests" / "data" / "litellm_model_prices_2026.json"


PLAIN = re.compile(r"^\d+(\.\d+)?$")


def _leaves(data):
    if isinstance(data, dict):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    else:
        yield data


def post(api, **record):
    response = api.post("/api/v1/usage", record, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- the catalog --------------------------------------------------------------------------------


def test_every_price_key_of_the_litellm_map_is_kept():
    data = json.loads(MAP.read_text(), parse_float=Decimal)
    checked = 0
    for key, entry in data.items():
        if not isinstance(entry, dict) or key == "sample_spec":
            continue
        columns, rates = entry_prices(entry)
        back = map_prices(columns, rates)
        for name, value in entry.items():
            if not is_price_key(name):
                continue
            checked += 1
            if name in rates.get("other", {}):
                assert rates["other"][name] == plain(value), (key, name)
            elif name == "search_context_cost_per_query":
                sizes = {k.removeprefix("search_context_size_"): v for k, v in value.items()}
                assert {s: rates["standard"]["0"][f"web_search_{s}"] for s in sizes} == plain(sizes)
            else:
                assert back[name] == Decimal(str(value)), (key, name)
        assert set(back) <= set(entry), key
    assert checked > 15_000


def test_import_stores_retention_tier_and_service_tier_rates(db):
    prices_import(data={"claude-x": {
        "litellm_provider": "anthropic", "mode": "chat",
        "input_cost_per_token": Decimal("3e-06"), "output_cost_per_token": Decimal("1.5e-05"),
        "cache_creation_input_token_cost": Decimal("3.75e-06"),
        "cache_creation_input_token_cost_above_1hr": Decimal("6e-06"),
        "input_cost_per_token_above_200k_tokens": Decimal("6e-06"),
        "input_cost_per_token_batches": Decimal("1.5e-06"),
        "output_cost_per_token_priority": Decimal("3e-05"),
        "ocr_cost_per_page": Decimal("0.001"),
    }})
    price = ModelPrice.objects.get(name="claude-x")
    assert price.rates == {
        "standard": {"0": {"cache_write_1h": "6"}, "200000": {"input": "6"}},
        "batch": {"0": {"input": "1.5"}},
        "priority": {"0": {"output": "30"}},
        "other": {"ocr_cost_per_page": "0.001"},
    }
    assert price.tiers == [{"above_input_tokens": 200000, "input_per_million": "6"}]


def test_prices_are_plain_decimal_strings_everywhere_in_the_catalog_api(api):
    models = api.get("/api/v1/models").json()["models"]
    assert len(models) == 406
    prices = [v for m in models for k, v in m.items() if k.endswith("_per_million") and v is not None]
    prices += [v for m in models for v in _leaves(m["tiers"]) if not isinstance(v, int)]
    prices += list(_leaves({k: v for m in models for k, v in m["rates"].items() if k != "other"}))
    assert "30" in prices  # gpt-4's input price: never "3E+1"
    assert all(PLAIN.match(p) for p in prices), [p for p in prices if not PLAIN.match(p)][:5]
    gpt54 = next(m for m in models if m["name"] == "gpt-5.4")
    assert gpt54["tiers"][0] == {"above_input_tokens": 272000, "input_per_million": "5", "output_per_million": "22.5",
                                 "cache_read_per_million": "0.5"}
    assert gpt54["rates"]["flex"]["0"] == {"input": "1.25", "output": "7.5", "cached_input": "0.13"}


# --- normalization ------------------------------------------------------------------------------


def test_anthropic_one_hour_writes_are_their_own_class(api):
    usage = AnthropicUsage(input_tokens=10, output_tokens=20, cache_read_input_tokens=0,
                           cache_creation_input_tokens=300,
                           cache_creation=CacheCreation(ephemeral_5m_input_tokens=100, ephemeral_1h_input_tokens=200))
    body = post(api, request_id="a1h", model="claude-sonnet-4-5", usage=usage.model_dump())
    assert body["tokens"]["cache_write"] == 100
    assert body["tokens"]["cache_write_1h"] == 200
    assert body["tokens"]["total"] == 330
    # 10 x $3 + 100 x $3.75 + 200 x $6 + 20 x $15
    assert body["cost_usd"] == "0.001905"


def test_a_split_that_does_not_add_up_is_a_400(api):
    usage = {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 300,
             "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 100}}
    response = api.post("/api/v1/usage", {"request_id": "bad", "model": "claude-sonnet-4-5", "usage": usage},
                        format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["usage.cache_creation"]


def test_openai_reasoning_beyond_completion_without_an_xai_total_is_a_400(api):
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "completion_tokens_details": {"reasoning_tokens": 9}}
    response = api.post("/api/v1/usage", {"request_id": "r", "model": "gpt-5.4", "usage": usage}, format="json")
    assert response.status_code == 400
    assert "usage.completion_tokens_details.reasoning_tokens" in response.json()["error"]["fields"]


def test_unknown_service_tier_is_priced_standard_and_kept(api):
    body = post(api, request_id="scale", model="gpt-4o-mini", service_tier="scale",
                usage={"prompt_tokens": 1000, "completion_tokens": 0})
    assert body["service_tier"] == "scale"
    assert body["cost_usd"] == "0.00015"


def test_unknown_unit_is_a_400_and_a_unit_without_a_rate_leaves_the_call_unpriced(api):
    response = api.post("/api/v1/usage", {"request_id": "u0", "model": "tts-1", "units": {"parsecs": 1}},
                        format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["units.parsecs"]
    # gpt-4o-mini has no per-image price: never a silent $0
    body = post(api, request_id="u1", model="gpt-4o-mini", units={"images": 2})
    assert body["priced"] is False


# --- provider-reported cost ---------------------------------------------------------------------


def test_provider_cost_is_kept_beside_list_cost_and_reconciled_by_model(api):
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "cost": 0.0048}
    body = post(api, request_id="or-1", model="claude-sonnet-4-5", usage=usage)
    assert body["list_cost_usd"] == "0.0045"
    assert body["provider_cost_usd"] == "0.0048"
    assert body["provider_cost_difference_usd"] == "0.0003"
    post(api, request_id="or-2", model="claude-sonnet-4-5", provider_cost_usd="0.0045",
         usage={"prompt_tokens": 1000, "completion_tokens": 100})
    post(api, request_id="plain", model="claude-sonnet-4-5", usage={"prompt_tokens": 1, "completion_tokens": 1})
    report = api.get("/api/v1/reports/reconciliation?period=7d").json()
    assert report["by_model"] == [{
        "model": "claude-sonnet-4-5", "requests": 2, "list_cost_usd": "0.009", "provider_cost_usd": "0.0093",
        "difference_usd": "0.0003", "difference_percent": "3.3333", "requests_differing": 1,
    }]
    assert report["difference_usd"] == "0.0003"


# --- price overrides ----------------------------------------------------------------------------


def test_override_bills_the_discount_and_reports_show_list_and_billed(api, user):
    start = timezone.now() - timedelta(days=1)
    PriceOverride.objects.create(user=user, multiplier=Decimal("0.8"), valid_from=start, note="EA 20% off")
    PriceOverride.objects.create(user=user, model="gpt-4o", multiplier=Decimal("1.1"), valid_from=start)
    budget = budget_create(by=None, user=user, scope=Budget.SCOPE_USER, period=Budget.PERIOD_MONTH,
                           limit_usd=Decimal("100"))
    mini = post(api, request_id="o1", model="gpt-4o-mini", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    big = post(api, request_id="o2", model="gpt-4o", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    assert (mini["list_cost_usd"], mini["cost_usd"]) == ("0.15", "0.12")
    assert (big["list_cost_usd"], big["cost_usd"]) == ("2.5", "2.75")  # the model's own override wins
    assert BudgetWindow.objects.get(budget=budget).spent_usd == Decimal("2.87")  # budgets charge the bill
    summary = api.get("/api/v1/reports/cost?period=7d").json()
    assert (summary["total_list_cost_usd"], summary["total_cost_usd"]) == ("2.65", "2.87")
    rows = api.get("/api/v1/reports/cost?period=7d&format=csv").content.decode().splitlines()
    assert rows[0].endswith(",list_cost_usd,unpriced_requests")


def test_override_is_not_applied_before_its_valid_from(api, user):
    PriceOverride.objects.create(user=user, multiplier=Decimal("0.5"), valid_from=timezone.now() + timedelta(days=1))
    body = post(api, request_id="early", model="gpt-4o-mini",
                usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    assert body["cost_usd"] == "0.15"


# --- unpriced usage -----------------------------------------------------------------------------


def test_unpriced_usage_is_alerted_once_per_model_and_day_and_counted(api, client, user):
    for i in range(3):
        body = post(api, request_id=f"n{i}", model="acme-nova", usage={"prompt_tokens": 10, "completion_tokens": 1})
        assert body["priced"] is False
    alerts = Alert.objects.filter(kind=Alert.KIND_UNPRICED_MODEL)
    assert alerts.count() == 1
    assert alerts.get().figures["model"] == "acme-nova"
    assert DailyUsage.objects.get(user=user, model="acme-nova").unpriced_requests == 3
    client.force_login(user)
    assert "3 unpriced" in client.get("/dashboard/").content.decode()


def test_import_prices_reprices_the_usage_waiting_for_it(api, tmp_path):
    post(api, request_id="w1", model="acme-nova", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"acme-nova": {"litellm_provider": "acme", "input_cost_per_token": 7e-07,
                                              "output_cost_per_token": 0}}))
    out = io.StringIO()
    call_command("import_prices", str(path), stdout=out)
    assert "Repriced 1 unpriced records." in out.getvalue()
    record = UsageRecord.objects.get(request_id="w1")
    assert (record.priced, record.cost_usd) == (True, Decimal("0.7"))
    assert RepriceAudit.objects.get().actor == "import_prices"


def test_reprice_command_fixes_a_wrong_price_for_a_date_range(api, user):
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    ModelPriceFactory(name="acme-1", input_per_million=Decimal("10"), output_per_million=Decimal("0"),
                      valid_from=datetime(2026, 1, 1, tzinfo=UTC))
    budget = budget_create(by=None, user=user, scope=Budget.SCOPE_USER, period=Budget.PERIOD_LIFETIME,
                           limit_usd=Decimal("1000"))
    for i, when in enumerate((day, day + timedelta(days=1), day + timedelta(days=20))):
        post(api, request_id=f"h{i}", model="acme-1", occurred_at=when.isoformat(),
             usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    # The $10 was wrong: $1 from the start of March. A new version, never an edit.
    ModelPriceFactory(name="acme-1", input_per_million=Decimal("1"), output_per_million=Decimal("0"),
                      valid_from=datetime(2026, 3, 1, tzinfo=UTC))
    out = io.StringIO()
    call_command("reprice_usage", "--from", "2026-03-10", "--to", "2026-03-11", "--reason", "typo in input price",
                 stdout=out)
    assert "Repriced 2 of 2 records" in out.getvalue()
    costs = dict(UsageRecord.objects.values_list("request_id", "cost_usd"))
    assert costs == {"h0": Decimal("1"), "h1": Decimal("1"), "h2": Decimal("10")}  # h2 outside the range
    assert DailyUsage.objects.get(user=user, day=day.date()).cost_usd == Decimal("1")
    assert BudgetWindow.objects.get(budget=budget).spent_usd == Decimal("12")
    audit = RepriceAudit.objects.get()
    assert (audit.reason, audit.records_changed, audit.cost_before_usd, audit.cost_after_usd) == (
        "typo in input price", 2, Decimal("20"), Decimal("2"))
    assert usage_reprice(start=day, end=day + timedelta(days=2), only_unpriced=False) == 0  # nothing twice


# --- admin --------------------------------------------------------------------------------------


def test_admin_catalog_prints_plain_prices_and_an_override_reprices_since_its_start(admin_client, api, user):
    page = admin_client.get("/admin/tokens/modelprice/?q=gpt-4").content.decode()
    assert '<td class="field-input">$30.00</td>' in page  # gpt-4: never 3E+1 nor 30.0000000000
    mini = admin_client.get("/admin/tokens/modelprice/?q=gpt-4o-mini").content.decode()
    assert '<td class="field-cache_read">$0.075</td>' in mini  # exact: a price is never rounded
    post(api, request_id="before-deal", model="gpt-4o-mini",
         usage={"prompt_tokens": 1_000_000, "completion_tokens": 0})
    response = admin_client.post("/admin/tokens/priceoverride/add/", {
        "user": user.pk, "model": "", "provider": "openai", "multiplier": "0.5",
        "valid_from_0": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d"), "valid_from_1": "00:00:00",
        "note": "launch deal",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    record = UsageRecord.objects.get(request_id="before-deal")
    assert (record.list_cost_usd, record.cost_usd) == (Decimal("0.15"), Decimal("0.075"))
    audit = RepriceAudit.objects.get()
    assert audit.actor == "admin" and audit.records_changed == 1
    assert admin_client.get("/admin/tokens/repriceaudit/").status_code == 200
    assert admin_client.get("/admin/tokens/repriceaudit/add/").status_code == 403
