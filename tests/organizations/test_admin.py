"""Staff manage organizations, scoped budgets, keys with limits and user rate limits in Django admin."""

from __future__ import annotations

from budgets.models import UserRateLimit
from budgets.services import budget_create
from tokens.models import ApiKey


def test_admin_lists_scoped_budgets_by_label_and_creates_limited_keys(admin_client, world):
    budget_create(by=None, scope="tag", organization=world.acme, tag="ads", limit_tokens=5)
    budget_create(by=None, scope="project", project=world.web, limit_tokens=5, name="Web cap")
    page = admin_client.get("/admin/budgets/budget/").content.decode()
    assert "Tag ads" in page and "Web cap" in page and "Acme" in page
    response = admin_client.post("/admin/tokens/apikey/add/", {
        "user": world.dave.pk, "name": "from-admin", "project": world.web.pk, "rpm_limit": "7", "tpm_limit": "",
    })
    assert response.status_code == 302
    key = ApiKey.objects.get(name="from-admin")
    assert (key.project, key.rpm_limit, key.tpm_limit) == (world.web, 7, None)
    assert admin_client.get(f"/admin/organizations/organization/{world.acme.pk}/change/").status_code == 200
    response = admin_client.post("/admin/budgets/userratelimit/add/", {"user": world.dave.pk, "rpm_limit": "3",
                                                                       "tpm_limit": ""})
    assert response.status_code == 302
    assert UserRateLimit.objects.get(user=world.dave).rpm_limit == 3
