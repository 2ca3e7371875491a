"""Admin building blocks shared by the apps (this module registers nothing)."""

from __future__ import annotations


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
