"""Thin DRF views for the token-saving services (optimize, cache, templates)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import StrictCharField, TokenCountField
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.money import money_str
from optimization import cache as response_cache
from optimization.chunking import chunk_text
from optimization.compression import DEFAULT_MAX_EXAMPLES, LEVELS
from optimization.context import fit_context
from optimization.data_request import plan_data_request
from optimization.models import PromptTemplate
from optimization.savings import optimization_enabled, savings_record_create, user_preference_set
from optimization.services import prompt_optimize, template_render_for, template_select
from tokens.auth import acting_user, is_operator, is_service_request
from tokens.pricing import catalog
from tokens.tokenizer import count_messages, count_text

MAX_TEXT = 2_000_000


class _Acting(serializers.Serializer):
    user = serializers.CharField(required=False, help_text="Service keys only: act for this user.")
    agent = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _price_or_400(model: str):
    price = catalog.latest(model)
    if price is None:
        raise InvalidInput(
            f"Unknown model {model!r}.", code="unknown_model", fields={"model": ["Not in the catalog."]}
        )
    return price


class OptimizePromptApi(APIView):
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "OptimizePromptInput"

        model = serializers.CharField(max_length=200)
        prompt = StrictCharField(trim_whitespace=False, max_length=MAX_TEXT)
        level = serializers.ChoiceField(choices=LEVELS, default="balanced")
        target_reduction = serializers.FloatField(
            required=False,
            min_value=0.0,
            max_value=0.95,
            help_text="Fraction, e.g. 0.3; escalates the level until met.",
        )
        max_examples = serializers.IntegerField(
            required=False, min_value=0, max_value=50, default=DEFAULT_MAX_EXAMPLES
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptimizePromptOutput"

        optimized = serializers.CharField()
        original_tokens = serializers.IntegerField()
        optimized_tokens = serializers.IntegerField()
        savings_percent = serializers.FloatField()
        techniques = serializers.ListField(child=serializers.CharField())
        level = serializers.CharField()
        optimization_enabled = serializers.BooleanField()
        removed_examples = serializers.IntegerField()
        target_met = serializers.BooleanField(allow_null=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        result = prompt_optimize(
            user=user,
            model=data["model"],
            prompt=data["prompt"],
            level=data["level"],
            target_reduction=data.get("target_reduction"),
            max_examples=data["max_examples"],
            agent=data["agent"],
        )
        return Response(
            self.OutputSerializer(
                {
                    **result.__dict__,
                    "optimization_enabled": result.enabled,
                }
            ).data
        )


class OptimizeContextApi(APIView):
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "OptimizeContextInput"

        model = serializers.CharField(max_length=200)
        messages = serializers.ListField(child=serializers.DictField(), allow_empty=False)
        max_response_tokens = TokenCountField(required=False, default=2000)
        safety_margin = serializers.FloatField(required=False, min_value=0.1, max_value=1.0, default=0.9)

        def validate_messages(self, value):
            for i, msg in enumerate(value):
                if not isinstance(msg.get("role"), str):
                    raise serializers.ValidationError(f"Message {i} has no role.")
            return value

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        price = _price_or_400(data["model"])
        if not price.context_window:
            raise InvalidInput(
                f"Model {data['model']!r} has no context window in the catalog.",
                code="unknown_context_window",
                fields={"model": ["No context window."]},
            )
        messages, model = data["messages"], data["model"]
        if not optimization_enabled(user=user):
            tokens = count_messages(messages, model, price.provider).tokens
            budget = int(data["safety_margin"] * price.context_window) - data["max_response_tokens"]
            return Response(
                {
                    "messages": messages,
                    "dropped": 0,
                    "dropped_indices": [],
                    "tokens": tokens,
                    "original_tokens": tokens,
                    "budget": budget,
                    "summary_inserted": False,
                    "optimization_enabled": False,
                }
            )
        result = fit_context(
            messages,
            model=model,
            context_window=price.context_window,
            max_response_tokens=data["max_response_tokens"],
            safety_margin=data["safety_margin"],
        )
        if result.dropped:
            savings_record_create(
                user=user,
                technique="context_fit",
                model=model,
                original_tokens=result.original_tokens,
                optimized_tokens=result.tokens,
                agent=data["agent"],
            )
        return Response(
            {
                "messages": result.messages,
                "dropped": result.dropped,
                "dropped_indices": result.dropped_indices,
                "tokens": result.tokens,
                "original_tokens": result.original_tokens,
                "budget": result.budget,
                "summary_inserted": result.summary_inserted,
                "optimization_enabled": True,
            }
        )


class OptimizeChunksApi(APIView):
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "OptimizeChunksInput"

        model = serializers.CharField(max_length=200)
        text = StrictCharField(trim_whitespace=False, max_length=MAX_TEXT)
        max_tokens_per_chunk = TokenCountField(min_value=1, max_value=1_000_000)
        overlap_tokens = TokenCountField(required=False, default=0)

        def validate(self, attrs):
            if attrs["overlap_tokens"] >= attrs["max_tokens_per_chunk"]:
                raise serializers.ValidationError(
                    {"overlap_tokens": ["Must be less than max_tokens_per_chunk."]}
                )
            return attrs

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        acting_user(request, data.get("user"))
        chunks = chunk_text(
            data["text"],
            model=data["model"],
            max_tokens=data["max_tokens_per_chunk"],
            overlap_tokens=data["overlap_tokens"],
        )
        return Response(
            {
                "count": len(chunks),
                "total_tokens": count_text(data["text"], data["model"]).tokens,
                "chunks": [
                    {"index": i, "text": c.text, "tokens": c.tokens, "start": c.start, "end": c.end}
                    for i, c in enumerate(chunks)
                ],
            }
        )


class OptimizeDataRequestApi(APIView):
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "OptimizeDataRequestInput"

        model = serializers.CharField(max_length=200)
        user_request = StrictCharField(max_length=MAX_TEXT)
        triage_result = serializers.DictField(required=False, default=dict)
        previous_results = serializers.JSONField(required=False, default=None)
        token_budget = TokenCountField(min_value=1)

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        enabled = optimization_enabled(user=user)
        plan = plan_data_request(
            user_request=data["user_request"],
            triage_result=data["triage_result"],
            previous_results=data["previous_results"],
            token_budget=data["token_budget"],
            model=data["model"],
            optimize=enabled,
        )
        if enabled and plan.estimated_tokens < plan.baseline_tokens:
            savings_record_create(
                user=user,
                technique="data_request",
                model=data["model"],
                original_tokens=plan.baseline_tokens,
                optimized_tokens=plan.estimated_tokens,
                agent=data["agent"],
            )
        return Response(
            {
                "complexity": plan.complexity,
                "strategy": plan.strategy,
                "chunks": plan.chunks,
                "estimated_tokens": plan.estimated_tokens,
                "baseline_tokens": plan.baseline_tokens,
                "optimization_applied": plan.optimization_applied,
                "techniques": plan.techniques,
                "omitted": plan.omitted,
                "features": plan.features,
                "within_budget": plan.estimated_tokens <= data["token_budget"],
                "optimization_enabled": enabled,
            }
        )


class _CacheRequest(_Acting):
    class Meta:
        ref_name = "CacheLookupInput"

    model = serializers.CharField(max_length=200)
    messages = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="temperature, tools, response_format, ... (answer-changing only)",
    )


def _params(request_data, params: dict) -> dict:
    # Parameters may also be sent at the top level, as in a provider request body.
    merged = {k: request_data[k] for k in response_cache.KEY_PARAMS if k in request_data}
    merged.update(params)
    return merged


class CacheLookupApi(APIView):
    @extend_schema(request=_CacheRequest, responses=dict)
    def post(self, request: Request) -> Response:
        data = _valid(_CacheRequest, request.data)
        user = acting_user(request, data.get("user"))
        if not optimization_enabled(user=user):
            return Response({"hit": False, "key": None, "optimization_enabled": False})
        result = response_cache.cache_lookup(
            user=user,
            model=data["model"],
            messages=data["messages"],
            params=_params(request.data, data["params"]),
            agent=data["agent"],
        )
        return Response(
            {
                "hit": result.hit,
                "key": result.key,
                "response": result.response,
                "shared": result.shared,
                "tokens_saved": result.tokens_saved,
                "usd_saved": money_str(result.usd_saved),
                "stored_at": result.stored_at,
                "expires_at": result.expires_at,
                "optimization_enabled": True,
            }
        )


class CacheStoreApi(APIView):
    class InputSerializer(_CacheRequest):
        class Meta:
            ref_name = "CacheStoreInput"

        response = serializers.JSONField()
        output_tokens = TokenCountField(required=False)
        ttl_seconds = serializers.IntegerField(required=False, min_value=1, max_value=30 * 24 * 3600)
        shared = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        if data["shared"] and not is_service_request(request):
            raise PermissionDenied(
                "Only a service key may store shared entries.", fields={"shared": ["Service keys only."]}
            )
        if not optimization_enabled(user=user):
            return Response({"stored": False, "key": None, "optimization_enabled": False})
        result = response_cache.cache_store(
            user=user,
            model=data["model"],
            messages=data["messages"],
            response=data["response"],
            params=_params(request.data, data["params"]),
            output_tokens=data.get("output_tokens"),
            ttl_seconds=data.get("ttl_seconds"),
            shared=data["shared"],
        )
        return Response(
            {
                "stored": result.stored,
                "key": result.key,
                "shared": result.shared,
                "expires_at": result.expires_at,
                "size_bytes": result.size_bytes,
                "evicted": result.evicted,
            },
            # A store the cache backend could not take (Redis down) is skipped: 200, stored false.
            status=status.HTTP_201_CREATED if result.stored else status.HTTP_200_OK,
        )


def _stats_json(stats: dict) -> dict:
    return {**stats, "usd_saved": money_str(stats["usd_saved"])}


class CacheStatsApi(APIView):
    @extend_schema(parameters=[OpenApiParameter("user", str, required=False)], responses=dict)
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        body = {"user": _stats_json(response_cache.cache_stats(user=user))}
        # Totals across users are for operators only.
        if is_operator(request):
            body["overall"] = _stats_json(response_cache.cache_stats())
        return Response(body)


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
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "TemplateRenderInput"

        variables = serializers.DictField(required=False, default=dict)
        version = serializers.IntegerField(required=False, min_value=1)
        model = serializers.CharField(required=False, max_length=200)

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request, name: str) -> Response:
        data = _valid(self.InputSerializer, request.data)
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


class OptimizePreferenceApi(APIView):
    class InputSerializer(_Acting):
        class Meta:
            ref_name = "OptimizePreferenceInput"

        optimization_enabled = serializers.BooleanField()

    @extend_schema(parameters=[OpenApiParameter("user", str, required=False)], responses=dict)
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response({"optimization_enabled": optimization_enabled(user=user)})

    @extend_schema(request=InputSerializer, responses=dict)
    def put(self, request: Request) -> Response:
        data = _valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        pref = user_preference_set(user=user, optimization_enabled=data["optimization_enabled"])
        return Response({"optimization_enabled": pref.optimization_enabled})
