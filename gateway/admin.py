"""Provider credentials per organization: the key is written once, stored encrypted, never shown again."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.errors import DomainError
from gateway.crypto import seal
from gateway.models import ProviderCredential
from gateway.services import provider_credential_save


class ProviderCredentialForm(forms.ModelForm):
    base_url = forms.URLField(required=False, max_length=300, assume_scheme="https",
                              help_text=ProviderCredential._meta.get_field("base_url").help_text)
    api_key = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted (NETRA_GATEWAY_ENCRYPTION_KEY) and never shown again. Leave blank to keep "
                  "the stored key (or, for a new entry, to use the environment default).",
    )

    class Meta:
        model = ProviderCredential
        fields = ["organization", "provider", "base_url"]

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key") or ""
        if value and (len(value) > 1000 or value != value.strip()):
            raise forms.ValidationError("At most 1000 characters, without surrounding spaces.")
        if value:
            try:
                seal(value)  # the encryption key is configured and valid: else say so here, not on save
            except DomainError as exc:
                raise forms.ValidationError(exc.message)
        return value


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin):
    form = ProviderCredentialForm
    list_display = ["organization", "provider", "base_url_shown", "api_key_hint", "updated_at"]
    list_filter = ["provider"]
    list_select_related = ["organization"]
    search_fields = ["organization__name", "organization__slug"]
    readonly_fields = ["api_key_hint", "updated_at"]
    fields = ["organization", "provider", "base_url", "api_key", "api_key_hint", "updated_at"]

    @admin.display(description="base URL")
    def base_url_shown(self, obj: ProviderCredential) -> str:
        return obj.base_url or "(environment default)"

    def save_model(self, request, obj, form, change) -> None:
        provider_credential_save(credential=obj, api_key=form.cleaned_data.get("api_key"))
