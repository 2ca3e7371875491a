"""GET /api/v1/templates/select and POST /api/v1/templates/{name}/render: lean prompt templates."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidInput, NotFound
from optimization.api.base import ActingInputSerializer, valid
from optimization.models import PromptTemplate
from optimization.services import template_render_for, template_select
from tokens.auth import acting_user


class TemplateSelectApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("agent_type", str, required=True),
            OpenApiParameter("richness", str, required=False),
        ],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        agent_type = request.query_params.get("agent_type", "").strip()
        if not agent_type:
            raise InvalidInput("agent_type is required.", fields={"agent_type": ["This field is required."]})
        richness = request.query_params.get("richness") or None
        if richness and richness not in dict(PromptTemplate.RICHNESS):
            raise InvalidInput("richness must be low, medium or high.", fields={"richness": ["Invalid choice."]})
        template, matched = template_select(agent_type=agent_type, richness=richness)
        if template is None:
            raise NotFound(f"No template for agent type {agent_type!r}.")
        return Response({**template_out(template), "matched": matched, "fallback": matched != "exact"})


def template_out(t: PromptTemplate) -> dict:
    return {
        "name": t.name,
        "agent_type": t.agent_type,
        "richness": t.richness,
        "version": t.version,
        "body": t.body,
        "variables": t.variables,
        "token_count": t.token_count,
        "token_model": t.token_model,
        "baseline_token_count": t.baseline_token_count,
        "tokens_saved": t.tokens_saved,
        "savings_percent": t.savings_percent,
    }


class TemplateRenderApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "TemplateRenderInput"

        variables = serializers.DictField(required=False, default=dict)
        version = serializers.IntegerField(required=False, min_value=1)
        model = serializers.CharField(required=False, max_length=200)

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request, name: str) -> Response:
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        qs = PromptTemplate.objects.filter(name=name)
        qs = qs.filter(version=data["version"]) if "version" in data else qs.filter(is_active=True)
        template = qs.order_by("-version").first()
        if template is None:
            raise NotFound(f"No template named {name!r}.")
        out = template_render_for(
            user=user,
            template=template,
            variables=data["variables"],
            model=data.get("model"),
            agent=data["agent"],
        )
        return Response(
            {
                "name": template.name,
                "version": template.version,
                "rendered": out.rendered,
                "tokens": out.tokens,
                "baseline_tokens": out.baseline_tokens,
                "tokens_saved": out.tokens_saved,
            }
        )
