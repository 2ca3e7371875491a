"""Drop-in wrappers: ``wrap_openai(client, tracker)`` and ``wrap_anthropic(client, tracker)``.

They return a proxy of the SDK client. Chat Completions (``chat.completions.create`` and
``.stream``), Responses (``responses.create``) and Messages (``messages.create`` and
``.stream``) are tracked, streamed or not, sync or async; everything else passes through
untouched. The original client is not modified. Per call, ``netra_agent=``,
``netra_tool=`` and ``netra_metadata=`` override the tracker's defaults and are removed
before the SDK sees the call.

A hard budget that says no raises ``BudgetExceeded`` before the provider is called.
Anything else that goes wrong in tracking is logged and the agent's call goes on.
"""

from netra_client.wrappers.anthropic import wrap_anthropic
from netra_client.wrappers.openai import wrap_openai

__all__ = ["wrap_anthropic", "wrap_openai"]
