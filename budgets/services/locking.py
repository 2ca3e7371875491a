"""Window rows: created on demand and locked in one fixed order (see budgets/services/__init__.py)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from budgets.models import Budget, BudgetWindow
from core.db import insert_sql, rows_lock


def windows_lock(keys: set[tuple[int, datetime]]) -> dict[tuple[int, datetime], BudgetWindow]:
    """Create missing window rows, then lock them in (budget, window start) order, budgets read fresh.

    A key whose budget no longer exists is left out (the window is created
    with INSERT ... SELECT, so a deleted budget never breaks the transaction).
    """
    if not keys:
        return {}

    def fetch() -> dict[tuple[int, datetime], BudgetWindow]:
        rows = rows_lock(
            BudgetWindow.objects.filter(budget_id__in={k[0] for k in keys}, window_start__in={k[1] for k in keys})
            .select_related("budget"),
            order_by=("budget_id", "window_start"),
        )
        return {(w.budget_id, w.window_start): w for w in rows if (w.budget_id, w.window_start) in keys}

    found = fetch()
    if len(found) < len(keys):
        windows_create({k for k in keys if k not in found})
        found = fetch()
    return found


def windows_create(keys: set[tuple[int, datetime]]) -> None:
    q = connection.ops.quote_name
    # INSERT ... SELECT: a budget deleted meanwhile yields no row instead of a broken foreign key.
    sql = insert_sql(
        BudgetWindow, ("budget_id", "window_start", "spent_tokens", "spent_usd"),
        f"SELECT id, %s, 0, 0 FROM {q(Budget._meta.db_table)} WHERE id = %s",
        conflict=("budget_id", "window_start"),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(connection.ops.adapt_datetimefield_value(start), budget_id)
                                 for budget_id, start in sorted(keys)])
