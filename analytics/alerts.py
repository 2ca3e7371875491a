"""Raising alerts: once per condition and window, then notify.

``alert_raise`` inserts an Alert keyed by ``dedupe_key``; a second raise of the
same key is a no-op, so a threshold crossed by many concurrent requests alerts
once. Notifications (email, optional HMAC-signed webhook, live event) go out
after the transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.request
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from analytics.models import Alert
from tokens import events

logger = logging.getLogger(__name__)


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of the raw body, sent as X-Netra-Signature."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post_webhook(url: str, secret: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Netra-Signature": webhook_signature(secret, body)},
    )
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except Exception:
        logger.warning("alert webhook to %s failed", url, exc_info=True)


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "user": alert.user.get_username() if alert.user_id else None,
        "budget": alert.budget_id,
        "threshold": str(alert.threshold) if alert.threshold is not None else None,
        "percent_used": str(alert.percent_used) if alert.percent_used is not None else None,
        "message": alert.message,
        "figures": alert.figures,
        "window_start": alert.window_start.isoformat() if alert.window_start else None,
        "created_at": alert.created_at.isoformat() if alert.created_at else None,
    }


def alert_raise(
    *,
    kind: str,
    dedupe_key: str,
    message: str,
    user=None,
    severity: str = "warning",
    budget_id: int | None = None,
    window_start: datetime | None = None,
    threshold: Decimal | None = None,
    percent_used: Decimal | None = None,
    figures: dict[str, Any] | None = None,
    webhook_url: str = "",
    webhook_secret: str = "",
    live_event: dict[str, Any] | None = None,
) -> Alert | None:
    """Create the alert unless one with ``dedupe_key`` exists; returns it, or None."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind,
                dedupe_key=dedupe_key,
                message=message,
                user=user,
                severity=severity,
                budget_id=budget_id,
                window_start=window_start,
                threshold=threshold,
                percent_used=percent_used,
                figures=figures or {},
            )
    except IntegrityError:
        return None
    payload = alert_payload(alert)
    recipients = [user.email] if user is not None and user.email else []
    if recipients:
        transaction.on_commit(lambda: _send_email(recipients, alert.message, payload))
    if webhook_url:
        transaction.on_commit(
            lambda: (
                threading.Thread(
                    target=_post_webhook, args=(webhook_url, webhook_secret, payload), daemon=True
                ).start()
                if not settings.TESTING
                else _post_webhook(webhook_url, webhook_secret, payload)
            )
        )
    if user is not None and live_event is not None:
        events.publish(user.pk, "budget_alert", live_event)
    return alert


def _send_email(recipients: list[str], subject: str, payload: dict[str, Any]) -> None:
    try:
        send_mail(
            subject=f"[Netra] {subject}"[:200],
            message=json.dumps(payload, indent=2, default=str),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.warning("alert email failed", exc_info=True)
