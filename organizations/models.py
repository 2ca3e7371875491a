"""Organizations, memberships with roles, and projects (docs/organizations.md).

An organization owns projects; users belong to organizations through a
membership carrying a role. Spend is attributed to the organization of the
key's project, else to the user's oldest membership (``selectors``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Organization(models.Model):
    """A customer account: members with roles, projects, and the spend of both."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in an organization: owner, admin (both manage) or member (reads)."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    ROLES = [(OWNER, "owner"), (ADMIN, "admin"), (MEMBER, "member")]
    MANAGER_ROLES = (OWNER, ADMIN)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=ROLES, default=MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_org_user_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in self.MANAGER_ROLES


class Project(models.Model):
    """A unit of work inside an organization; keys attached to it attribute their spend to it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    # Requests and tokens per minute over every key of the project (budgets.ratelimits); null: no limit.
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute; blank: none.")
    tpm_limit = models.PositiveBigIntegerField(null=True, blank=True, help_text="Tokens per minute; blank: none.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="project_org_slug_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"
