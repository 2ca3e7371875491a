"""HTTP with the standard library: JSON in and out, retries with backoff, errors mapped
to exceptions. No third-party dependency, so the SDK installs anywhere an agent runs."""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from netra_client.errors import (
    AuthError,
    ConnectionFailed,
    NetraError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)

logger = logging.getLogger("netra_client")

USER_AGENT = "netra-client/0.1"

# Retry policies. "always": the request is idempotent (GETs, usage keyed by request_id).
# "connect": only when the request surely never reached the server (connection refused),
# for writes a second delivery would repeat (a budget reservation).
ALWAYS = "always"
CONNECT_ONLY = "connect"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error_for(status: int, body: Any) -> NetraError:
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    message = err.get("message") or f"HTTP {status}"
    code = err.get("code") or "error"
    fields = err.get("fields") or {}
    if status in (401, 403):
        klass: type[NetraError] = AuthError
    elif status == 404:
        klass = NotFoundError
    elif status == 429:
        klass = RateLimitedError
    elif status >= 500:
        klass = ServerError
    elif status in (400, 409, 413, 415, 422):
        klass = ValidationError
    else:
        klass = NetraError
    return klass(message, status=status, code=code, fields=fields, body=body)


class Transport:
    """One base URL and key; ``request`` returns ``(status, json)`` or raises a NetraError."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 4.0,
    ) -> None:
        base = base_url.rstrip("/")
        for suffix in ("/api/v1", "/api"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self.base_url = base
        self.api_key = api_key
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Whether the server answers, for callers deciding whether to ask at all: when the
        # current outage began (None while it answers), when the last request failed, and
        # whether that was a refused connection (cheap to try again) or a timeout, 5xx or 429.
        self.down_since: float | None = None
        self.failed_at = 0.0
        self.failed_fast = False

    def url(self, path: str, params: dict | None = None) -> str:
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            if clean:
                url += "?" + urllib.parse.urlencode(clean)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict | None = None,
        retry: str = ALWAYS,
        retries: int | None = None,
    ) -> tuple[int, Any]:
        attempts = 1 + (self.retries if retries is None else max(0, retries))
        data = None if body is None else json.dumps(body, default=_json_default).encode()
        url = self.url(path, params)
        last: NetraError | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self._delay(attempt, last))
            try:
                answer = self._once(method, url, data)
            except NetraError as exc:
                last = exc
                if not self._retryable(exc, retry):
                    self._note(exc)
                    raise
                logger.debug("netra %s %s failed (attempt %d/%d): %s", method, path, attempt + 1, attempts,
                             exc)
            else:
                self._note(None)
                return answer
        assert last is not None
        self._note(last)
        raise last

    def _note(self, error: NetraError | None) -> None:
        """Keep the outcome of a request: any answer but a 5xx or a 429 means the server answers."""
        if not isinstance(error, (ConnectionFailed, ServerError, RateLimitedError)):
            self.down_since = None
            return
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        self.failed_at = now
        self.failed_fast = bool(getattr(error, "refused", False))

    def _delay(self, attempt: int, last: NetraError | None) -> float:
        retry_after = getattr(last, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_backoff)
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base * (0.5 + random.random() / 2)  # jitter spreads a fleet of agents apart

    @staticmethod
    def _retryable(exc: NetraError, policy: str) -> bool:
        if isinstance(exc, ConnectionFailed):
            return policy == ALWAYS or getattr(exc, "refused", False)
        if isinstance(exc, (ServerError, RateLimitedError)):
            return policy == ALWAYS or exc.status == 429
        return False

    def _once(self, method: str, url: str, data: bytes | None) -> tuple[int, Any]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, self._decode(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                payload = self._decode(exc.read())
            except Exception:
                payload = None
            error = _error_for(exc.code, payload)
            if exc.code == 429:
                try:
                    error.retry_after = float(exc.headers.get("Retry-After"))  # type: ignore[attr-defined]
                except (TypeError, ValueError):
                    pass
            raise error from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            error = ConnectionFailed(f"Cannot reach {self.base_url}: {reason}", code="connection_failed")
            error.refused = isinstance(reason, ConnectionRefusedError)  # type: ignore[attr-defined]
            raise error from None
        except (http.client.HTTPException, OSError) as exc:  # resets, timeouts, refusals
            error = ConnectionFailed(f"Connection to {self.base_url} failed: {exc!r}",
                                     code="connection_failed")
            error.refused = isinstance(exc, ConnectionRefusedError)  # type: ignore[attr-defined]
            raise error from None

    @staticmethod
    def _decode(raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"text": raw.decode("utf-8", "replace")}
