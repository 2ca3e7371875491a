"""Writes of the metering core: API keys, the price catalog, the usage ledger."""

from tokens.services.attribution import usage_attribution, usage_tags_store  # noqa: F401
from tokens.services.audit import reprice_audit_close, reprice_audit_open  # noqa: F401
from tokens.services.catalog import ImportResult, prices_import  # noqa: F401
from tokens.services.keys import (  # noqa: F401
    api_key_create,
    api_key_create_for,
    api_key_may_manage,
    api_key_revoke,
    api_key_touch,
    api_key_update,
)
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
