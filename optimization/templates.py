"""Lean prompt templates: variable syntax, rendering, and the shipped templates.

Variables are written ``{{name}}`` (double braces) so JSON examples inside a
template need no escaping. Rendering substitutes plain text only: no
attribute access, no expressions.
"""

from __future__ import annotations

import json
import re

from core.errors import InvalidInput

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class MissingVariables(InvalidInput):
    """Raised with the names of the variables a render did not supply."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"Missing variables: {', '.join(names)}.", code="missing_variable",
            fields={"variables": {n: ["This variable is required."] for n in names}},
        )
        self.names = names


def template_variables(body: str) -> list[str]:
    """Variable names in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in VARIABLE_RE.finditer(body or "")))


def template_render(body: str, variables: dict[str, object]) -> str:
    missing = [name for name in template_variables(body) if name not in variables]
    if missing:
        raise MissingVariables(missing)

    def value(match: re.Match) -> str:
        v = variables[match.group(1)]
        if isinstance(v, (dict, list)):
            return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        return str(v)

    return VARIABLE_RE.sub(value, body)


# The shipped templates. A data migration (tokens/migrations/0003_*) loads a
# frozen copy of these; edit templates in the admin as new versions.
TRIAGE_BASELINE = """You are a highly capable and helpful AI assistant that works as a triage agent for our \
optimization platform. Your task is to carefully read and analyze the user's request below and then \
determine which category it belongs to. Please make sure that you think about it very carefully and \
consider all of the possible categories before you make your final decision.

The possible categories that you can choose from are the following:
- "cost_optimization": the user would like to reduce the cost of their AI workloads
- "performance_optimization": the user would like to improve the latency or throughput of their workloads
- "data_analysis": the user would like us to analyze some data that they have
- "general_question": the user has a general question that does not fit into any of the other categories

Please could you also extract any of the important entities that are mentioned in the request, such as \
model names, dollar amounts, time ranges and metrics, and list all of them.

It is very important that you return your answer in JSON format. The JSON object that you return should \
contain the following keys: "category", "confidence" (a number between 0 and 1), "entities" (a list of \
strings) and "data_needed" (a list of the data sources that would be needed in order to answer the request).
Do not include any additional text or explanation outside of the JSON object.

Here is the user's request that you need to triage:
{{user_request}}"""

TRIAGE_LEAN = """Triage the request.
Categories: cost_optimization, performance_optimization, data_analysis, general_question.
Return JSON only: {"category":str,"confidence":0-1,"entities":[str],"data_needed":[str]}
Entities: models, $ amounts, time ranges, metrics.
Request: {{user_request}}"""

DATA_REQUEST_BASELINE = """You are a data request assistant. Your job is to help the user by writing a \
clear and complete request for the data that is needed in order to answer their question. Please read the \
user's original request and the triage result very carefully, and then write a request that asks for all \
of the data that is required.

Please make sure that you do not ask for any data that has already been provided in the previous results, \
because asking for it again would be a waste of time and tokens.

For each of the data items that you request, please explain in detail what the data item is, why it is \
needed, what time range it should cover and what format it should be provided in. It is important to note \
that the data should be provided in JSON format whenever it is possible to do so.

The user's original request was:
{{user_request}}

The result of the triage step was:
{{triage_result}}

The results that have already been provided previously are:
{{previous_results}}

Please write the data request now."""

DATA_REQUEST_LEAN = """Request only the missing data to answer the user.
Request: {{user_request}}
Triage: {{triage_result}}
Already have (do not request): {{previous_results}}
Per item: name, why, time range. JSON preferred."""

SHIPPED_TEMPLATES = [
    {
        "name": "triage",
        "agent_type": "triage",
        "richness": "low",
        "body": TRIAGE_LEAN,
        "baseline_body": TRIAGE_BASELINE,
    },
    {
        "name": "data_request",
        "agent_type": "data",
        "richness": "low",
        "body": DATA_REQUEST_LEAN,
        "baseline_body": DATA_REQUEST_BASELINE,
    },
]
