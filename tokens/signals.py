"""Extension points of the metering core.

``usage_recorded`` is sent inside the ingestion transaction with the newly
stored records (never duplicates). Receivers that write (budget commits,
rollups) join that transaction; receivers with outside effects (live events,
alerts) must defer them with ``transaction.on_commit``.

``usage_repriced`` is sent after unpriced records got a price, with their ids.
"""

from django.dispatch import Signal

usage_recorded = Signal()  # kwargs: records: list[UsageRecord]
usage_repriced = Signal()  # kwargs: record_ids: list[UUID]
