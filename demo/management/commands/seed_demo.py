"""Create the demo users and their month of usage, and print the demo logins."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.organizations import demo_org_budgets_ensure, demo_organizations_ensure
from demo.services import DEMO_USERS, demo_budgets_ensure, demo_usage_generate, demo_users_ensure


class Command(BaseCommand):
    help = "Demo data for a first start: admin (staff) and two customers with a month of usage."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help=("allow in production "
                                  "(DEBUG=False with a DATABASE_URL)"))

    def handle(self, *args, force, **options):
        if not (settings.DEBUG or settings.EMBEDDED) and not force:
            raise CommandError(
                "Refusing to create demo users in production (DEBUG=False with a DATABASE_URL; pass --force)."
            )
        creds = demo_users_ensure()
        keys = demo_organizations_ensure()
        for username, staff in DEMO_USERS:
            if not staff:
                created = demo_usage_generate(username=username, api_keys=keys.get(username))
                if created:
                    self.stdout.write(f"Generated {created} demo usage records for {username}.")
        if demo_budgets_ensure():
            self.stdout.write("Created demo budgets for alice and bob (see /admin/budgets/budget/).")
        if demo_org_budgets_ensure():
            self.stdout.write("Created organizations Acme Robotics (alice owns it, bob is a member) and Globex Labs "
                              "(bob), with projects, rate-limited keys and budgets (see /organizations/ and /keys/).")
        self.stdout.write("Demo logins (random per install, kept in .demo_credentials):")
        for username, staff in DEMO_USERS:
            role = "staff admin" if staff else "customer"
            self.stdout.write(f"  {username:<6} {creds.get(username, '(password set elsewhere)')}   ({role})")
