"""Database helpers: time-ordered ids, the one upsert builder, and ordered row locks."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models, router

# Rows per VALUES statement: far under SQLite's 32,766 bound parameters for any model here.
UPSERT_CHUNK = 200


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7) so ledger inserts stay index-local."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def connection_for(model: type[models.Model]):
    return connections[router.db_for_write(model)]


def insert_sql(
    model: type[models.Model],
    columns: Sequence[str],
    source: str,
    *,
    conflict: Sequence[str] = (),
    add: Sequence[str] = (),
    keep: Mapping[str, str] | None = None,
    returning: Sequence[str] = (),
) -> str:
    """``INSERT INTO <model's table> (columns) <source> [ON CONFLICT (conflict) DO ...] [RETURNING ...]``.

    ``source`` is a ``VALUES ...`` list or a ``SELECT``. With ``conflict``, a
    row whose key exists either adds its ``add`` columns to the stored ones
    (``c = c + EXCLUDED.c``: counters change atomically, never read-modify-save)
    or, with no ``add``, is skipped. ``keep`` maps other columns to how a conflict sets them:
    ``least`` or ``greatest`` of the stored and new value, or ``first`` (the stored one unless
    null). The one builder for every upsert in the
    project; PostgreSQL and SQLite (3.24+) both speak it.
    """
    connection = connection_for(model)
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) {source}"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(q(c) for c in conflict)}) DO "
        sets = [f"{q(c)} = {table}.{q(c)} + EXCLUDED.{q(c)}" for c in add]
        if add and keep:
            # SQLite's two-argument min() and max() are PostgreSQL's LEAST and GREATEST.
            pg = connection.vendor == "postgresql"
            functions = {"least": "LEAST" if pg else "MIN", "greatest": "GREATEST" if pg else "MAX",
                         "first": "COALESCE"}
            sets += [f"{q(c)} = {functions[how]}({table}.{q(c)}, EXCLUDED.{q(c)})" for c, how in keep.items()]
        sql += ("UPDATE SET " + ", ".join(sets)) if add else "NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(q(c) for c in returning)
    return sql


def counters_add(
    model: type[models.Model], rows: Mapping[tuple, Mapping[str, Any]], *, key: Sequence[str],
    counters: Sequence[str],
) -> None:
    """Add ``counters`` to the rows of ``model`` keyed by ``key``, creating missing rows.

    Keys are written in sorted order, so concurrent writers take row locks in
    the same order and never deadlock on each other.
    """
    if not rows:
        return
    connection = connection_for(model)
    columns = (*key, *counters)
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    items = sorted(rows.items(), key=lambda kv: kv[0])
    with connection.cursor() as cursor:
        for start in range(0, len(items), UPSERT_CHUNK):
            chunk = items[start : start + UPSERT_CHUNK]
            params: list[Any] = []
            for row_key, values in chunk:
                params.extend(row_key)
                params.extend(values[c] for c in counters)
            source = "VALUES " + ", ".join([placeholder] * len(chunk))
            cursor.execute(insert_sql(model, columns, source, conflict=key, add=counters), params)


def rows_lock(queryset: models.QuerySet, *, order_by: Sequence[str] = ("pk",)) -> list[models.Model]:
    """Lock the queryset's rows in one fixed order (primary key by default), so two lockers never deadlock."""
    return list(queryset.order_by(*order_by).select_for_update(of=("self",)))


# SQLSTATEs of a transaction the database aborted so that another could go on: running it again is safe.
RETRYABLE_SQLSTATES = {"40P01": "deadlock detected", "40001": "serialization failure"}


def lock_conflict(exc: BaseException) -> str:
    """What lock conflict aborted the transaction (``deadlock detected``...), or "" if it was something else."""
    cause = exc.__cause__ or exc
    return RETRYABLE_SQLSTATES.get(getattr(cause, "sqlstate", None) or "", "")
