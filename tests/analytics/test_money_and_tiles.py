"""One money rule everywhere, the cache tiles telling one story, and charts with a "no data" state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.templatetags.netra_format import usd
from analytics.views import cache_figures
from core.money import dollars, dollars_over, price_str
from optimization.models import SavingsRecord
from tests.analytics.conftest import post_usage, today_at


@pytest.mark.parametrize("amount, shown", [
    (None, "–"), (Decimal(0), "$0.00"), (Decimal("0.85271"), "$0.8527"), (Decimal("0.85"), "$0.8500"),
    (Decimal("0.00004"), "<$0.0001"), (Decimal("0.99996"), "$1.00"), (Decimal(1), "$1.00"),
    (Decimal("1234.565"), "$1,234.57"), (Decimal("-0.5"), "-$0.5000"), (Decimal("-12"), "-$12.00"),
])
def test_one_money_rule(amount, shown):
    assert dollars(amount) == shown
    assert usd(amount) == shown  # the template filter is the same rule


def test_overruns_round_up_and_prices_stay_exact():
    assert dollars_over(Decimal("0.00001")) == "$0.0001"
    assert dollars_over(Decimal("1.001")) == "$1.01"
    assert [price_str(Decimal(v)) for v in ("30", "0.075", "2.5", "1250")] == ["$30.00", "$0.075", "$2.50",
                                                                                "$1,250.00"]


def test_cache_tiles_count_the_same_hits():
    figures = cache_figures(totals={"requests": 90, "cache_hits": 20}, netra_cache_events=10)
    assert figures == {"requests": 100, "hits": 30, "netra_hits": 10, "call_hits": 20, "rate": Decimal("0.3")}
    assert cache_figures(totals={"requests": 0, "cache_hits": 0}, netra_cache_events=0)["rate"] is None


@pytest.mark.django_db
def test_dashboard_cache_tiles_and_no_data_states(client, user, acme):
    client.force_login(user)
    empty = client.get("/dashboard/").content.decode()
    assert empty.count('<div class="chart-empty">No spend in this period.</div>') == 2
    assert '<div class="chart-empty">No tokens in this period.</div>' in empty
    assert 'id="chart-daily"' not in empty
    post_usage(user, occurred_at=today_at(0), count=3)
    post_usage(user, occurred_at=today_at(0), cache_hit=True)  # the agent's own cache answered
    SavingsRecord.objects.create(user=user, source="cache", technique="response_cache", original_tokens=1100,
                                 optimized_tokens=0, tokens_saved=1100, usd_saved=Decimal("0.013"))
    page = client.get("/dashboard/").content.decode()
    assert 'id="chart-daily"' in page and "chart-empty" not in page
    # 5 requests: 4 calls plus the response Netra's cache answered; 2 hits: that one and the prompt-cache read.
    assert '<div class="value">40.0%</div><div class="sub">2 of 5: 1 Netra · 1 in calls</div>' in page
    assert '<div class="value">$0.0130</div><div class="sub">1 response from Netra\'s cache</div>' in page
