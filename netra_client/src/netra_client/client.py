"""NetraClient: the v1 API with typed results. Usage delivery (buffer, retries, background
flush) is the ``UsageDelivery`` half in ``delivery.py``."""

from __future__ import annotations

import os
from typing import Any

from netra_client.delivery import MAX_BATCH, UsageDelivery
from netra_client.results import (
    BudgetCheck,
    CacheLookup,
    PromptOptimization,
    RunInfo,
    TokenCount,
)
from netra_client.transport import ALWAYS, CONNECT_ONLY, Transport

__all__ = ["MAX_BATCH", "NetraClient"]


def _drop_none(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


class NetraClient(UsageDelivery):
    """A client for one Netra server and API key.

    ``base_url`` and ``api_key`` default to the NETRA_BASE_URL and NETRA_API_KEY
    environment variables. ``retries`` applies to every idempotent request;
    ``max_buffer`` bounds the records kept in memory while the server is unreachable;
    ``flush_interval`` is how often a background thread retries them (0: only on the
    next send, ``flush()`` or exit).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.25,
        max_buffer: int = 10_000,
        flush_interval: float = 5.0,
        batch_size: int = 500,
    ) -> None:
        base_url = base_url or os.environ.get("NETRA_BASE_URL")
        if not base_url:
            raise ValueError("NetraClient needs a base_url (or the NETRA_BASE_URL environment variable).")
        api_key = api_key if api_key is not None else os.environ.get("NETRA_API_KEY")
        self.transport = Transport(base_url, api_key, timeout=timeout, retries=retries, backoff=backoff)
        self._init_delivery(max_buffer=max_buffer, flush_interval=flush_interval, batch_size=batch_size)

    def __repr__(self) -> str:
        return f"NetraClient({self.transport.base_url!r}, pending={self.pending})"

    @property
    def api_key(self) -> str | None:
        return self.transport.api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self.transport.api_key = value

    def __enter__(self) -> NetraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------

    def _get(self, path: str, params: dict | None = None) -> Any:
        return self.transport.request("GET", path, params=params)[1]

    def _post(self, path: str, body: dict | None = None, *, retry: str = ALWAYS, retries: int | None = None) -> Any:
        return self.transport.request("POST", path, body=body or {}, retry=retry, retries=retries)[1]

    # --- reads ---------------------------------------------------------------------

    def usage_list(self, **filters: Any) -> dict:
        """GET /api/v1/usage (filters: from, to, agent, model, tool, run_id, user, cursor, page_size)."""
        if "from_" in filters:
            filters["from"] = filters.pop("from_")
        return self._get("usage", filters)

    def usage_summary(self, *, group_by: str = "agent", **filters: Any) -> dict:
        if "from_" in filters:
            filters["from"] = filters.pop("from_")
        return self._get("usage/summary", {"group_by": group_by, **filters})

    def run(self, run_id: str, *, user: str | None = None) -> RunInfo:
        return RunInfo.from_json(self._get(f"runs/{run_id}", {"user": user}))

    def models(self, *, provider: str | None = None) -> list[dict]:
        return self._get("models", {"provider": provider})["models"]

    # --- tokens and budgets ---------------------------------------------------------------

    def tokens_count(
        self, *, model: str, text: str | None = None, messages: list[dict] | None = None
    ) -> TokenCount:
        body = _drop_none({"model": model, "text": text, "messages": messages})
        return TokenCount.from_json(self._post("tokens/count", body))

    def budgets(self, *, user: str | None = None) -> list[dict]:
        data = self._get("budgets", {"user": user})
        if isinstance(data, dict):
            return list(data.get("budgets") or data.get("results") or [])
        return list(data or [])

    def budget_check(
        self,
        *,
        agent: str,
        model: str,
        run_id: str | None = None,
        user: str | None = None,
        estimated_input_tokens: int | None = None,
        prompt: str | None = None,
        messages: list[dict] | None = None,
        max_output_tokens: int | None = None,
        reserve: bool = False,
        retries: int | None = None,
        tags: list[str] | None = None,
    ) -> BudgetCheck:
        """May this call go ahead? A denial is a BudgetCheck with allowed=False, not an exception.
        ``retries`` overrides the client's (the tracker asks once while the server is down)."""
        body = _drop_none({
            "agent": agent, "model": model, "run_id": run_id, "user": user,
            "estimated_input_tokens": estimated_input_tokens, "prompt": prompt, "messages": messages,
            "max_output_tokens": max_output_tokens, "reserve": reserve or None, "tags": tags,
        })
        # A reserving check is not idempotent: retry it only when it never reached the server.
        data = self._post("budgets/check", body, retry=CONNECT_ONLY if reserve else ALWAYS, retries=retries)
        return BudgetCheck.from_json(data)

    def reservation(self, reservation_id: str, *, user: str | None = None) -> dict:
        """A hold's state: status (held, committed, released, expired), tokens, cost, actuals."""
        return self._get(f"budgets/reservations/{reservation_id}", {"user": user})

    def reservation_release(self, reservation_id: str, *, user: str | None = None) -> dict:
        """Give a hold back. Releasing twice answers the same; 409 once committed or expired."""
        return self._post(f"budgets/reservations/{reservation_id}/release", _drop_none({"user": user}))

    def reservation_commit(self, reservation_id: str, *, user: str | None = None) -> dict:
        """Close a hold without charging it (posting usage with reservation_id is the normal commit)."""
        return self._post(f"budgets/reservations/{reservation_id}/commit", _drop_none({"user": user}))

    # --- token-saving services ---------------------------------------------------------------
    # ``user`` (service keys only) and ``agent`` attribute the savings; extra keyword
    # arguments go to the server as they are, so new options need no SDK release.

    def optimize_prompt(
        self,
        *,
        model: str,
        prompt: str,
        level: str = "balanced",
        target_reduction: float | None = None,
        question: str | None = None,
        target_tokens: int | None = None,
        target_ratio: float | None = None,
        user: str | None = None,
        agent: str | None = None,
        **options: Any,
    ) -> PromptOptimization:
        """Compress a prompt: ``light``, ``balanced`` or ``aggressive``; with ``question``, the material least
        relevant to it goes; ``target_tokens`` / ``target_ratio`` (share kept) drop more until it fits."""
        body = _drop_none({"model": model, "prompt": prompt, "level": level, "target_reduction": target_reduction,
                           "question": question, "target_tokens": target_tokens, "target_ratio": target_ratio,
                           "user": user, "agent": agent, **options})
        return PromptOptimization.from_json(self._post("optimize/prompt", body))

    def optimize_context(
        self,
        *,
        model: str,
        messages: list[dict],
        max_response_tokens: int | None = None,
        safety_margin: float | None = None,
        question: str | None = None,
        target_tokens: int | None = None,
        target_ratio: float | None = None,
        user: str | None = None,
        agent: str | None = None,
    ) -> dict:
        """{messages, dropped, tokens, budget, target_met}; with ``question`` the least relevant history goes first.
        ValidationError (422) when system + newest cannot fit the window."""
        return self._post("optimize/context", _drop_none({
            "model": model, "messages": messages, "max_response_tokens": max_response_tokens,
            "safety_margin": safety_margin, "question": question, "target_tokens": target_tokens,
            "target_ratio": target_ratio, "user": user, "agent": agent,
        }))

    def optimize_chunks(
        self, *, model: str, text: str, max_tokens_per_chunk: int, overlap_tokens: int = 0,
        user: str | None = None, agent: str | None = None,
    ) -> dict:
        """Token-exact chunks of at most ``max_tokens_per_chunk``."""
        return self._post("optimize/chunks", _drop_none({
            "model": model, "text": text, "max_tokens_per_chunk": max_tokens_per_chunk,
            "overlap_tokens": overlap_tokens, "user": user, "agent": agent,
        }))

    def optimize_data_request(
        self, *, model: str, user_request: str, token_budget: int, triage_result: dict | None = None,
        previous_results: Any = None, user: str | None = None, agent: str | None = None,
    ) -> dict:
        """A token-aware data request plan: complexity, strategy, chunks, estimated_tokens."""
        return self._post("optimize/data-request", _drop_none({
            "model": model, "user_request": user_request, "token_budget": token_budget,
            "triage_result": triage_result, "previous_results": previous_results, "user": user, "agent": agent,
        }))

    def cache_lookup(
        self, *, model: str, messages: list[dict], params: dict | None = None, semantic: bool = False,
        similarity_threshold: float | None = None, user: str | None = None, agent: str | None = None,
    ) -> CacheLookup:
        """A cached answer for the same model, messages and answer-changing params, if any; with ``semantic``,
        also one stored for a request that means the same (``similarity`` says how close)."""
        body = _drop_none({"model": model, "messages": messages, "params": params, "semantic": semantic or None,
                           "similarity_threshold": similarity_threshold, "user": user, "agent": agent})
        return CacheLookup.from_json(self._post("cache/lookup", body))

    def cache_store(
        self,
        *,
        model: str,
        messages: list[dict],
        response: Any,
        params: dict | None = None,
        output_tokens: int | None = None,
        ttl_seconds: int | None = None,
        shared: bool = False,
        semantic: bool = False,
        user: str | None = None,
        agent: str | None = None,
    ) -> dict:
        """Store an answer (``shared`` entries need a service key; ``semantic`` ones are found by meaning too)."""
        body = _drop_none({
            "model": model, "messages": messages, "response": response, "params": params,
            "output_tokens": output_tokens, "ttl_seconds": ttl_seconds, "shared": shared or None,
            "semantic": semantic or None, "user": user, "agent": agent,
        })
        return self._post("cache/store", body)

    def cache_stats(self, *, user: str | None = None) -> dict:
        return self._get("cache/stats", {"user": user})

    def template_select(self, *, agent_type: str, richness: str | None = None) -> dict:
        """The lean template for an agent type (``fallback`` says whether richness matched)."""
        return self._get("templates/select", {"agent_type": agent_type, "richness": richness})

    def template_render(
        self, name: str, *, variables: dict[str, Any], version: int | None = None, model: str | None = None,
        user: str | None = None, agent: str | None = None,
    ) -> dict:
        """Render a template; a missing variable is a ValidationError naming it."""
        body = _drop_none({"variables": variables, "version": version, "model": model, "user": user,
                           "agent": agent})
        return self._post(f"templates/{name}/render", body)

    def policy(self, *, user: str | None = None) -> dict:
        """The user's optimization policy: compression level, model, caching, estimated savings."""
        return self._get("policy", {"user": user})

