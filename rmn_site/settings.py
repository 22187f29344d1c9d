"""One settings module for every environment; everything that differs between machines comes from the
environment (see docs/deploy.md for the full list)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from rmn_site.envconfig import (
    broker_url,
    database_config,
    env_bool,
    env_int,
    env_list,
    env_origins,
    env_path,
    env_proxy_ssl_header,
    env_str,
    result_backend,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("RMN_VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (set DEBUG=1 for local development).")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "governance",
    "campaigns",
    "harmonization",
    "optimizer",
    "feedback",
    "ml",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rmn_site.urls"
WSGI_APPLICATION = "rmn_site.wsgi.application"
ASGI_APPLICATION = "rmn_site.asgi.application"

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
                "governance.context_processors.tenancy",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL"),
        sqlite_default=VAR_DIR / "rmn.sqlite3",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password logins (the login page, the Django admin's) go through django-axes first: after LOGIN_FAILURE_LIMIT wrong
# passwords for one username from one client address within LOGIN_COOLOFF_MINUTES, that pair is refused (the right
# password too) until the cool-off has passed since its last try. API keys never pass through `authenticate`.
AUTHENTICATION_BACKENDS = [
    "governance.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "governance.login_throttle.client_ip"
AXES_VERBOSE = False  # no banner on every manage.py command; failures and lockouts are still logged
# How many proxies in front of the web machines append to X-Forwarded-For (0: count the connection's address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
# Where base models and LoRA adapters live; GPU workers mount the same path (docs/deploy.md).
MODEL_STORAGE_DIR = env_path("MODEL_STORAGE_DIR", VAR_DIR / "models")
# The base language model: a Hugging Face model id or a local folder (loaded with local_files_only, never downloaded).
# The default is the embedded SmolLM2-135M-Instruct once `manage.py prepare_base_model` has converted it.
BASE_MODEL = env_str("RMN_BASE_MODEL", "") or str(MODEL_STORAGE_DIR / "base" / "SmolLM2-135M-Instruct")
# The LoRA runtime (docs/lora_runtime.md): byte bound of the composed-merge LRU cache, optional bound on loaded
# adapters, base model dtype on GPU workers ("bfloat16"; empty: as transformers loads it), default answer length, and
# whether a worker loads every active adapter when it starts (set on GPU workers so first requests skip cold loads).
LORA_CACHE_BYTES = env_int("LORA_CACHE_BYTES", 256 * 2**20, minimum=0)
LORA_ADAPTER_CACHE_BYTES = env_int("LORA_ADAPTER_CACHE_BYTES", 0, minimum=0) or None
BASE_MODEL_DTYPE = env_str("BASE_MODEL_DTYPE", "") or None
GENERATION_MAX_NEW_TOKENS = env_int("GENERATION_MAX_NEW_TOKENS", 256, minimum=1)
ML_PRELOAD_ADAPTERS = env_bool("ML_PRELOAD_ADAPTERS", False)
# Limits on shared workers and inputs, per tenant (docs/deploy.md "Limits"): these are the defaults; an administrator
# overrides any of them for one tenant in Django admin (Tenant limits). Counts of 0 switch the thing off.
TENANT_LIMITS = {
    "training_jobs_at_once": env_int("LIMIT_TRAINING_JOBS_AT_ONCE", 2, minimum=0),
    "training_jobs_per_day": env_int("LIMIT_TRAINING_JOBS_PER_DAY", 10, minimum=0),
    "generations_per_day": env_int("LIMIT_GENERATIONS_PER_DAY", 1000, minimum=0),
    "generation_text_chars": env_int("LIMIT_GENERATION_TEXT_CHARS", 1000, minimum=1),
    "upload_bytes": env_int("LIMIT_UPLOAD_BYTES", 2 * 1024**3, minimum=1),
    "import_rows": env_int("LIMIT_IMPORT_ROWS", 10_000_000, minimum=1),
    "import_columns": env_int("LIMIT_IMPORT_COLUMNS", 500, minimum=1),
}
# Clean rooms (docs/governance.md): where the measurement services' client finds the gateway (empty: this site, at the
# address of the request that asks) and its API keys, one per tenant slug in a JSON file (`seed_cleanroom` writes the
# demo's); how long it waits and how often it tries. CLEANROOM_FAULT_INJECTION lets tests make the gateway fail on
# request (never set it in production).
CLEANROOM_GATEWAY_URL = env_str("CLEANROOM_GATEWAY_URL", "") or None
CLEANROOM_KEYS_FILE = env_path("CLEANROOM_KEYS_FILE", VAR_DIR / "cleanroom_keys.json")
CLEANROOM_CLIENT_TIMEOUT_S = float(env_int("CLEANROOM_CLIENT_TIMEOUT_S", 20, minimum=1))
CLEANROOM_CLIENT_ATTEMPTS = env_int("CLEANROOM_CLIENT_ATTEMPTS", 4, minimum=1)
CLEANROOM_FAULT_INJECTION = env_bool("CLEANROOM_FAULT_INJECTION", False)
# The shape of one generation's prompt, for every tenant: messages in a conversation, characters in all.
GENERATION_MAX_MESSAGES = env_int("GENERATION_MAX_MESSAGES", 20, minimum=1)
GENERATION_PROMPT_CHARS = env_int("GENERATION_PROMPT_CHARS", 8000, minimum=1)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# HTTPS (docs/deploy.md has a production example). All off by default so that `make demo` works over plain HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# SECURE_COOKIES=1 sets both; either can also be set on its own.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", env_bool("SECURE_COOKIES", False))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", env_bool("SECURE_COOKIES", False))
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header(
    "SECURE_PROXY_SSL_HEADER", behind_proxy=env_bool("BEHIND_TLS_PROXY", False)
)

REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rmn"}
}

# --- Celery -----------------------------------------------------------------------------------------------
CELERY_DIR = env_path("CELERY_DATA_DIR", VAR_DIR / "celery")
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url(env_str("CELERY_BROKER_URL"), folder=CELERY_DIR)
CELERY_RESULT_BACKEND = result_backend(env_str("CELERY_RESULT_BACKEND"), broker=CELERY_BROKER_URL, folder=CELERY_DIR)
CELERY_TASK_DEFAULT_QUEUE = "cpu"
# Exact names win over patterns: the reaper only touches the database, so it runs on the cpu queue and never waits
# behind a training job (or for a live gpu worker); generation has its own queue, so a worker that reads only
# `inference` answers while others train.
CELERY_TASK_ROUTES = {
    "ml.reap_dead_jobs": {"queue": "cpu"},
    "ml.generate": {"queue": "inference"},
    "ml.generate_request": {"queue": "inference"},
    "feedback.creative_brief_run": {"queue": "inference"},
    # The gate loads the base model and scores two adapter versions: gpu work, after the job it judges.
    "feedback.gate_finished_retrains": {"queue": "gpu"},
    "ml.*": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
# Periodic work (run `celery -A rmn_site beat` beside the workers, docs/deploy.md): bandit policies observe the
# day's performance and decide the next day's allocation; reapers fail work whose worker died; old uploads go.
# Uploaded files and quarantined rows (raw rows: personal data may be in them) are deleted this long after an import.
INGEST_UPLOAD_RETENTION_DAYS = env_int("INGEST_UPLOAD_RETENTION_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "bandit-update-all": {"task": "optimizer.bandit_update_all", "schedule": 60 * 60 * 24},
    "ml-reap-dead-jobs": {"task": "ml.reap_dead_jobs", "schedule": 60},
    "harmonization-reap-dead-batches": {"task": "harmonization.reap_dead_batches", "schedule": 60},
    "optimizer-reap-dead-plans": {"task": "optimizer.reap_dead_plans", "schedule": 60},
    "feedback-queue-finished-plans": {"task": "feedback.queue_finished_plans", "schedule": 60},
    "feedback-reap-dead-briefs": {"task": "feedback.reap_dead_briefs", "schedule": 60},
    # Expires: a busy gpu worker must not find a pile of these waiting behind a training job (one does them all).
    "feedback-gate-finished-retrains": {
        "task": "feedback.gate_finished_retrains",
        "schedule": 60,
        "options": {"expires": 55},
    },
    "harmonization-purge-old-uploads": {"task": "harmonization.purge_old_uploads", "schedule": 60 * 60 * 24},
}

# --- REST API ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api_auth.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": os.environ.get("API_THROTTLE_RATE", "1200/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RMN LoRA Optimization System API",
    "DESCRIPTION": "Tenant-scoped partner API. Authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise send the schema's address to validator.swagger.io: the docs contact no other host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# Error messages may quote the value a form or a service refused: redacted when added (docs/governance.md).
MESSAGE_STORAGE = "governance.message_storage.RedactingStorage"

# Every handler redacts personal data from the records it writes (governance.pii.logging; docs/governance.md); Celery
# workers, which replace the root logger's handlers, get the same filter in rmn_site/celery.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "governance.pii.logging.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own handlers (DEFAULT_LOGGING: console, django.server, mail_admins) are replaced: its records go to the
    # filtered root handler.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        "presidio-analyzer": {"level": "WARNING"},  # it lists every recognizer it loads at INFO
    },
}
