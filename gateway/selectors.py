"""Reads: where an organization's calls to a provider go, and with which key."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from gateway.crypto import unseal
from gateway.models import ProviderCredential
from gateway.providers import ANTHROPIC


@dataclass(frozen=True)
class Upstream:
    """A provider's base URL and the key the gateway calls it with (never shown to the caller)."""

    base_url: str
    api_key: str


def upstream_for(*, organization, provider: str) -> Upstream:
    """The organization's own base URL and key for ``provider``, each falling back to the environment's."""
    if provider == ANTHROPIC:
        base_url, api_key = settings.NETRA_ANTHROPIC_BASE_URL, settings.NETRA_ANTHROPIC_API_KEY
    else:
        base_url, api_key = settings.NETRA_OPENAI_BASE_URL, settings.NETRA_OPENAI_API_KEY
    if organization is not None:
        own = ProviderCredential.objects.filter(organization=organization, provider=provider).first()
        if own is not None:
            base_url = own.base_url or base_url
            api_key = unseal(own.api_key_sealed) if own.api_key_sealed else api_key
    return Upstream(base_url=base_url.rstrip("/"), api_key=api_key)
