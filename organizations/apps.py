from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    """Tenancy: organizations, their members with roles, and the projects inside them."""

    name = "organizations"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"
