"""Test overrides on top of the env-driven settings (cookiecutter-django style)."""

from netra_site.settings import *  # noqa: F401,F403

TESTING = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
NETRA_CATALOG_CACHE_SECONDS = 3600  # tests invalidate explicitly

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not shared-cache memory: threads then wait on SQLite's lock
    # (busy timeout) as the embedded server does, instead of failing at once.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}  # noqa: F405
