"""Netra Token Control agent SDK.

    from netra_client import NetraClient, TokenTracker, wrap_openai
    llm = wrap_openai(OpenAI(), TokenTracker(NetraClient(URL, KEY), agent="triage"))
"""

from netra_client.client import NetraClient
from netra_client.errors import (
    AuthError,
    BudgetExceeded,
    ConnectionFailed,
    NetraError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from netra_client.results import (
    BatchResult,
    BudgetCheck,
    CacheLookup,
    Estimate,
    PromptOptimization,
    Reservation,
    RunInfo,
    TokenBreakdown,
    TokenCount,
    UsageResult,
)
from netra_client.tracker import TokenTracker, TrackedCall
from netra_client.wrappers import wrap_anthropic, wrap_openai

__version__ = "0.1.0"

__all__ = [
    "AuthError", "BatchResult", "BudgetCheck", "BudgetExceeded", "CacheLookup", "ConnectionFailed", "Estimate",
    "NetraClient", "NetraError", "NotFoundError", "PromptOptimization", "RateLimitedError", "Reservation",
    "RunInfo",
    "ServerError", "TokenBreakdown", "TokenCount", "TokenTracker", "TrackedCall", "UsageResult",
    "ValidationError", "wrap_anthropic", "wrap_openai",
]
