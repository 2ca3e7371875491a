"""GET and PUT /api/v1/optimize/preferences: whether the token-saving services optimize for a user."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.params import USER_PARAM
from optimization.api.base import ActingInputSerializer, valid
from optimization.savings import optimization_enabled, user_preference_set
from tokens.auth import acting_user


class OptimizePreferenceApi(APIView):
    class InputSerializer(ActingInputSerializer):
        class Meta:
            ref_name = "OptimizationPreference"

        optimization_enabled = serializers.BooleanField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OptimizationPreference"

        optimization_enabled = serializers.BooleanField(
            help_text="Off: the services answer without optimizing and record no savings."
        )

    @extend_schema(parameters=[USER_PARAM], responses={200: OutputSerializer, **error_responses(400, 403)})
    def get(self, request: Request) -> Response:
        user = acting_user(request, request.query_params.get("user"))
        return Response(self.OutputSerializer({"optimization_enabled": optimization_enabled(user=user)}).data)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, **error_responses(400, 403)})
    def put(self, request: Request) -> Response:
        data = valid(self.InputSerializer, request.data)
        user = acting_user(request, data.get("user"))
        pref = user_preference_set(user=user, optimization_enabled=data["optimization_enabled"])
        return Response(self.OutputSerializer(pref).data)
