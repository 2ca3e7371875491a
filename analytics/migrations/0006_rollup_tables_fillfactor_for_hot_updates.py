"""Rollup tables keep 30% of each page free on PostgreSQL, so the online upsert's counter updates are HOT
updates (the new row version on the same page, no new index entries): a 500-record batch's rollup step
took about a third less (docs/benchmarks.md). Affects pages written from now on; ``VACUUM FULL`` applies it
to existing ones."""

from django.db import migrations

TABLES = ("analytics_dailyusage", "analytics_userdailyusage", "analytics_runusage", "analytics_techniquedailyusage")


def _fillfactor(value: int):
    def apply(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("analytics", "0005_run_and_technique_rollups_organization")]

    operations = [migrations.RunPython(_fillfactor(70), _fillfactor(100))]
