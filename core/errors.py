"""Domain errors: what services raise. No HTTP here; core.api.errors maps them to the JSON shape once.

Each error carries a stable ``code`` (the API's ``error.code``), a message and
optional per-field errors. Admin forms and management commands catch the same
classes and show the message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}


class InvalidInput(DomainError):
    """The caller sent something the service refuses (a field error, an unknown user, a bad plan)."""


class PermissionDenied(DomainError):
    """The caller may not do this (a customer key acting for someone else, managing budgets)."""

    default_code = "permission_denied"


class NotFound(DomainError):
    """No such object for this caller (another user's objects are reported the same way)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The object is in a state that does not allow this (a committed reservation released)."""

    default_code = "conflict"


class Unprocessable(DomainError):
    """The input is well formed but cannot be satisfied (a history that fits no window)."""

    default_code = "unprocessable"


class Busy(DomainError):
    """The work could not be done now for contention (locks kept conflicting); the same request may be sent again."""

    default_code = "busy"
