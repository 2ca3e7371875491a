"""POST /api/v1/optimize/prompt, /context, /chunks and /data-request: make a call smaller."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.fields import StrictCharField, TokenCountField
from core.errors import InvalidInput
from optimization.api.base import MAX_QUESTION, MAX_TEXT, ActingInputSerializer, price_or_400, valid
from optimization.chunking import chunk_text
from optimization.compression import DEFAULT_MAX_EXAMPLES, LEVELS
from optimization.context import fit_context
from optimization.data_request import plan_data_request
from optimization.savings import optimization_enabled, savings_record_create
from optimization.services import prompt_optimize, relevance_ranker, target_tokens_for
from tokens.auth import acting_user
from tokens.tokenizer import count_messages, count_text


class QuestionTargetFields(serializers.Serializer):
    # What question-aware compression and targets take, on /optimize/prompt and /optimize/context alike.

    question = StrictCharField(
        required=False, default="", allow_blank=True, max_length=MAX_QUESTION,
        help_text="The question the prompt is for: material least relevant to it is dropped (never instructions "
                  "or the question).",
    )
    target_tokens = TokenCountField(required=False, min_value=1, help_text="At most this many tokens, if it can.")
    target_ratio = serializers.FloatField(
        required=False, min_value=0.01, max_value=1.0,
        help_text="At most this share of the original tokens (0.5 keeps half), if it can.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        given = [name for name in ("target_tokens", "target_ratio", "target_reduction") if attrs.get(name) is not None]
        if len(given) > 1:
            raise serializers.ValidationError({name: ["Give one target."] for name in given})
        return attrs


class DroppedSerializer(serializers.Serializer):
    class Meta:
        ref_name = "DroppedMaterial"

    text = serializers.CharField(help_text="As it was in the input.")
    relevance = serializers.FloatField(help_text="Its score for the question (higher is more relevant).")


class OptimizePromptApi(APIView):
    class InputSerializer(QuestionTargetFields, ActingInputSerializer):
        class Meta:
            ref_name = "OptimizePrompt"

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
            ref_name = "PromptOptimization"

        optimized = serializers.CharField()
        original_tokens = serializers.IntegerField()
        optimized_tokens = serializers.IntegerField()
        savings_percent = serializers.FloatField()
        techniques = serializers.ListField(child=serializers.CharField())
        level = serializers.CharField()
        optimization_enabled = serializers.BooleanField(source="enabled")
        removed_examples = serializers.IntegerField()
        target_met = serializers.BooleanField(allow_null=True, help_text="Null without a target.")
        target_tokens = serializers.IntegerField(allow_null=True, help_text="The token target (from target_ratio).")
        dropped = DroppedSerializer(many=True, help_text="Material the question or the target made go, in order.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
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
            question=data["question"],
            target_tokens=data.get("target_tokens"),
            target_ratio=data.get("target_ratio"),
        )
        return Response(self.OutputSerializer(result).data)


class OptimizeContextApi(APIView):
    class InputSerializer(QuestionTargetFields, ActingInputSerializer):
        class Meta:
            ref_name = "OptimizeContext"

        model = serializers.CharField(max_length=200)
        messages = serializers.ListField(child=serializers.DictField(), allow_empty=False)
        max_response_tokens = TokenCountField(required=False, default=2000)
        safety_margin = serializers.FloatField(required=False, min_value=0.1, max_value=1.0, default=0.9)

        def validate_messages(self, value):
            for i, msg in enumerate(value):
                if not isinstance(msg.get("role"), str):
                    raise serializers.ValidationError(f"Message {i} has no role.")
            return value

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ContextFit"

        messages = serializers.ListField(child=serializers.DictField(), help_text="The history that fits.")
        dropped = serializers.IntegerField()
        dropped_indices = serializers.ListField(child=serializers.IntegerField())
        tokens = serializers.IntegerField()
        original_tokens = serializers.IntegerField()
        budget = serializers.IntegerField(help_text="safety_margin x context window - max_response_tokens.")
        summary_inserted = serializers.BooleanField()
        optimization_enabled = serializers.BooleanField()
        target_met = serializers.BooleanField(allow_null=True, help_text="Null without a target.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403, 422)})
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
            return Response(self.OutputSerializer({
                "messages": messages,
                "dropped": 0,
                "dropped_indices": [],
                "tokens": tokens,
                "original_tokens": tokens,
                "budget": budget,
                "summary_inserted": False,
                "optimization_enabled": False,
                "target_met": None,
            }).data)
        result = fit_context(
            messages,
            model=model,
            context_window=price.context_window,
            max_response_tokens=data["max_response_tokens"],
            safety_margin=data["safety_margin"],
            question=data["question"],
            ranker=relevance_ranker(),
            target_tokens=target_tokens_for(
                original=count_messages(messages, model, price.provider).tokens,
                target_tokens=data.get("target_tokens"), target_ratio=data.get("target_ratio"),
            ),
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
        return Response(self.OutputSerializer({**result.__dict__, "optimization_enabled": True}).data)


class TextChunkSerializer(serializers.Serializer):
    class Meta:
        ref_name = "TextChunk"

    index = serializers.IntegerField()
    text = serializers.CharField()
    tokens = serializers.IntegerField()
    start = serializers.IntegerField(help_text="Character offset in the text.")
    end = serializers.IntegerField(help_text="Character offset in the text (exclusive).")


class OptimizeChunksApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "OptimizeChunks"

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

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TextChunks"

        count = serializers.IntegerField()
        total_tokens = serializers.IntegerField()
        chunks = TextChunkSerializer(many=True)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
    def post(self, request: Request) -> Response:
        data = valid(self.InputSerializer, request.data)
        acting_user(request, data.get("user"))
        chunks = chunk_text(
            data["text"],
            model=data["model"],
            max_tokens=data["max_tokens_per_chunk"],
            overlap_tokens=data["overlap_tokens"],
        )
        return Response(self.OutputSerializer({
            "count": len(chunks),
            "total_tokens": count_text(data["text"], data["model"]).tokens,
            "chunks": [{"index": i, **c.__dict__} for i, c in enumerate(chunks)],
        }).data)


class DataRequestChunkSerializer(serializers.Serializer):
    class Meta:
        ref_name = "DataRequestChunk"

    index = serializers.IntegerField()
    text = serializers.CharField()
    tokens = serializers.IntegerField()


class OptimizeDataRequestApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "DataRequestOptimization"

        model = serializers.CharField(max_length=200)
        user_request = StrictCharField(max_length=MAX_TEXT)
        triage_result = serializers.DictField(
            required=False, default=dict, help_text="data_needed (or data_requirements, ...), entities, examples."
        )
        previous_results = serializers.JSONField(
            required=False, default=None, help_text="What the agent already has: not requested again."
        )
        token_budget = TokenCountField(min_value=1)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DataRequestPlan"

        complexity = serializers.ChoiceField(choices=["low", "medium", "high"])
        strategy = serializers.ChoiceField(choices=["direct", "focused_examples", "progressive_disclosure"])
        chunks = DataRequestChunkSerializer(many=True, help_text="Send in order; stop once answered.")
        estimated_tokens = serializers.IntegerField()
        baseline_tokens = serializers.IntegerField(help_text="The same request without optimization.")
        optimization_applied = serializers.BooleanField()
        techniques = serializers.ListField(child=serializers.CharField())
        omitted = serializers.ListField(child=serializers.CharField(), help_text="Already in previous_results.")
        features = serializers.DictField(child=serializers.IntegerField(), help_text="What the complexity is from.")
        within_budget = serializers.BooleanField()
        optimization_enabled = serializers.BooleanField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
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
        return Response(self.OutputSerializer({
            **plan.__dict__,
            "within_budget": plan.estimated_tokens <= data["token_budget"],
            "optimization_enabled": enabled,
        }).data)
