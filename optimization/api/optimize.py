"""POST /api/v1/optimize/prompt, /context, /chunks and /data-request: make a call smaller."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import StrictCharField, TokenCountField
from core.errors import InvalidInput
from optimization.api.base import MAX_TEXT, ActingInputSerializer, price_or_400, valid
from optimization.chunking import chunk_text
from optimization.compression import DEFAULT_MAX_EXAMPLES, LEVELS
from optimization.context import fit_context
from optimization.data_request import plan_data_request
from optimization.savings import optimization_enabled, savings_record_create
from optimization.services import prompt_optimize
from tokens.auth import acting_user
from tokens.tokenizer import count_messages, count_text


class OptimizePromptApi(APIView):
    class InputSerializer(ActingInputSerializer):
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
        data = valid(self.InputSerializer, request.data)
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
    class InputSerializer(ActingInputSerializer):
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
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        price = price_or_400(data["model"])
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
    class InputSerializer(ActingInputSerializer):
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
        data = valid(self.InputSerializer, request.data)
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
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "OptimizeDataRequestInput"

        model = serializers.CharField(max_length=200)
        user_request = StrictCharField(max_length=MAX_TEXT)
        triage_result = serializers.DictField(required=False, default=dict)
        previous_results = serializers.JSONField(required=False, default=None)
        token_budget = TokenCountField(min_value=1)

    @extend_schema(request=InputSerializer, responses=dict)
    def post(self, request: Request) -> Response:
        data = valid(self.InputSerializer, request.data)
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
