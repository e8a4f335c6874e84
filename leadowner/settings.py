"""Settings, read from the environment (12-factor).

Embedded default: a SQLite file under var/ and an SQLite-backed Celery broker, so
`make run` needs no server. Production: DATABASE_URL=postgres://..., REDIS_URL=redis://...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

from leadowner.env import ConfigurationError, env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LEADOWNER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG or "pytest" in sys.modules else "")
if not SECRET_KEY:
    raise ConfigurationError(
        "SECRET_KEY is not set. Set SECRET_KEY in the environment (or DEBUG=1 for local development)."
    )
if len(SECRET_KEY) < 32:
    raise ConfigurationError("SECRET_KEY must be at least 32 characters long")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    # leadowner before strawberry_django: its `export_schema` command replaces strawberry_django's.
    "leadowner",
    "strawberry_django",
    "territories",
    "routing",
    "disputes",
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
]

ROOT_URLCONF = "leadowner.urls"
WSGI_APPLICATION = "leadowner.wsgi.application"

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
                "leadowner.console.nav_items",
            ],
        },
    }
]

_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'leadowner.sqlite3'}"
DATABASE_URL = env_url("DATABASE_URL", _SQLITE_DEFAULT, schemes=("sqlite", "postgres", "postgresql", "pgsql"))
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
except Exception as exc:  # dj_database_url raises several types for a malformed URL
    raise ConfigurationError(f"DATABASE_URL is malformed: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, the worker and beat share the file.
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["CONN_MAX_AGE"] = 0
else:
    # PostgreSQL's JIT compiles a query the planner thinks costly: on the console's metrics
    # over 100k+ leads it spent 0.2 s compiling a 0.5 s query (EXPLAIN ANALYZE, the 1M bench
    # book). Our queries are short or index-bound; JIT only adds latency. DB_JIT=1 restores it.
    if not env_bool("DB_JIT", False):
        _db.setdefault("OPTIONS", {})["options"] = "-c jit=off"
# The statements run for every request, compiled once (leadowner.prepared), are also kept
# prepared by PostgreSQL on each connection (only those: Django's own cursors never prepare).
# Off for a pooler in transaction mode that cannot carry prepared statements (PgBouncer
# before 1.22, or without max_prepared_statements): docs/deployment.md.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
DATABASES = {"default": _db}
DATABASE_VENDOR = "sqlite" if _db["ENGINE"].endswith("sqlite3") else "postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL and "pytest" in sys.modules and os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    # Tests in parallel: each pytest-xdist worker gets a Redis database of its own, so one
    # worker's cache.clear() (a FLUSHDB) never wipes another's counters or queues. Only in
    # the pytest process itself: a Celery worker a test starts inherits the variable but is
    # given its broker URL explicitly.
    _worker = int(os.environ["PYTEST_XDIST_WORKER"][2:] or 0)
    _redis_base, _, _redis_db = REDIS_URL.rpartition("/")
    if _redis_db.isdigit() and _redis_base.count("/") >= 2:
        REDIS_URL = f"{_redis_base}/{(int(_redis_db) + 1 + _worker) % 16}"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "leadowner"),
        }
    }
else:
    # Embedded broker: a SQLite file through kombu's SQLAlchemy transport. Nothing to install.
    CELERY_BROKER_URL = f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Reliability: a task is acknowledged after it ran; a task held by a worker that died
# comes back within seconds (visibility timeout + restore interval), not the default hour.
# Tasks are thin and bounded (sweeps work in batches), far shorter than the timeout; they
# re-check state, so a redelivery changes nothing twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 30, minimum=5)
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
else:
    # kombu's SQLAlchemy transport hands every option to create_engine(); it has no
    # visibility timeout, so a task held by a killed worker is not redelivered: the
    # database sweeps (due dates live in the database) are the safety net there.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# whitenoise serves /static/ under gunicorn too (DEBUG off); no CDN, no separate server.
WHITENOISE_USE_FINDERS = True

GRAPHIQL = env_bool("GRAPHIQL", DEBUG)
GRAPHQL_MAX_PAGE_SIZE = env_int("GRAPHQL_MAX_PAGE_SIZE", 1000, minimum=1)
# Reference views for `make bench` (leadowner/bench_views.py); off in production.
BENCH_VIEWS = env_bool("BENCH_VIEWS", False)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "leadowner@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- hardening (docs/security.md) ---------------------------------------------------------
# GraphQL abuse limits, read per operation by leadowner.graphql.limits and the view.
GRAPHQL_MAX_DEPTH = env_int("GRAPHQL_MAX_DEPTH", 12, minimum=1)
GRAPHQL_MAX_ALIASES = env_int("GRAPHQL_MAX_ALIASES", 30, minimum=0)
GRAPHQL_MAX_TOKENS = env_int("GRAPHQL_MAX_TOKENS", 3000, minimum=100)
GRAPHQL_MAX_QUERY_CHARS = env_int("GRAPHQL_MAX_QUERY_CHARS", 50_000, minimum=1000)
GRAPHQL_MAX_BATCH = env_int("GRAPHQL_MAX_BATCH", 10, minimum=1)
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", DEBUG)
# Failed authentication (bearer tokens, console sign-in): at most this many per window
# per address and per credential, then 429 + Retry-After (leadowner.ratelimit).
AUTH_RATE_LIMIT_FAILURES = env_int("AUTH_RATE_LIMIT_FAILURES", 10, minimum=1)
AUTH_RATE_LIMIT_WINDOW = env_int("AUTH_RATE_LIMIT_WINDOW", 300, minimum=1)
# How many reverse proxies in front of the app append to X-Forwarded-For (0: use REMOTE_ADDR).
AUTH_RATE_LIMIT_TRUSTED_PROXIES = env_int("AUTH_RATE_LIMIT_TRUSTED_PROXIES", 0, minimum=0)

# Request id, Content-Security-Policy and Permissions-Policy (leadowner.security), outermost.
MIDDLEWARE.insert(0, "leadowner.security.SecurityHeadersMiddleware")
# Production security, derived from DEBUG (each can still be set in the environment). The
# test suite speaks plain HTTP to its test client and live servers: no redirect under pytest
# (tests/test_deploy_check.py runs `check --deploy` in a subprocess, without pytest).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and "pytest" not in sys.modules)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https
_proxy_ssl = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl:
    if len(_proxy_ssl) != 2:
        raise ConfigurationError("SECURE_PROXY_SSL_HEADER is 'HEADER,value', e.g. HTTP_X_FORWARDED_PROTO,https")
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl[0], _proxy_ssl[1])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
