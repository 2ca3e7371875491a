"""Server-rendered pages: the Keys page (keys, their limits, this minute's use) and the Organizations page.

The pages call the same services as the API, so the rules are the same: a customer manages their own
keys; an organization's owners and admins manage its members, projects and project keys; members read.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from budgets.ratelimits import rate_limits_for, rate_usage
from core.errors import DomainError
from core.validation import text_error
from organizations import services as org_services
from organizations.models import Membership, Project
from organizations.selectors import can_manage, memberships_of
from tokens import selectors as token_selectors
from tokens import services as token_services


def _clean_text(value: str) -> str:
    problem = text_error(value)
    if problem:
        raise forms.ValidationError(problem)
    return value.strip()


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False, empty_label="(no project)")
    rpm_limit = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, label="Requests / minute")
    tpm_limit = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, label="Tokens / minute")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = (
            Project.objects.filter(organization__memberships__user=user).select_related("organization")
        )

    def clean_name(self) -> str:
        return _clean_text(self.cleaned_data["name"])


def _key_rows(user) -> list[dict]:
    rows = []
    for key in token_selectors.api_keys_visible(user=user):
        limit = next(iter(rate_limits_for(api_key=key, user=None, project=None)), None)
        used = rate_usage(limit=limit) if limit is not None else {"requests": 0, "tokens": 0}
        rows.append({"key": key, "used": used, "mine": key.user_id == user.pk})
    return rows


@login_required
def keys_page(request: HttpRequest) -> HttpResponse:
    """List, create (the raw key shown once, in this answer only) and revoke keys."""
    created = None
    form = KeyForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, raw = token_services.api_key_create_for(by=request.user, name=data["name"], project=data["project"],
                                                         rpm_limit=data["rpm_limit"], tpm_limit=data["tpm_limit"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            created = {"key": key, "raw": raw}
            form = KeyForm(user=request.user)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "keys.html", {"form": form, "created": created, "rows": _key_rows(request.user)},
                  status=status)


@login_required
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = token_selectors.api_keys_visible(user=request.user).filter(pk=key_id).first()
    if key is None:
        messages.error(request, "No such key.")
    else:
        try:
            token_services.api_key_revoke(key=key, by=request.user)
            messages.success(request, f"Revoked {key.name} ({key.key_prefix}…).")
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("keys-page")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.MEMBER)

    def clean_username(self) -> str:
        return _clean_text(self.cleaned_data["username"])


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
    rpm_limit = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, label="Requests / minute")
    tpm_limit = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, label="Tokens / minute")

    def clean_name(self) -> str:
        return _clean_text(self.cleaned_data["name"])


@login_required
def organizations_page(request: HttpRequest) -> HttpResponse:
    """The caller's organizations: members with roles and projects; forms for owners and admins."""
    orgs = []
    for membership in memberships_of(request.user).order_by("organization__name"):
        organization = membership.organization
        orgs.append({
            "organization": organization,
            "role": membership.role,
            "manage": can_manage(request.user, organization),
            "members": organization.memberships.select_related("user").order_by("user__username"),
            "projects": organization.projects.order_by("name"),
            "member_form": MemberForm(prefix=f"m{organization.pk}"),
            "project_form": ProjectForm(prefix=f"p{organization.pk}"),
        })
    return render(request, "organizations.html", {"orgs": orgs, "roles": Membership.ROLES})


@login_required
@require_POST
def organization_action(request: HttpRequest, organization_id: int) -> HttpResponse:
    """One manager action from the Organizations page: add a member, change a role, remove, add a project."""
    action = request.POST.get("action", "")
    try:
        organization = org_services.organization_require(user=request.user, organization_id=organization_id)
        if action == "add_member":
            form = MemberForm(request.POST, prefix=f"m{organization.pk}")
            if not form.is_valid():
                raise DomainError("Check the member form: " + "; ".join(
                    f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
            org_services.member_add(by=request.user, organization=organization, **form.cleaned_data)
            messages.success(request, f"Added {form.cleaned_data['username']}.")
        elif action in ("set_role", "remove_member"):
            membership = organization.memberships.select_related("organization", "user").filter(
                user_id=_int(request.POST.get("user_id"))).first()
            if membership is None:
                raise DomainError("No such member.")
            if action == "set_role":
                role = request.POST.get("role", "")
                if role not in dict(Membership.ROLES):
                    raise DomainError("Choose owner, admin or member.")
                org_services.member_update(by=request.user, membership=membership, role=role)
                messages.success(request, f"{membership.user.username} is now {role}.")
            else:
                org_services.member_remove(by=request.user, membership=membership)
                messages.success(request, f"Removed {membership.user.username}.")
        elif action == "add_project":
            form = ProjectForm(request.POST, prefix=f"p{organization.pk}")
            if not form.is_valid():
                raise DomainError("Check the project form: " + "; ".join(
                    f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
            org_services.project_create(by=request.user, organization=organization, **form.cleaned_data)
            messages.success(request, f"Created project {form.cleaned_data['name']}.")
        else:
            raise DomainError("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("organizations-page")


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0
