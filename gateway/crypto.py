"""Provider keys at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from the environment.

``NETRA_GATEWAY_ENCRYPTION_KEY`` holds one or more Fernet keys, comma-separated: the first
encrypts, all of them decrypt (rotation: put the new key first, re-save, drop the old one).
Without it the embedded default (DEBUG) derives a key from SECRET_KEY; production refuses
to store a provider key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from core.errors import InvalidInput, Unprocessable


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.NETRA_GATEWAY_ENCRYPTION_KEY.split(",") if k.strip()]
    if not configured:
        if not settings.DEBUG:
            raise Unprocessable("Set NETRA_GATEWAY_ENCRYPTION_KEY (a Fernet key) to store provider keys.",
                                code="encryption_key_missing")
        digest = hashlib.sha256(b"netra-gateway:" + settings.SECRET_KEY.encode()).digest()
        configured = [base64.urlsafe_b64encode(digest).decode()]
    try:
        return MultiFernet([Fernet(k.encode()) for k in configured])
    except ValueError:
        raise Unprocessable("NETRA_GATEWAY_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes each).",
                            code="encryption_key_invalid")


def seal(secret: str) -> str:
    """The encrypted form of ``secret`` to store."""
    return _fernet().encrypt(secret.encode()).decode()


def unseal(token: str) -> str:
    """The stored secret; a token no configured key opens is an error that says so."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise InvalidInput("A stored provider key cannot be decrypted with NETRA_GATEWAY_ENCRYPTION_KEY; "
                           "enter it again in admin.", code="provider_key_unreadable")


def hint(secret: str) -> str:
    """What admin shows of a key: its last four characters."""
    return f"…{secret[-4:]}" if len(secret) > 8 else "…"
