"""Create an API key and print the raw key (shown once) as the last line."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tokens.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for USERNAME. The raw key is printed once, as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--service", action="store_true", help="the key may act for any user")
        parser.add_argument("--create-user", action="store_true", help="create the user if missing")
        parser.add_argument("--name", default="default")

    def handle(self, *args, username, service, create_user, name, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(f"No user {username!r} (pass --create-user to create one).")
            user = User.objects.create_user(username=username)
            self.stdout.write(f"Created user {username} (no password: it can use API keys only).")
        key, raw = api_key_create(user=user, name=name, is_service=service)
        kind = "service key" if service else "key"
        self.stdout.write(f"Created {kind} {key.key_prefix}… named {name!r} for {username}.")
        self.stdout.write(raw)
