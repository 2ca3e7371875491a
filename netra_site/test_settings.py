"""Test overrides on top of the env-driven settings (cookiecutter-django style)."""

import os

# As the embedded default runs under `make run` (static files from the finders, the browsable API);
# production settings are tested in subprocesses with their own environment.
os.environ.setdefault("DEBUG", "True")

from netra_site.settings import *  # noqa: E402,F401,F403

TESTING = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in the test's process on both backends (a test that needs a real worker starts one).
CELERY_TASK_ALWAYS_EAGER = True
# The caches outlive each test: counters of one test's failed keys must not throttle the next one's
# (tests/test_abuse_limits.py turns them on).
NETRA_AUTH_FAILURES_LIMIT = ""
NETRA_THROTTLE_USER = ""
NETRA_CATALOG_CACHE_SECONDS = 3600  # tests invalidate explicitly
# Test databases roll back, so user ids repeat across tests: a cached estimate would leak between them.
NETRA_ESTIMATE_CACHE_SECONDS = 0
# Nothing reaches the network: a test that forgets its fake provider hits a closed loopback port.
NETRA_OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
NETRA_ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
NETRA_OPENAI_API_KEY = NETRA_ANTHROPIC_API_KEY = ""
NETRA_GATEWAY_CACHE_SECONDS = 0  # tests change credentials and settings between calls
NETRA_GATEWAY_ENCRYPTION_KEY = "kvDpx0l8Xr8c0Q3bq0m1tq0bqjJw8b1wN3lq2M8oKxA="

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not shared-cache memory: threads then wait on SQLite's lock
    # (busy timeout) as the embedded server does, instead of failing at once.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}  # noqa: F405
