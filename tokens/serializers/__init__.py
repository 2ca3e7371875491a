"""The JSON shapes of the metering core's objects, shared by the APIs that take and return them.

A usage record is rendered by ``usage_record_out``, a plain dict builder, because
batches of 1000 records and ledger pages go through it on the hot path, where a DRF
serializer costs several times more (docs/api.md, "One contract"). Its contract is
``UsageRecordOutputSerializer``: the OpenAPI schema comes from it, and
tests/api/test_usage_contract.py renders real records both ways and requires equal JSON.
Posted records are validated by hand the same way (``tokens.usage_input``); their
contract is ``UsageRecordInputSerializer``.

``records``: stored usage records and their sums; ``catalog``: model prices;
``posted``: what a client posts.
"""

from tokens.serializers.catalog import ModelPriceOutputSerializer  # noqa: F401
from tokens.serializers.posted import ProviderUsageSerializer, UsageRecordInputSerializer  # noqa: F401
from tokens.serializers.records import (  # noqa: F401
    TokenCountsSerializer,
    UsageGroupSerializer,
    UsageRecordOutputSerializer,
    UsageTotalsSerializer,
    usage_record_out,
)
