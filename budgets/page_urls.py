"""Server-rendered pages of the budgets layer: API keys with their rate limits, organizations."""

from django.urls import path

from budgets import pages

urlpatterns = [
    path("keys/", pages.keys_page, name="keys-page"),
    path("keys/<id:key_id>/revoke", pages.key_revoke, name="key-revoke"),
    path("organizations/", pages.organizations_page, name="organizations-page"),
    path("organizations/<id:organization_id>/action", pages.organization_action, name="organization-action"),
]
