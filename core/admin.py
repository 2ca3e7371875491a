"""Admin building blocks shared by the apps (this module registers nothing)."""

from __future__ import annotations

from django.utils.html import format_html

from core.money import dollars, money_str


class ViewOnlyAdminMixin:
    """Rows that services write, never people: the admin lists and shows them, nothing more."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class LedgerAdminMixin(ViewOnlyAdminMixin):
    """An insert-only ledger or audit trail: not even deleted by hand."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def admin_money(value) -> str:
    """Money in an admin column: the one rule (``dollars``), the exact amount on hover."""
    return format_html('<span title="{} USD">{}</span>', money_str(value) or "-", dollars(value))
