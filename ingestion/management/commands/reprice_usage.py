"""Reprice stored usage of a date range at the catalog and overrides valid when each call occurred."""

from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.money import money_str
from ingestion.services import usage_reprice
from tokens.models import RepriceAudit


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{name} must be a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = (
        "After a wrong price was fixed (a new catalog version or override valid from the right time), "
        "price again every stored record of the UTC days --from..--to (inclusive). Rollups and budget "
        "windows follow; a RepriceAudit row records who, why, how many and the cost before and after."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first UTC day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last UTC day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--model", action="append", dest="models", help="only this model (repeatable)")
        parser.add_argument("--user", help="only this customer's records (username)")
        parser.add_argument("--reason", required=True, help="why: kept in the audit row")
        parser.add_argument("--actor", default="manage.py reprice_usage", help="who: kept in the audit row")

    def handle(self, *args, start, end, models, user, reason, actor, **options):
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise CommandError("--to must not be before --from.")
        user_id = None
        if user:
            found = get_user_model().objects.filter(username=user).first()
            if found is None:
                raise CommandError(f"No user {user!r}.")
            user_id = found.pk
        since = datetime.combine(first, time.min, tzinfo=UTC)
        until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
        try:
            count = usage_reprice(models=models, start=since, end=until, only_unpriced=False, user_id=user_id,
                                  actor=actor, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        audit = RepriceAudit.objects.order_by("-started_at", "-pk").first()
        self.stdout.write(
            f"Repriced {count} of {audit.records_seen} records from {first} to {last}: "
            f"billed cost {money_str(audit.cost_before_usd)} -> {money_str(audit.cost_after_usd)} USD "
            f"(audit #{audit.pk})."
        )
