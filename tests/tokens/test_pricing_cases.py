"""Every case of tests/pricing_cases.py, posted through the usage API, costs exactly what was worked out by hand."""

import pytest

from core.money import money_str
from tests.pricing_cases import CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_billed_exactly(api, case):
    response = api.post("/api/v1/usage", case.record(f"case-{case.name}"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["priced"] is True
    assert body["cost_usd"] == money_str(case.expected)
    assert body["list_cost_usd"] == body["cost_usd"]


def test_the_case_file_covers_every_provider_and_mode():
    assert {c.provider for c in CASES} >= {"openai", "anthropic", "gemini", "deepseek", "xai"}
    assert len(CASES) >= 30
