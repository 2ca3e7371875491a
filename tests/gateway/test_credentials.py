"""Provider credentials in admin: written once, stored encrypted, never shown again."""

from __future__ import annotations

import openai
import pytest
from cryptography.fernet import Fernet
from django.test import Client

from gateway.crypto import seal, unseal
from gateway.models import ProviderCredential
from gateway.selectors import upstream_for
from organizations.models import Membership, Organization

RAW = "sk-org-secret-abcdefgh-9876"


@pytest.fixture
def org(db, user):
    org = Organization.objects.create(name="Acme", slug="acme")
    Membership.objects.create(organization=org, user=user, role="owner")
    return org


@pytest.fixture
def admin_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_admin_stores_the_key_encrypted_and_never_shows_it(admin_client, org, settings):
    response = admin_client.post("/admin/gateway/providercredential/add/", {
        "organization": org.pk, "provider": "openai", "base_url": "http://127.0.0.1:8999/v1", "api_key": RAW})
    assert response.status_code == 302
    credential = ProviderCredential.objects.get()
    assert RAW not in credential.api_key_sealed and unseal(credential.api_key_sealed) == RAW
    assert credential.api_key_hint == "…9876"
    page = admin_client.get(f"/admin/gateway/providercredential/{credential.pk}/change/").content.decode()
    listing = admin_client.get("/admin/gateway/providercredential/").content.decode()
    assert RAW not in page and RAW not in listing and "…9876" in page
    # Saving without a key keeps the stored one.
    admin_client.post(f"/admin/gateway/providercredential/{credential.pk}/change/", {
        "organization": org.pk, "provider": "openai", "base_url": "", "api_key": ""})
    credential.refresh_from_db()
    assert unseal(credential.api_key_sealed) == RAW and credential.base_url == ""
    assert upstream_for(organization=org, provider="openai").api_key == RAW
    assert upstream_for(organization=org, provider="openai").base_url == settings.NETRA_OPENAI_BASE_URL


def test_without_an_encryption_key_production_refuses_to_store_one(admin_client, org, settings):
    settings.NETRA_GATEWAY_ENCRYPTION_KEY, settings.DEBUG = "", False
    response = admin_client.post("/admin/gateway/providercredential/add/", {
        "organization": org.pk, "provider": "anthropic", "base_url": "", "api_key": RAW})
    assert response.status_code == 200
    assert "Set NETRA_GATEWAY_ENCRYPTION_KEY" in response.content.decode()
    assert ProviderCredential.objects.count() == 0


def test_rotation_new_key_first_old_keys_still_decrypt(settings):
    old = settings.NETRA_GATEWAY_ENCRYPTION_KEY
    sealed = seal(RAW)
    settings.NETRA_GATEWAY_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old}"
    assert unseal(sealed) == RAW


def test_a_key_no_configured_key_opens_is_a_503_in_provider_shape(oai, org, settings):
    ProviderCredential.objects.create(organization=org, provider="openai", api_key_sealed=seal(RAW))
    settings.NETRA_GATEWAY_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(openai.APIStatusError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert (caught.value.status_code, caught.value.body["code"]) == (503, "provider_key_unreadable")


def test_no_provider_key_anywhere_is_a_503_that_says_where_to_set_one(oai, settings):
    settings.NETRA_OPENAI_API_KEY = ""
    with pytest.raises(openai.APIStatusError) as caught:
        oai.embeddings.create(model="text-embedding-3-small", input="x")
    assert caught.value.status_code == 503
    assert "NETRA_OPENAI_API_KEY" in caught.value.body["message"]
