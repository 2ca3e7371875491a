"""GET /api/v1/templates/select and POST /api/v1/templates/{name}/render: lean prompt templates."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.errors import InvalidInput, NotFound
from optimization.api.base import ActingInputSerializer, valid
from optimization.models import PromptTemplate
from optimization.services import template_render_for, template_select
from tokens.auth import acting_user


class TemplateSelectApi(APIView):
    class OutputSerializer(serializers.Serializer):
        """The active template for an agent type, and how closely it matched the request."""

        class Meta:
            ref_name = "TemplateSelection"

        name = serializers.CharField()
        agent_type = serializers.CharField()
        richness = serializers.ChoiceField(choices=PromptTemplate.RICHNESS)
        version = serializers.IntegerField()
        body = serializers.CharField()
        variables = serializers.ListField(child=serializers.CharField(), help_text="Names in {{name}} slots.")
        token_count = serializers.IntegerField()
        token_model = serializers.CharField(help_text="The tokenizer the counts are for.")
        baseline_token_count = serializers.IntegerField(help_text="0: no baseline prompt to compare with.")
        tokens_saved = serializers.IntegerField()
        savings_percent = serializers.FloatField()
        matched = serializers.ChoiceField(
            choices=["exact", "agent_type", "general"],
            help_text="exact; agent_type (another richness); general (the fallback template).",
        )
        fallback = serializers.BooleanField()

    @extend_schema(
        parameters=[
            OpenApiParameter("agent_type", str, required=True),
            OpenApiParameter("richness", str, enum=[value for value, _ in PromptTemplate.RICHNESS]),
        ],
        responses={200: OutputSerializer, **error_responses(400, 404)},
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
        # Annotated like a queryset annotation: how the template was found is part of the answer.
        template.matched, template.fallback = matched, matched != "exact"
        return Response(self.OutputSerializer(template).data)


class TemplateRenderApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "TemplateRender"

        variables = serializers.DictField(required=False, default=dict)
        version = serializers.IntegerField(required=False, min_value=1, help_text="Default: the active one.")
        model = serializers.CharField(required=False, max_length=200, help_text="Count tokens for this model.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TemplateRendering"

        name = serializers.CharField(source="template.name")
        version = serializers.IntegerField(source="template.version")
        rendered = serializers.CharField()
        tokens = serializers.IntegerField()
        baseline_tokens = serializers.IntegerField(allow_null=True, help_text="Null: the template has no baseline.")
        tokens_saved = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403, 404)})
    def post(self, request: Request, name: str) -> Response:
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        qs = PromptTemplate.objects.filter(name=name)
        qs = qs.filter(version=data["version"]) if "version" in data else qs.filter(is_active=True)
        template = qs.order_by("-version").first()
        if template is None:
            raise NotFound(f"No template named {name!r}.")
        rendering = template_render_for(
            user=user,
            template=template,
            variables=data["variables"],
            model=data.get("model"),
            agent=data["agent"],
        )
        return Response(self.OutputSerializer(rendering).data)
