"""Input bounds shared by every API and service."""

# The most tokens of one class that any API input may carry (a call's prompt,
# completion, cache or reasoning tokens, an estimate, a cached answer). No model
# call comes near it (the largest context windows are a few million), and it
# keeps every sum and cost in range: five classes total at most 5e9, far inside
# a 64-bit integer, and a record's cost (at most 5,000 times the model's dearest
# per-million price) stays far inside a Decimal's 28 digits and the cost column.
MAX_TOKENS = 1_000_000_000
