"""POST /api/v1/cache/lookup and /cache/store, GET /api/v1/cache/stats: the response cache."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, MoneyField, TokenCountField
from core.api.params import USER_PARAM
from core.errors import PermissionDenied
from optimization import cache as response_cache
from optimization.api.base import ActingInputSerializer, valid
from optimization.savings import optimization_enabled
from tokens.auth import acting_user, is_operator, is_service_request


class CacheRequestSerializer(ActingInputSerializer):
    """A provider request: what the cache key is made of."""

    class Meta:
        ref_name = "CacheLookup"

    model = serializers.CharField(max_length=200)
    messages = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text="temperature, tools, response_format, ... (answer-changing only); also read at the top level.",
    )
    semantic = serializers.BooleanField(
        required=False, default=False,
        help_text="Lookup: also hit an entry whose request means the same (stored with semantic). Store: let "
                  "such lookups find this entry.",
    )


class CacheLookupSerializer(CacheRequestSerializer):
    class Meta:
        ref_name = "CacheLookupRequest"

    similarity_threshold = serializers.FloatField(
        required=False, min_value=0.5, max_value=1.0,
        help_text="Semantic lookups: the cosine similarity a hit needs (default per embedding model).",
    )


def _params(request_data: Any, params: dict) -> dict:
    # Parameters may also be sent at the top level, as in a provider request body.
    merged = {k: request_data[k] for k in response_cache.KEY_PARAMS if k in request_data}
    merged.update(params)
    return merged


class CacheLookupApi(APIView):
    class OutputSerializer(serializers.Serializer):
        """A hit carries the stored response. With optimization off: only hit, key and optimization_enabled."""

        class Meta:
            ref_name = "CacheLookupResult"

        hit = serializers.BooleanField()
        key = serializers.CharField(allow_null=True)
        response = serializers.JSONField(required=False, help_text="The stored answer (null on a miss).")
        shared = serializers.BooleanField(required=False, help_text="Stored by a service key for everyone.")
        tokens_saved = serializers.IntegerField(required=False)
        usd_saved = MoneyField(required=False)
        stored_at = IsoDateTimeField(required=False, allow_null=True)
        expires_at = IsoDateTimeField(required=False, allow_null=True)
        similarity = serializers.FloatField(
            required=False, allow_null=True, help_text="Semantic lookups: how similar the matched request is."
        )
        matched_key = serializers.CharField(
            required=False, allow_null=True, help_text="Semantic lookups: the key of the entry served."
        )
        semantic = serializers.BooleanField(required=False, help_text="The hit matched by meaning, not exactly.")
        optimization_enabled = serializers.BooleanField()

        def to_representation(self, instance: Any) -> dict[str, Any]:
            data = super().to_representation(instance)
            if not data["optimization_enabled"]:
                # Nothing was looked up: DRF would add every nullable field as null.
                return {name: data[name] for name in ("hit", "key", "optimization_enabled")}
            return data

    @extend_schema(request=CacheLookupSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
    def post(self, request: Request) -> Response:
        data = valid(CacheLookupSerializer, request.data)
        user = acting_user(request, data.get("user"))
        if not optimization_enabled(user=user):
            return Response(self.OutputSerializer({"hit": False, "key": None, "optimization_enabled": False}).data)
        result = response_cache.cache_lookup(
            user=user,
            model=data["model"],
            messages=data["messages"],
            params=_params(request.data, data["params"]),
            agent=data["agent"],
            semantic=data["semantic"],
            similarity_threshold=data.get("similarity_threshold"),
        )
        return Response(self.OutputSerializer({**result.__dict__, "optimization_enabled": True}).data)


class CacheStoreApi(APIView):
    class InputSerializer(CacheRequestSerializer):
        class Meta:
            ref_name = "CacheStore"

        response = serializers.JSONField(help_text="The answer to store, as your client will want it back.")
        output_tokens = TokenCountField(required=False, help_text="What a hit saves besides the input.")
        ttl_seconds = serializers.IntegerField(required=False, min_value=1, max_value=30 * 24 * 3600)
        shared = serializers.BooleanField(required=False, default=False, help_text="Service keys only.")

    class OutputSerializer(serializers.Serializer):
        """Stored (201); nothing stored (200) with optimization off (stored, key, optimization_enabled) or while
        the cache backend is unreachable (stored false, the rest as if stored)."""

        class Meta:
            ref_name = "CacheStoreResult"

        stored = serializers.BooleanField()
        key = serializers.CharField(allow_null=True)
        shared = serializers.BooleanField(required=False)
        expires_at = IsoDateTimeField(required=False)
        size_bytes = serializers.IntegerField(required=False)
        evicted = serializers.IntegerField(required=False, help_text="Entries evicted to make room.")
        semantic = serializers.BooleanField(required=False, help_text="Indexed for semantic lookups.")
        optimization_enabled = serializers.BooleanField(required=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            200: OpenApiResponse(OutputSerializer, description="Nothing stored: optimization is off, or the cache "
                                                                "backend is unreachable."),
            **error_responses(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        if data["shared"] and not is_service_request(request):
            raise PermissionDenied(
                "Only a service key may store shared entries.", fields={"shared": ["Service keys only."]}
            )
        if not optimization_enabled(user=user):
            return Response(self.OutputSerializer({"stored": False, "key": None, "optimization_enabled": False}).data)
        result = response_cache.cache_store(
            user=user,
            model=data["model"],
            messages=data["messages"],
            response=data["response"],
            params=_params(request.data, data["params"]),
            output_tokens=data.get("output_tokens"),
            ttl_seconds=data.get("ttl_seconds"),
            shared=data["shared"],
            semantic=data["semantic"],
        )
        # A store the cache backend could not take (Redis down) is skipped: 200, stored false.
        return Response(self.OutputSerializer(result.__dict__).data,
                        status=status.HTTP_201_CREATED if result.stored else status.HTTP_200_OK)


class CacheStatsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CacheStats"

    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    hit_rate = serializers.FloatField()
    tokens_saved = serializers.IntegerField()
    usd_saved = MoneyField()
    entries = serializers.IntegerField(help_text="Live entries.")


class CacheStatsApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CacheStatsReport"

        user = CacheStatsSerializer()
        overall = CacheStatsSerializer(required=False, help_text="Across users: staff and service keys only.")

    @extend_schema(parameters=[USER_PARAM], responses={200: OutputSerializer, **error_responses(400, 403)})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        body = {"user": response_cache.cache_stats(user=user)}
        # Totals across users are for operators only.
        if is_operator(request):
            body["overall"] = response_cache.cache_stats()
        return Response(self.OutputSerializer(body).data)
