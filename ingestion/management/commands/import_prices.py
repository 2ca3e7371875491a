"""Import a LiteLLM-format price map into the versioned catalog, then price the usage waiting for it."""

import json
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from ingestion.services import usage_reprice
from tokens.selectors import unpriced_models
from tokens.services import prices_import

DEFAULT_CATALOG = Path(settings.BASE_DIR) / "tokens" / "data" / "default_catalog.json"


class Command(BaseCommand):
    help = (
        "Import a LiteLLM price map (USD per token). Re-importing the same file changes nothing; "
        "a changed price adds a new version and never rewrites an old one. Usage stored unpriced "
        "is priced once the catalog knows its model."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(DEFAULT_CATALOG),
                            help="price map JSON (default: the shipped catalog)")
        parser.add_argument("--valid-from", help="ISO datetime new versions take effect (default: now)")
        parser.add_argument("--provider", action="append", dest="providers",
                            help="only this litellm_provider (repeatable)")
        parser.add_argument("--mode", action="append", dest="modes",
                            help="only this mode, e.g. chat (repeatable; default: every mode)")
        parser.add_argument("--no-reprice", action="store_true", help="leave unpriced usage unpriced")

    def handle(self, *args, file, valid_from, providers, modes, no_reprice, **options):
        path = Path(file)
        if not path.exists():
            raise CommandError(f"No such file: {file}")
        try:
            data = json.loads(path.read_text(), parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from exc
        when = None
        if valid_from:
            when = parse_datetime(valid_from)
            if when is None or when.tzinfo is None:
                raise CommandError("--valid-from must be an ISO datetime with a timezone.")
        result = prices_import(data=data, valid_from=when, providers=providers, modes=modes,
                               source=path.name)
        self.stdout.write(
            f"Imported {path.name}: {result.created} new price versions, {result.unchanged} unchanged."
        )
        if no_reprice:
            return
        waiting = [row["model"] for row in unpriced_models()]
        if waiting:
            count = usage_reprice(models=waiting, actor="import_prices", reason=f"import of {path.name}")
            self.stdout.write(f"Repriced {count} unpriced records.")
