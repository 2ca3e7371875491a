"""Thin DRF views: a customer's own API keys (v1). The raw key is in the creation's answer only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, StrictCharField
from core.errors import InvalidInput, NotFound
from organizations.models import Project
from tokens import selectors, services
from tokens.models import ApiKey

LIMIT = {"required": False, "allow_null": True, "min_value": 0, "max_value": 2**31 - 1}


class ApiKeyOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ApiKey"

    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(source="key_prefix", help_text="The key's first characters, to recognise it.")
    user = serializers.CharField(source="user.username")
    project = serializers.IntegerField(source="project_id", allow_null=True)
    rpm_limit = serializers.IntegerField(allow_null=True, help_text="Requests per minute; null: no limit.")
    tpm_limit = serializers.IntegerField(allow_null=True, help_text="Tokens per minute; null: no limit.")
    is_service = serializers.BooleanField()
    created_at = IsoDateTimeField()
    last_used_at = IsoDateTimeField(allow_null=True)
    revoked_at = IsoDateTimeField(allow_null=True)


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    class Meta:
        ref_name = "ApiKeyCreated"

    key = serializers.CharField(help_text="The raw key. Shown this once: only its hash is stored.")


def _key_for(request: Request, key_id: int) -> ApiKey:
    key = selectors.api_keys_visible(user=request.user).filter(pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    return key


class ApiKeyListApi(APIView):
    """GET the caller's keys (and, for owners and admins, their organizations' project keys); POST creates one."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiKeyCreate"

        name = StrictCharField(max_length=100)
        project = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**62,
                                           help_text="Attribute the key's spend to this project.")
        rpm_limit = serializers.IntegerField(**LIMIT)
        tpm_limit = serializers.IntegerField(**LIMIT)

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiKeyList"

        keys = ApiKeyOutputSerializer(many=True)

    @extend_schema(operation_id="keys_list", responses={200: ListOutputSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        return Response(self.ListOutputSerializer({"keys": selectors.api_keys_visible(user=request.user)}).data)

    @extend_schema(request=InputSerializer, responses={201: ApiKeyCreatedSerializer, **error_responses(400, 403)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        project = None
        if values.get("project") is not None:
            project = Project.objects.select_related("organization").filter(pk=values["project"]).first()
            if project is None:
                raise InvalidInput(f"Unknown project {values['project']}.", fields={"project": ["No such project."]})
        key, raw = services.api_key_create_for(by=request.user, name=values["name"], project=project,
                                               rpm_limit=values.get("rpm_limit"), tpm_limit=values.get("tpm_limit"))
        key.user = request.user
        key.key = raw  # on this instance only, for this one answer
        return Response(ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(APIView):
    """GET one key; PATCH its name and limits; DELETE revokes it (it stops working at once)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiKeyUpdate"

        name = StrictCharField(max_length=100, required=False)
        rpm_limit = serializers.IntegerField(**LIMIT)
        tpm_limit = serializers.IntegerField(**LIMIT)

    @extend_schema(operation_id="keys_retrieve", responses={200: ApiKeyOutputSerializer, **error_responses(404)})
    def get(self, request: Request, key_id: int) -> Response:
        return Response(ApiKeyOutputSerializer(_key_for(request, key_id)).data)

    @extend_schema(request=InputSerializer, responses={200: ApiKeyOutputSerializer, **error_responses(400, 403, 404)})
    def patch(self, request: Request, key_id: int) -> Response:
        key = _key_for(request, key_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        return Response(ApiKeyOutputSerializer(services.api_key_update(by=request.user, key=key, **changes)).data)

    @extend_schema(responses={200: ApiKeyOutputSerializer, **error_responses(403, 404)})
    def delete(self, request: Request, key_id: int) -> Response:
        key = services.api_key_revoke(key=_key_for(request, key_id), by=request.user)
        return Response(ApiKeyOutputSerializer(key).data)
