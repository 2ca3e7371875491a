"""Usage ledger writes: validate, price and store posted records; price stored unpriced ones.

These are the tokens-layer steps of the ingestion pipeline; the pipeline
itself (``ingestion.services.usage_ingest``) calls them in order together with
the budget, rollup, alert and live-event steps of the layers above.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Field, IntegerField

from core.db import insert_sql, rows_lock, uuid7
from core.errors import InvalidInput, PermissionDenied
from core.money import COST_QUANTUM, ZERO
from tokens.counts import TOKEN_CLASSES, TokenCounts
from tokens.models import ApiKey, ModelPrice, Run, UsageRecord
from tokens.pricing import catalog, cost_of
from tokens.services.attribution import usage_attribution, usage_tags_store
from tokens.usage_input import FieldErrors, UsageInput, parse_usage_record

User = get_user_model()


@dataclass
class RecordResult:
    """What became of one posted record."""

    index: int
    status: str  # "created" | "duplicate" | "invalid"
    record: UsageRecord | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Why an invalid record was refused when it was not its fields: "permission_denied" or "unknown_user".
    error_code: str = ""
    # Later results in the same batch that repeat this one's request_id.
    repeats: list[RecordResult] = field(default_factory=list)


@dataclass
class UsageBatch:
    """One request's records on their way through the pipeline, in posted order."""

    now: datetime
    results: list[RecordResult] = field(default_factory=list)
    # Valid records, the first of each (user, request_id): validated input, then the priced row.
    valid: list[tuple[RecordResult, UsageInput, Any]] = field(default_factory=list)
    priced: list[tuple[RecordResult, UsageRecord]] = field(default_factory=list)
    # Rows this request stored (not duplicates): what budgets, rollups and live events act on.
    created: list[UsageRecord] = field(default_factory=list)
    # The key the request authenticated with: its project (and that project's organization) get the spend.
    api_key: ApiKey | None = None


def acting_user_resolve(*, user, api_key: ApiKey | None, username: str | None, cache: dict | None = None):
    """Who a request acts for: the key's user, or (service keys only) a named user."""
    if not username or username == user.get_username():
        return user
    if api_key is None or not api_key.is_service:
        raise PermissionDenied("Only a service key may act for another user.",
                               fields={"user": ["Only a service key may act for another user."]})
    if cache is not None and username in cache:
        found = cache[username]
    else:
        found = User.objects.filter(username=username, is_active=True).first()
        if cache is not None:
            cache[username] = found
    if found is None:
        message = f"Unknown user {username!r}."
        raise InvalidInput(message, code="unknown_user", fields={"user": [message]})
    return found


def _speech_output_is_audio(parsed: UsageInput, latest) -> None:
    """A speech model's output tokens are audio (its usage object does not say so)."""
    if parsed.counts.output:
        price = latest(parsed.model)
        if price is not None and price.mode == "audio_speech":
            counts = parsed.counts
            parsed.counts = replace(counts, output=0, audio_output=counts.audio_output + counts.output)


def usage_validate(*, user, api_key: ApiKey | None, payloads: list[Any], now: datetime) -> UsageBatch:
    """Check every posted record and who it is for; a bad record never stops the good ones.

    A request_id repeated inside the batch is answered with the first one's
    outcome (status "duplicate") and is stored once.
    """
    batch = UsageBatch(now=now, api_key=api_key)
    users: dict[str, Any] = {}
    latest = functools.lru_cache(maxsize=None)(catalog.latest)  # one lookup per model and batch

    def provider_of(model: str) -> str:
        price = latest(model)
        return price.provider if price else ""

    first: dict[tuple[int, str], RecordResult] = {}
    for index, payload in enumerate(payloads):
        result = RecordResult(index=index, status="invalid")
        batch.results.append(result)
        try:
            parsed = parse_usage_record(payload, provider_of=provider_of, now=now)
            _speech_output_is_audio(parsed, latest)
            acting = acting_user_resolve(user=user, api_key=api_key, username=parsed.user, cache=users)
        except FieldErrors as exc:
            result.errors = exc.errors
            continue
        except (PermissionDenied, InvalidInput) as exc:
            result.errors = exc.fields
            result.error_code = exc.code
            continue
        key = (acting.pk, parsed.request_id)
        if key in first:
            result.status = "duplicate"
            first[key].repeats.append(result)
            continue
        first[key] = result
        batch.valid.append((result, parsed, acting))
    return batch


def call_costs(*, price: ModelPrice | None, counts: TokenCounts, service_tier: str, units: dict, user_id: int,
               at: datetime) -> tuple[Decimal, Decimal] | None:
    """(list cost, billed cost) of one call, quantized to the cost column; None if it cannot be priced.

    The list cost is the catalog's; the billed cost applies the customer's price override in force.
    """
    if price is None:
        return None
    cost = cost_of(price, counts, service_tier=service_tier, units=units)
    if cost is None:
        return None
    multiplier = catalog.multiplier(user_id, price, at)
    billed = cost if multiplier is None else cost * multiplier
    return cost.quantize(COST_QUANTUM), billed.quantize(COST_QUANTUM)


def usage_price(*, batch: UsageBatch) -> None:
    """Price each valid record at the catalog version valid when it occurred (unknown models: unpriced),
    and attribute it to its organization, project and key."""
    orgs: dict[int, int | None] = {}
    key_id = batch.api_key.pk if batch.api_key is not None else None
    for result, data, acting in batch.valid:
        org_id, project_id = usage_attribution(api_key=batch.api_key, user=acting, cache=orgs)
        price = catalog.resolve(data.model, data.occurred_at)
        counts = data.counts
        costs = call_costs(price=price, counts=counts, service_tier=data.service_tier, units=data.units,
                           user_id=acting.pk, at=data.occurred_at)
        # Quantized and in UTC, as the database hands them back: the created record is returned as built.
        list_cost, cost = costs or (ZERO, ZERO)
        provider_cost = data.provider_cost.quantize(COST_QUANTUM) if data.provider_cost is not None else None
        values = {
            "id": uuid7(),
            "user_id": acting.pk,
            "organization_id": org_id,
            "project_id": project_id,
            "api_key_id": key_id,
            "tags": data.tags,
            "request_id": data.request_id,
            "run_id": data.run_id,
            "agent": data.agent,
            "tool": data.tool,
            "model": data.model,
            "provider": price.provider if price else "",
            **{column: getattr(counts, name) for name, column in TOKEN_CLASSES.items()},
            "total_tokens": counts.total,
            "units": data.units,
            "service_tier": data.service_tier,
            "cost_usd": cost,
            "list_cost_usd": list_cost,
            "provider_cost_usd": provider_cost,
            "priced": costs is not None,
            "price_id": price.pk if costs is not None else None,
            "optimization_technique": data.optimization_technique,
            "original_tokens": data.original_tokens,
            "cache_hit": data.cache_hit,
            "reservation_id": data.reservation_id,
            "latency_ms": data.latency_ms,
            "usage_format": data.usage_format,
            "metadata": data.metadata,
            "occurred_at": data.occurred_at.astimezone(UTC),
            "received_at": batch.now,
        }
        batch.priced.append((result, _record(values, user=acting, price=price if costs is not None else None)))


# Positional construction in column order is Django's fast path (a third of keyword construction's
# time for a 40-column row): every value is given, no default is computed.
_ATTNAMES = [f.attname for f in UsageRecord._meta.concrete_fields]
_USER = UsageRecord._meta.get_field("user")
_PRICE = UsageRecord._meta.get_field("price")


def _record(values: dict[str, Any], *, user, price: ModelPrice | None) -> UsageRecord:
    """A new ledger row from every column's value, with its user and price cached (no query later)."""
    record = UsageRecord(*[values[name] for name in _ATTNAMES])
    record._state.adding = True
    _USER.set_cached_value(record, user)
    if price is not None:
        _PRICE.set_cached_value(record, price)
    return record


def usage_store(*, batch: UsageBatch) -> list[UsageRecord]:
    """Insert the priced records idempotently on (user, request_id); create their runs.

    A request_id stored before (or by a concurrent request) is answered with
    the stored row, status "duplicate". Returns the rows this call stored.
    Runs inside the pipeline's transaction.
    """
    batch.created = []  # a batch retried after a deadlock starts over
    if not batch.priced:
        return []
    # In (user, request_id) order: concurrent batches repeating request_ids wait on each other's keys
    # in one order, never in a cycle.
    stored_ids = _usage_insert_new(sorted((record for _, record in batch.priced),
                                          key=lambda r: (r.user_id, r.request_id)))
    # A request_id this call did not store was stored before, or by a concurrent request: read those back (rare).
    missing: dict[int, list[str]] = {}
    for _, record in batch.priced:
        if record.pk not in stored_ids:
            missing.setdefault(record.user_id, []).append(record.request_id)
    existing: dict[tuple[int, str], UsageRecord] = {}
    for user_id, request_ids in missing.items():
        for row in UsageRecord.objects.filter(user_id=user_id, request_id__in=request_ids):
            existing[(user_id, row.request_id)] = row
    for result, record in batch.priced:
        if record.pk in stored_ids:
            row = record
            result.status = "created"
            batch.created.append(row)
        else:
            row = existing[(record.user_id, record.request_id)]
            row.user = record.user  # no query per row when serializing
            result.status = "duplicate"
        result.record = row
        for repeat in result.repeats:
            repeat.record = row
    runs_ensure(records=batch.created)
    usage_tags_store(records=batch.created)
    return batch.created


def runs_ensure(*, records: Iterable[UsageRecord]) -> None:
    """A Run row for every (user, run_id) of these records, created at its first record's time."""
    runs = {}
    for record in records:
        if record.run_id:
            runs.setdefault((record.user_id, record.run_id), record.occurred_at)
    if runs:
        Run.objects.bulk_create(
            [Run(user_id=uid, run_id=rid, created_at=at) for (uid, rid), at in sorted(runs.items())],
            ignore_conflicts=True,
        )


def _usage_insert_new(records: list[UsageRecord]) -> set[uuid.UUID]:
    """Insert ``records``, skipping any whose (user, request_id) is already stored,
    and return the ids of the rows this call stored.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` tells in the same statement
    which rows were new; bulk_create(ignore_conflicts=True) cannot, so it needed a
    SELECT of every row afterwards. As bulk_create does on PostgreSQL, several
    rows go as one array per column through UNNEST: a VALUES list of 1000 rows
    would be 30,000 placeholders for psycopg to parse on every call.
    """
    connection = connections[router.db_for_write(UsageRecord)]
    meta = UsageRecord._meta
    fields = meta.concrete_fields
    columns = [f.column for f in fields]
    conflict = [meta.get_field(name).column for name in ("user", "request_id")]
    # Every value already has its field's Python type (validated input, priced by
    # usage_price), so get_prep_value's coercions, a third of a batch's
    # preparation time, are skipped; the backend adaptation (JSON, UUID, dates on
    # SQLite) still runs.
    # Strings and booleans pass through get_db_prep_value unchanged, and so may the 17 token
    # counts: the statements below cast every column (UNNEST arrays) or insert into it
    # (assignment casts), so psycopg's plain int adaptation serves where Django would wrap each
    # in Int8. Read all columns with one attrgetter and adapt only the rest.
    values_of = operator.attrgetter(*(f.attname for f in fields))
    adapt = [(i, f) for i, f in enumerate(fields)
             if type(f).get_db_prep_value is not Field.get_db_prep_value
             and not (isinstance(f, IntegerField) and not f.is_relation)]
    rows = []
    for record in records:
        row = list(values_of(record))
        for i, f in adapt:
            row[i] = f.get_db_prep_value(row[i], connection, prepared=True)
        rows.append(row)
    if connection.vendor == "postgresql" and len(rows) > 1:
        # varchar[] rather than varchar(200)[], as Django does, so nothing is truncated.
        arrays = ", ".join(f"(%s)::{f.db_type(connection).split('(')[0]}[]" for f in fields)
        statements = [(f"SELECT * FROM UNNEST({arrays})", [list(column) for column in zip(*rows, strict=True)])]
    else:
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        size = max(connection.ops.bulk_batch_size(fields, records), 1)  # SQLite caps query parameters
        statements = [
            ("VALUES " + ", ".join([row_sql] * len(chunk)), [v for row in chunk for v in row])
            for chunk in (rows[i : i + size] for i in range(0, len(rows), size))
        ]
    stored: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for source, params in statements:
            sql = insert_sql(UsageRecord, columns, source, conflict=conflict, returning=[meta.pk.column])
            cursor.execute(sql, params)
            stored.update(meta.pk.to_python(row[0]) for row in cursor.fetchall())
    for record in records:
        record._state.adding = False
        record._state.db = connection.alias
    return stored


def usage_reprice_ids(*, models: list[str] | None = None, start: datetime | None = None,
                      end: datetime | None = None, only_unpriced: bool = True, user_id: int | None = None,
                      chunk: int = 1000) -> Iterable[list[uuid.UUID]]:
    """Ids of stored records to reprice, in chunks (keyset-paged by id): the unpriced ones of
    ``models``, or (``only_unpriced=False``) every record of ``models`` (any, if None) in
    ``start``..``end`` (of one user with ``user_id``)."""
    qs = UsageRecord.objects.all()
    if only_unpriced:
        qs = qs.filter(priced=False)
    if models is not None:
        qs = qs.filter(model__in=models)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    qs = qs.between(start, end)
    after = None
    while True:
        page = qs if after is None else qs.filter(pk__gt=after)
        ids = list(page.order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            return
        yield ids
        after = ids[-1]


def usage_unpriced_ids(*, models: list[str], chunk: int = 1000) -> Iterable[list[uuid.UUID]]:
    """Ids of the stored unpriced records of ``models``, in chunks (keyset-paged by id)."""
    return usage_reprice_ids(models=models, chunk=chunk)


def _costs_of(record: UsageRecord) -> tuple[Decimal, Decimal] | None:
    price = catalog.resolve(record.model, record.occurred_at)
    return call_costs(price=price, counts=record.token_counts, service_tier=record.service_tier,
                      units=record.units, user_id=record.user_id, at=record.occurred_at)


def usage_reprice_lock(*, ids: list[uuid.UUID], only_unpriced: bool = True) -> list[UsageRecord]:
    """Lock the records of ``ids`` (still unpriced, with ``only_unpriced``) whose cost the catalog
    gives now and differs from the stored one."""
    qs = UsageRecord.objects.filter(pk__in=ids)
    if only_unpriced:
        qs = qs.filter(priced=False)
    out = []
    for record in rows_lock(qs):
        costs = _costs_of(record)
        if costs is not None and (not record.priced or costs != (record.list_cost_usd, record.cost_usd)
                                  or record.price_id != catalog.resolve(record.model, record.occurred_at).pk):
            out.append(record)
    return out


def usage_unpriced_lock(*, ids: list[uuid.UUID]) -> list[UsageRecord]:
    """Lock the records of ``ids`` that are still unpriced and that the catalog can price now."""
    return usage_reprice_lock(ids=ids)


def usage_records_price(*, records: list[UsageRecord]) -> None:
    """Price locked records at the catalog version valid when each occurred (and the override then)."""
    for record in records:
        price = catalog.resolve(record.model, record.occurred_at)
        record.list_cost_usd, record.cost_usd = _costs_of(record)
        record.price, record.provider, record.priced = price, price.provider, True
    UsageRecord.objects.bulk_update(
        records, ["price", "provider", "priced", "cost_usd", "list_cost_usd"], batch_size=500
    )
