"""Writes of the metering core: API keys, the price catalog, the usage ledger."""

from tokens.services.audit import reprice_audit_close, reprice_audit_open  # noqa: F401
from tokens.services.catalog import ImportResult, prices_import  # noqa: F401
from tokens.services.keys import api_key_create, api_key_revoke, api_key_touch  # noqa: F401
from tokens.services.usage import (  # noqa: F401
    RecordResult,
    UsageBatch,
    acting_user_resolve,
    call_costs,
    runs_ensure,
    usage_price,
    usage_records_price,
    usage_reprice_ids,
    usage_reprice_lock,
    usage_store,
    usage_unpriced_ids,
    usage_unpriced_lock,
    usage_validate,
)
