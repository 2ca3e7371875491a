"""Thin DRF views: organizations, their members with roles, their projects (v1).

Everyone signed in sees the organizations they belong to, and nothing of others (404). Owners and
admins manage members and projects; members read.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.fields import IsoDateTimeField, StrictCharField
from core.api.params import query_int
from core.errors import NotFound
from organizations import services
from organizations.models import Membership, Organization, Project
from organizations.selectors import memberships_of, role_in

LIMIT = {"required": False, "allow_null": True, "min_value": 0, "max_value": 2**31 - 1}


class OrganizationOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Organization"

    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    role = serializers.CharField(allow_null=True, help_text="The caller's role: owner, admin or member.")
    created_at = IsoDateTimeField()


def _org_out(organization: Organization, role: str | None) -> dict:
    return {"id": organization.pk, "name": organization.name, "slug": organization.slug, "role": role,
            "created_at": organization.created_at}


class OrganizationListApi(APIView):
    """GET the caller's organizations; POST creates one, with the caller as its owner."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrganizationCreate"

        name = StrictCharField(max_length=120)
        slug = StrictCharField(max_length=60, required=False, allow_blank=True)

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrganizationList"

        organizations = OrganizationOutputSerializer(many=True)

    @extend_schema(operation_id="organizations_list", responses={200: ListOutputSerializer, **error_responses()})
    def get(self, request: Request) -> Response:
        rows = [_org_out(m.organization, m.role) for m in memberships_of(request.user).order_by("organization__name")]
        return Response(self.ListOutputSerializer({"organizations": rows}).data)

    @extend_schema(request=InputSerializer, responses={201: OrganizationOutputSerializer, **error_responses(400, 409)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_create(by=request.user, **data.validated_data)
        return Response(OrganizationOutputSerializer(_org_out(organization, Membership.OWNER)).data,
                        status=status.HTTP_201_CREATED)


class OrganizationDetailApi(APIView):
    @extend_schema(operation_id="organizations_retrieve",
                   responses={200: OrganizationOutputSerializer, **error_responses(404)})
    def get(self, request: Request, organization_id: int) -> Response:
        organization = services.organization_require(user=request.user, organization_id=organization_id)
        return Response(OrganizationOutputSerializer(_org_out(organization, role_in(request.user, organization))).data)


class MemberOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Member"

    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Membership.ROLES)
    created_at = IsoDateTimeField()


class MemberListApi(APIView):
    """GET the members (any member); POST adds one by username (owners and admins; owners add owners)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MemberAdd"

        username = StrictCharField(max_length=150)
        role = serializers.ChoiceField(choices=Membership.ROLES, default=Membership.MEMBER)

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MemberList"

        members = MemberOutputSerializer(many=True)

    @extend_schema(operation_id="organization_members_list",
                   responses={200: ListOutputSerializer, **error_responses(404)})
    def get(self, request: Request, organization_id: int) -> Response:
        organization = services.organization_require(user=request.user, organization_id=organization_id)
        members = organization.memberships.select_related("user").order_by("user__username")
        return Response(self.ListOutputSerializer({"members": members}).data)

    @extend_schema(request=InputSerializer,
                   responses={201: MemberOutputSerializer, **error_responses(400, 403, 404, 409)})
    def post(self, request: Request, organization_id: int) -> Response:
        organization = services.organization_require(user=request.user, organization_id=organization_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_add(by=request.user, organization=organization, **data.validated_data)
        return Response(MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(APIView):
    """PATCH a member's role; DELETE removes them (a member may leave). The last owner stays."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MemberUpdate"

        role = serializers.ChoiceField(choices=Membership.ROLES)

    def _membership(self, request: Request, organization_id: int, user_id: int) -> Membership:
        organization = services.organization_require(user=request.user, organization_id=organization_id)
        membership = organization.memberships.select_related("user", "organization").filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("No such member.")
        return membership

    @extend_schema(request=InputSerializer,
                   responses={200: MemberOutputSerializer, **error_responses(400, 403, 404, 409)})
    def patch(self, request: Request, organization_id: int, user_id: int) -> Response:
        membership = self._membership(request, organization_id, user_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_update(by=request.user, membership=membership, role=data.validated_data["role"])
        return Response(MemberOutputSerializer(membership).data)

    @extend_schema(responses={200: MemberOutputSerializer, **error_responses(403, 404, 409)},
                   description="Remove a member; answers with the membership as it was.")
    def delete(self, request: Request, organization_id: int, user_id: int) -> Response:
        membership = self._membership(request, organization_id, user_id)
        services.member_remove(by=request.user, membership=membership)
        return Response(MemberOutputSerializer(membership).data)


class ProjectOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Project"

    id = serializers.IntegerField()
    organization = serializers.IntegerField(source="organization_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    rpm_limit = serializers.IntegerField(allow_null=True, help_text="Requests per minute over its keys.")
    tpm_limit = serializers.IntegerField(allow_null=True, help_text="Tokens per minute over its keys.")
    created_at = IsoDateTimeField()


class ProjectListApi(APIView):
    """GET the projects of the caller's organizations (``?organization=``); POST creates one (owners, admins)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectCreate"

        organization = serializers.IntegerField(min_value=1, max_value=2**62)
        name = StrictCharField(max_length=120)
        slug = StrictCharField(max_length=60, required=False, allow_blank=True)
        rpm_limit = serializers.IntegerField(**LIMIT)
        tpm_limit = serializers.IntegerField(**LIMIT)

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectList"

        projects = ProjectOutputSerializer(many=True)

    @extend_schema(
        operation_id="projects_list",
        parameters=[OpenApiParameter("organization", int, description="Only this organization's projects.")],
        responses={200: ListOutputSerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        qs = Project.objects.filter(organization__memberships__user=request.user)
        organization = query_int(request.query_params, "organization")
        if organization is not None:
            qs = qs.filter(organization_id=organization)
        return Response(self.ListOutputSerializer({"projects": qs.order_by("organization_id", "name", "pk")}).data)

    @extend_schema(request=InputSerializer,
                   responses={201: ProjectOutputSerializer, **error_responses(400, 403, 404, 409)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        organization = services.organization_require(user=request.user, organization_id=values.pop("organization"))
        project = services.project_create(by=request.user, organization=organization, **values)
        return Response(ProjectOutputSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProjectUpdate"

        name = StrictCharField(max_length=120, required=False)
        rpm_limit = serializers.IntegerField(**LIMIT)
        tpm_limit = serializers.IntegerField(**LIMIT)

    def _project(self, request: Request, project_id: int) -> Project:
        project = Project.objects.select_related("organization").filter(pk=project_id).first()
        if project is None:
            raise NotFound("No such project.")
        services.organization_require(user=request.user, organization_id=project.organization_id)
        return project

    @extend_schema(operation_id="projects_retrieve", responses={200: ProjectOutputSerializer, **error_responses(404)})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectOutputSerializer(self._project(request, project_id)).data)

    @extend_schema(request=InputSerializer, responses={200: ProjectOutputSerializer, **error_responses(400, 403, 404)})
    def patch(self, request: Request, project_id: int) -> Response:
        project = self._project(request, project_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        return Response(ProjectOutputSerializer(services.project_update(by=request.user, project=project,
                                                                        **changes)).data)

    @extend_schema(responses={200: ProjectOutputSerializer, **error_responses(403, 404)},
                   description="Delete a project; its keys stay, attributed to their user's organization from then on.")
    def delete(self, request: Request, project_id: int) -> Response:
        project = self._project(request, project_id)
        body = ProjectOutputSerializer(project).data
        services.project_delete(by=request.user, project=project)
        return Response(body)
