"""Upstream provider settings per organization: base URL and API key (the key stored encrypted)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from organizations.models import Organization


class ProviderCredential(models.Model):
    """An organization's upstream for one provider; blank fields fall back to the environment defaults."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    PROVIDERS = [(OPENAI, "OpenAI"), (ANTHROPIC, "Anthropic")]

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="provider_credentials")
    provider = models.CharField(max_length=16, choices=PROVIDERS)
    base_url = models.URLField(
        max_length=300, blank=True, default="",
        help_text="Blank: the environment default (NETRA_OPENAI_BASE_URL / NETRA_ANTHROPIC_BASE_URL).",
    )
    # Fernet token of the key (gateway.crypto); the key itself is never shown again.
    api_key_sealed = models.TextField(blank=True, default="")
    api_key_hint = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "provider"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "provider"], name="providercredential_org_provider_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} / {self.provider}"
