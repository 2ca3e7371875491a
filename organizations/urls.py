"""API routes of organizations, members and projects, mounted under /api/v1/."""

from django.urls import path

from organizations import api

urlpatterns = [
    path("organizations", api.OrganizationListApi.as_view(), name="organizations"),
    path("organizations/<id:organization_id>", api.OrganizationDetailApi.as_view(), name="organization-detail"),
    path("organizations/<id:organization_id>/members", api.MemberListApi.as_view(), name="organization-members"),
    path("organizations/<id:organization_id>/members/<id:user_id>", api.MemberDetailApi.as_view(),
         name="organization-member"),
    path("projects", api.ProjectListApi.as_view(), name="projects"),
    path("projects/<id:project_id>", api.ProjectDetailApi.as_view(), name="project-detail"),
]
