"""Delivering alerts: the signed webhook and the email, as Celery tasks retried with backoff.

Queued by ``analytics.alerts.alert_raise`` after the alert's transaction
commits; eager (run at once, in-process) in the embedded default.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.request
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import send_mail

from analytics.models import Alert
from budgets.models import Budget
from core.money import money_str

logger = logging.getLogger(__name__)

# A webhook that does not answer within this many seconds is retried later.
WEBHOOK_TIMEOUT_SECONDS = 5


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of the raw body, sent as X-Netra-Signature."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_post(url: str, secret: str, payload: dict[str, Any]) -> None:
    """POST the alert as JSON, signed; raises on any failure (the task retries)."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Netra-Signature": webhook_signature(secret, body)},
    )
    urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS).close()


def alert_email_send(alert: Alert) -> None:
    """Mail the alert to its user; raises on failure (the task retries)."""
    send_mail(
        subject=f"[Netra] {alert.message}"[:200],
        message=json.dumps(alert_payload(alert), indent=2, default=str),
        from_email=None,
        recipient_list=[alert.user.email],
    )


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "severity": alert.severity,
        "user": alert.user.get_username() if alert.user_id else None,
        "budget": alert.budget_id,
        "threshold": money_str(alert.threshold),
        "percent_used": str(alert.percent_used) if alert.percent_used is not None else None,
        "message": alert.message,
        "figures": alert.figures,
        "window_start": alert.window_start.isoformat() if alert.window_start else None,
        "created_at": alert.created_at.isoformat() if alert.created_at else None,
    }


WEBHOOK_BUDGET = "budget"  # the budget's own webhook_url (threshold crossings)
WEBHOOK_SITE = "site"  # NETRA_ALERT_WEBHOOK_URL (the analytics rules)


def webhook_target(alert: Alert, target: str) -> tuple[str, str]:
    """(url, secret) of an alert's webhook; an empty url when there is none to call."""
    if target == WEBHOOK_SITE:
        return settings.NETRA_ALERT_WEBHOOK_URL, settings.NETRA_ALERT_WEBHOOK_SECRET
    budget = Budget.objects.filter(pk=alert.budget_id).first() if alert.budget_id else None
    return (budget.webhook_url, budget.webhook_secret) if budget is not None else ("", "")


# The receiver was down or slow (a 4xx is retried too: it may be a proxy in front of it).
DELIVERY_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, OSError, smtplib.SMTPException)
MAX_RETRIES = 6  # 5 s, 10 s, 20 s, ... up to 10 minutes apart, with jitter


def _retry(task, exc: Exception, what: str) -> None:
    """Retry later with exponential backoff; in the embedded default (eager) there is no later: log it."""
    if task.request.is_eager:
        logger.warning("%s failed and the embedded default has no worker to retry it: %s", what, exc)
        return
    countdown = get_exponential_backoff_interval(5, task.request.retries, maximum=600, full_jitter=True)
    raise task.retry(exc=exc, countdown=countdown)


@shared_task(bind=True, name="analytics.delivery.alert_webhook_deliver", ignore_result=True,
             max_retries=MAX_RETRIES)
def alert_webhook_deliver(self, alert_id: int, target: str) -> None:
    """POST one alert to its webhook (signed X-Netra-Signature)."""
    alert = Alert.objects.select_related("user").filter(pk=alert_id).first()
    if alert is None:
        return
    url, secret = webhook_target(alert, target)
    if not url:
        return
    try:
        webhook_post(url, secret, alert_payload(alert))
    except DELIVERY_ERRORS as exc:
        _retry(self, exc, f"webhook of alert {alert_id} to {url}")


@shared_task(bind=True, name="analytics.delivery.alert_email_deliver", ignore_result=True,
             max_retries=MAX_RETRIES)
def alert_email_deliver(self, alert_id: int) -> None:
    """Mail one alert to its user."""
    alert = Alert.objects.select_related("user").filter(pk=alert_id).first()
    if alert is None or not alert.user_id or not alert.user.email:
        return
    try:
        alert_email_send(alert)
    except DELIVERY_ERRORS as exc:
        _retry(self, exc, f"email of alert {alert_id}")
