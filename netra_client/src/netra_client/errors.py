"""Exceptions raised by the Netra client. All derive from NetraError."""

from __future__ import annotations

from typing import Any


class NetraError(Exception):
    """An error answered by the server or met on the way to it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        fields: dict[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields or {}
        self.body = body

    def __str__(self) -> str:
        prefix = f"[{self.status} {self.code}] " if self.status else ""
        return f"{prefix}{self.message}"


class AuthError(NetraError):
    """401 or 403: a missing, invalid or revoked key, or an action the key may not take."""


class ValidationError(NetraError):
    """400 or 422: the server rejected the input; ``fields`` holds its per-field messages."""


class NotFoundError(NetraError):
    """404: the resource (or, on an older server, the endpoint) does not exist."""


class RateLimitedError(NetraError):
    """429 after every retry."""


class ServerError(NetraError):
    """5xx after every retry."""


class ConnectionFailed(NetraError):
    """The server could not be reached (refused, reset, timed out) after every retry."""


class BudgetExceeded(NetraError):
    """A hard budget says no: the call was not made.

    ``check`` is the server's full answer (a ``BudgetCheck``) with every budget that applies.
    """

    def __init__(self, message: str, *, check: Any = None) -> None:
        super().__init__(message, code="budget_exceeded")
        self.check = check

    @property
    def reason(self) -> str:
        return getattr(self.check, "reason", "") or self.message

    @property
    def budgets(self) -> list[dict]:
        return list(getattr(self.check, "budgets", []) or [])
