"""Writes for the metering core: usage ingestion, API keys, catalog import, repricing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.utils import timezone

from tokens.models import ApiKey, ModelPrice, Run, UsageRecord
from tokens.pricing import TokenCounts, catalog, cost_of
from tokens.signals import usage_recorded, usage_repriced
from tokens.usage_input import FieldErrors, UsageInput, parse_usage_record

logger = logging.getLogger(__name__)
User = get_user_model()

COST_QUANTUM = Decimal("1e-12")


def money_str(value: Decimal | None) -> str | None:
    """A Decimal as a plain string without exponent or trailing zeros."""
    if value is None:
        return None
    return format(value.normalize(), "f")


# --- API keys --------------------------------------------------------------------


def api_key_create(*, user, name: str = "default", is_service: bool = False) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is never stored."""
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        user=user, name=name or "default", is_service=is_service, key_prefix=raw[:12], key_hash=ApiKey.hash(raw)
    )
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use at most once a minute, so auth does not write a hot row per request."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


# --- Usage ingestion ------------------------------------------------------------------


@dataclass
class RecordResult:
    index: int
    status: str  # "created" | "duplicate" | "invalid"
    record: UsageRecord | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Why an invalid record was refused when it was not its fields: "permission_denied" or "unknown_user".
    error_code: str = ""
    # Later results in the same batch that repeat this one's request_id.
    repeats: list[RecordResult] = field(default_factory=list)


class ActingUserError(Exception):
    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def acting_user_resolve(*, user, api_key: ApiKey | None, username: str | None, cache: dict | None = None):
    """Who a request acts for: the key's user, or (service keys only) a named user."""
    if not username or username == user.get_username():
        return user
    if api_key is None or not api_key.is_service:
        raise ActingUserError(
            "Only a service key may act for another user.", code="permission_denied", status=403
        )
    if cache is not None and username in cache:
        found = cache[username]
    else:
        found = User.objects.filter(username=username, is_active=True).first()
        if cache is not None:
            cache[username] = found
    if found is None:
        raise ActingUserError(f"Unknown user {username!r}.", code="unknown_user", status=400)
    return found


def _provider_of(model: str) -> str:
    price = catalog.latest(model)
    return price.provider if price else ""


def _build_record(*, user, data: UsageInput, now: datetime) -> UsageRecord:
    price = catalog.resolve(data.model, data.occurred_at)
    # Quantized and in UTC, as the database hands them back: the created record
    # is returned as built, not read back.
    cost = (cost_of(price, data.counts) if price else Decimal(0)).quantize(COST_QUANTUM)
    counts = data.counts
    return UsageRecord(
        user=user,
        request_id=data.request_id,
        run_id=data.run_id,
        agent=data.agent,
        tool=data.tool,
        model=data.model,
        provider=price.provider if price else "",
        input_tokens=counts.input,
        cached_input_tokens=counts.cached_input,
        cache_write_tokens=counts.cache_write,
        output_tokens=counts.output,
        reasoning_tokens=counts.reasoning,
        total_tokens=counts.total,
        cost_usd=cost,
        priced=price is not None,
        price=price,
        optimization_technique=data.optimization_technique,
        original_tokens=data.original_tokens,
        cache_hit=data.cache_hit,
        reservation_id=data.reservation_id,
        latency_ms=data.latency_ms,
        usage_format=data.usage_format,
        metadata=data.metadata,
        occurred_at=data.occurred_at.astimezone(UTC),
        received_at=now,
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
    qn = connection.ops.quote_name
    unique = ", ".join(qn(meta.get_field(name).column) for name in ("user", "request_id"))
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
    tail = f" ON CONFLICT ({unique}) DO NOTHING RETURNING {qn(meta.pk.column)}"
    # Every value already has its field's Python type (validated input, built by
    # _build_record), so get_prep_value's coercions, a third of a batch's
    # preparation time, are skipped; the backend adaptation (JSON, UUID, dates on
    # SQLite) still runs.
    rows = [[f.get_db_prep_value(getattr(r, f.attname), connection, prepared=True) for f in fields] for r in records]
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
        for body, params in statements:
            cursor.execute(head + body + tail, params)
            stored.update(meta.pk.to_python(row[0]) for row in cursor.fetchall())
    for record in records:
        record._state.adding = False
        record._state.db = connection.alias
    return stored


def usage_records_ingest(*, user, api_key: ApiKey | None, payloads: list[Any]) -> list[RecordResult]:
    """Validate, price and store posted records; idempotent on (user, request_id).

    Valid records are stored even when others in the same batch are invalid.
    A request_id seen before (earlier, in the same batch, or by a concurrent
    request) yields the stored record with status "duplicate"; it is stored and
    counted once. Returns one result per payload, in order.
    """
    now = timezone.now()
    results: list[RecordResult] = []
    users: dict[str, Any] = {}
    pending: dict[tuple[int, str], RecordResult] = {}  # (user_id, request_id) -> first result
    to_insert: list[tuple[RecordResult, UsageRecord]] = []
    for index, payload in enumerate(payloads):
        result = RecordResult(index=index, status="invalid")
        results.append(result)
        try:
            parsed = parse_usage_record(payload, provider_of=_provider_of, now=now)
            acting = acting_user_resolve(user=user, api_key=api_key, username=parsed.user, cache=users)
        except FieldErrors as exc:
            result.errors = exc.errors
            continue
        except ActingUserError as exc:
            result.errors = {"user": [str(exc)]}
            result.error_code = exc.code
            continue
        key = (acting.pk, parsed.request_id)
        if key in pending:
            result.status = "duplicate"
            pending[key].repeats.append(result)
            continue
        record = _build_record(user=acting, data=parsed, now=now)
        pending[key] = result
        to_insert.append((result, record))

    if not to_insert:
        return results

    with transaction.atomic():
        stored_ids = _usage_insert_new([r for _, r in to_insert])
        # A request_id this call did not store was stored before, or by a
        # concurrent request: read those rows back (rare).
        missing: dict[int, list[str]] = {}
        for _, record in to_insert:
            if record.pk not in stored_ids:
                missing.setdefault(record.user_id, []).append(record.request_id)
        existing: dict[tuple[int, str], UsageRecord] = {}
        for user_id, request_ids in missing.items():
            for row in UsageRecord.objects.filter(user_id=user_id, request_id__in=request_ids):
                existing[(user_id, row.request_id)] = row
        created: list[UsageRecord] = []
        for result, record in to_insert:
            if record.pk in stored_ids:
                row = record
                result.status = "created"
                created.append(row)
            else:
                row = existing[(record.user_id, record.request_id)]
                row.user = record.user  # avoid a query per row when serializing
                result.status = "duplicate"
            result.record = row
            for repeat in result.repeats:
                repeat.record = row
        runs = {(r.user_id, r.run_id): r for r in created if r.run_id}
        if runs:
            Run.objects.bulk_create(
                [Run(user_id=uid, run_id=rid, created_at=rec.occurred_at) for (uid, rid), rec in runs.items()],
                ignore_conflicts=True,
            )
        if created:
            usage_recorded.send(sender=UsageRecord, records=created)
    return results


# --- Catalog ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    skipped: int = 0
    names: list[str] = field(default_factory=list)


PER_TOKEN_TO_MILLION = Decimal(1_000_000)


def _per_million(value: Any) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(str(value)) * PER_TOKEN_TO_MILLION).normalize()


def _tiers(entry: dict) -> list[dict]:
    tiers = []
    for suffix in ("above_128k_tokens", "above_200k_tokens", "above_272k_tokens"):
        inp = entry.get(f"input_cost_per_token_{suffix}")
        if inp is None:
            continue
        threshold = int(suffix.split("_")[1].rstrip("k")) * 1000
        tier = {"above_input_tokens": threshold, "input_per_million": str(_per_million(inp))}
        for key, name in (
            ("output_cost_per_token", "output_per_million"),
            ("cache_read_input_token_cost", "cache_read_per_million"),
            ("cache_creation_input_token_cost", "cache_write_per_million"),
        ):
            value = entry.get(f"{key}_{suffix}")
            if value is not None:
                tier[name] = str(_per_million(value))
        tiers.append(tier)
    return tiers


def _canonical_names(entries: dict[str, dict]) -> dict[str, str]:
    """Catalog name per map key: ``gemini/gemini-2.5-pro`` becomes ``gemini-2.5-pro``
    when the prefix is the entry's own provider and no other entry claims the name."""
    claimed: dict[str, list[str]] = {}
    for key, entry in entries.items():
        provider = entry.get("litellm_provider", "")
        bare = key.split("/", 1)[1] if key.startswith(f"{provider}/") else key
        claimed.setdefault(bare, []).append(key)
    names = {}
    for bare, keys in claimed.items():
        if len(keys) == 1:
            names[keys[0]] = bare
        else:
            for key in keys:
                names[key] = key
    return names


def prices_import(
    *,
    data: dict[str, Any],
    valid_from: datetime | None = None,
    providers: list[str] | None = None,
    modes: list[str] | None = None,
    source: str = "",
) -> ImportResult:
    """Import a LiteLLM price map. Unchanged prices are skipped; a changed price
    adds a new version valid from ``valid_from`` (default now) and never edits
    an old one. The first version of a model is valid from the epoch so that
    history can be priced."""
    result = ImportResult()
    now = timezone.now()
    entries = {
        k: v
        for k, v in data.items()
        if isinstance(v, dict)
        and k != "sample_spec"
        and v.get("input_cost_per_token") is not None
        and v.get("output_cost_per_token") is not None
        and (not providers or v.get("litellm_provider") in providers)
        and (not modes or v.get("mode", "chat") in modes)
    }
    names = _canonical_names(entries)
    latest = {}
    for row in ModelPrice.objects.filter(name__in=set(names.values())).order_by("name", "valid_from"):
        latest[row.name] = row
    to_create = []
    for key, entry in entries.items():
        name = names[key]
        provider = entry.get("litellm_provider", "")
        aliases = sorted(set(entry.get("aliases", [])) | ({key} if key != name else set()) | {f"{provider}/{name}"})
        fields = {
            "provider": provider,
            "mode": entry.get("mode", "chat"),
            "aliases": aliases,
            "input_per_million": _per_million(entry["input_cost_per_token"]),
            "output_per_million": _per_million(entry["output_cost_per_token"]),
            "cache_read_per_million": _per_million(entry.get("cache_read_input_token_cost")),
            "cache_write_per_million": _per_million(entry.get("cache_creation_input_token_cost")),
            "reasoning_per_million": _per_million(entry.get("output_cost_per_reasoning_token")),
            "tiers": _tiers(entry),
            "context_window": entry.get("max_input_tokens") or entry.get("max_tokens"),
            "max_output_tokens": entry.get("max_output_tokens"),
        }
        for int_field in ("context_window", "max_output_tokens"):
            if not isinstance(fields[int_field], int):
                fields[int_field] = None
        current = latest.get(name)
        if current is not None and _same_price(current, fields):
            result.unchanged += 1
            continue
        start = valid_from or (now if current is not None else datetime(2000, 1, 1, tzinfo=UTC))
        if current is not None and start <= current.valid_from:
            start = current.valid_from + timedelta(microseconds=1)
        to_create.append(ModelPrice(name=name, valid_from=start, source=source or key, **fields))
        result.names.append(name)
    ModelPrice.objects.bulk_create(to_create, batch_size=500)
    result.created = len(to_create)
    catalog.invalidate()
    return result


def _same_price(row: ModelPrice, fields: dict) -> bool:
    for name in ModelPrice.PRICE_FIELDS:
        old, new = getattr(row, name), fields[name]
        if (old is None) != (new is None) or (old is not None and Decimal(old) != Decimal(new)):
            return False
    return (
        (row.tiers or []) == fields["tiers"]
        and row.context_window == fields["context_window"]
        and row.max_output_tokens == fields["max_output_tokens"]
        and sorted(row.aliases or []) == fields["aliases"]
    )


def usage_records_reprice(*, models: list[str]) -> int:
    """Price stored unpriced records of ``models`` once a price exists. Returns how many."""
    catalog.invalidate()
    updated_ids = []
    qs = UsageRecord.objects.filter(priced=False, model__in=models)
    for record in qs.iterator(chunk_size=1000):
        price = catalog.resolve(record.model, record.occurred_at)
        if price is None:
            continue
        counts = TokenCounts(
            input=record.input_tokens,
            cached_input=record.cached_input_tokens,
            cache_write=record.cache_write_tokens,
            output=record.output_tokens,
            reasoning=record.reasoning_tokens,
        )
        # Conditional on priced=False so two concurrent reprices price a record once.
        changed = UsageRecord.objects.filter(pk=record.pk, priced=False).update(
            priced=True,
            price=price,
            provider=price.provider,
            cost_usd=cost_of(price, counts).quantize(COST_QUANTUM),
        )
        if changed:
            updated_ids.append(record.pk)
    if updated_ids:
        usage_repriced.send(sender=UsageRecord, record_ids=updated_ids)
    return len(updated_ids)
