"""POST /api/v1/cache/lookup and /cache/store, GET /api/v1/cache/stats: the response cache."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import TokenCountField
from core.errors import PermissionDenied
from core.money import money_str
from optimization import cache as response_cache
from optimization.api.base import ActingInputSerializer, valid
from optimization.savings import optimization_enabled
from tokens.auth import acting_user, is_operator, is_service_request


class _CacheRequest(ActingInputSerializer):
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
        data = valid(_CacheRequest, request.data)
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
        data = valid(self.InputSerializer, request.data)
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
                "stored": True,
                "key": result.key,
                "shared": result.shared,
                "expires_at": result.expires_at,
                "size_bytes": result.size_bytes,
                "evicted": result.evicted,
            },
            status=status.HTTP_201_CREATED,
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
