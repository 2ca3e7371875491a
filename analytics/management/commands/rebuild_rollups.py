"""Recompute the DailyUsage rollup of a range of UTC days from the usage ledger."""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.rollups import daily_usage_rebuild


class Command(BaseCommand):
    help = "Rebuild DailyUsage for --start..--end (UTC days, inclusive; default the last 90 days)."

    def add_arguments(self, parser):
        parser.add_argument("--start", type=date.fromisoformat)
        parser.add_argument("--end", type=date.fromisoformat)
        parser.add_argument("--user", help="Only this username.")

    def handle(self, *args, start=None, end=None, user=None, **options):
        end = end or timezone.now().date()
        start = start or end - timedelta(days=89)
        if start > end:
            raise CommandError("--start is after --end")
        who = None
        if user:
            who = get_user_model().objects.filter(username=user).first()
            if who is None:
                raise CommandError(f"Unknown user {user!r}")
        rows = daily_usage_rebuild(start=start, end=end, user=who)
        self.stdout.write(f"Rebuilt {rows} rollup rows for {start}..{end}.")
