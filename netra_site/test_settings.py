"""Test overrides on top of the env-driven settings (cookiecutter-django style)."""

from netra_site.settings import *  # noqa: F401,F403

TESTING = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
NETRA_CATALOG_CACHE_SECONDS = 3600  # tests invalidate explicitly
