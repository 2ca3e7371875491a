"""import_prices: idempotent, versioned, never rewrites history."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tokens.models import ModelPrice
from tokens.pricing import catalog

MAP = {
    "sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "x"},
    "acme-large": {"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": 3e-06,
                   "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3e-07,
                   "max_input_tokens": 200000, "max_output_tokens": 8192},
    "acme/acme-small": {"litellm_provider": "acme", "mode": "chat", "input_cost_per_token": 1e-07,
                        "output_cost_per_token": 4e-07},
    "acme-embed": {"litellm_provider": "acme", "mode": "embedding", "input_cost_per_token": 1e-08,
                   "output_cost_per_token": 0},
}


@pytest.fixture
def price_file(tmp_path):
    def write(data):
        path = tmp_path / "prices.json"
        path.write_text(json.dumps(data))
        return str(path)
    return write


def run(*args):
    out = StringIO()
    call_command("import_prices", *args, stdout=out)
    return out.getvalue().strip()


def test_import_then_reimport_changes_nothing(db, price_file):
    path = price_file(MAP)
    assert run(path) == "Imported prices.json: 3 new price versions, 0 unchanged."
    assert run(path) == "Imported prices.json: 0 new price versions, 3 unchanged."
    large = ModelPrice.objects.get(name="acme-large")
    assert large.input_per_million == Decimal("3")
    assert large.cache_read_per_million == Decimal("0.3")
    assert large.context_window == 200000
    # provider prefix stripped from the name and kept as an alias
    small = ModelPrice.objects.get(name="acme-small")
    assert "acme/acme-small" in small.aliases


def test_changed_price_adds_a_version_and_keeps_the_old(db, price_file):
    run(price_file(MAP))
    first = ModelPrice.objects.get(name="acme-large")
    changed = json.loads(json.dumps(MAP))
    changed["acme-large"]["output_cost_per_token"] = 1.2e-05
    when = timezone.now() + timedelta(days=1)
    assert run(price_file(changed), "--valid-from", when.isoformat()) == (
        "Imported prices.json: 1 new price versions, 2 unchanged."
    )
    versions = list(ModelPrice.objects.filter(name="acme-large").order_by("valid_from"))
    assert [v.output_per_million for v in versions] == [Decimal("15"), Decimal("12")]
    assert versions[0].pk == first.pk and versions[0].valid_from == first.valid_from
    assert catalog.resolve("acme-large", timezone.now()).output_per_million == Decimal("15")
    assert catalog.resolve("acme-large", when + timedelta(seconds=1)).output_per_million == Decimal("12")


def test_filters_by_provider_and_mode(db, price_file):
    assert run(price_file(MAP), "--mode", "chat") == "Imported prices.json: 2 new price versions, 0 unchanged."


def test_bad_files_are_clear_errors(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(CommandError, match="not valid JSON"):
        run(str(broken))


def test_default_catalog_import_is_idempotent(db):
    assert run() == "Imported default_catalog.json: 406 new price versions, 0 unchanged."
    assert run() == "Imported default_catalog.json: 0 new price versions, 406 unchanged."
