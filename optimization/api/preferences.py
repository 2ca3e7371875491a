"""GET and PUT /api/v1/optimize/preferences: whether the token-saving services optimize for a user."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from optimization.api.base import ActingInputSerializer, valid
from optimization.savings import optimization_enabled, user_preference_set
from tokens.auth import acting_user


class OptimizePreferenceApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "OptimizePreferenceInput"

        optimization_enabled = serializers.BooleanField()

    @extend_schema(parameters=[OpenApiParameter("user", str, required=False)], responses=dict)
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response({"optimization_enabled": optimization_enabled(user=user)})

    @extend_schema(request=InputSerializer, responses=dict)
    def put(self, request: Request) -> Response:
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        pref = user_preference_set(user=user, optimization_enabled=data["optimization_enabled"])
        return Response({"optimization_enabled": pref.optimization_enabled})
