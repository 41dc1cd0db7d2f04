"""The one settings module: Django's own settings here, the project's knobs (each read from the
environment, with its default and one line of meaning) from one module per concern under
``gokart/config/``: ``web``, ``database``, ``celery``, ``imports``, ``api``, ``access``,
``tracking``, ``callbacks``. The README's configuration table is checked against them
(``tests/test_configuration.py``).

PostgreSQL only (15 or newer): ``DATABASE_URL`` names it (``gokart/config/database.py``).
Celery uses its filesystem transport (no broker server) unless ``CELERY_BROKER_URL`` says
otherwise. Production and CI set ``DATABASE_URL`` to their PostgreSQL and ``CELERY_BROKER_URL``
to Redis.
"""

# The knobs, by concern (each module's public names are settings).
from gokart.config.access import *  # noqa: F403
from gokart.config.api import *  # noqa: F403
from gokart.config.callbacks import *  # noqa: F403
from gokart.config.celery import *  # noqa: F403
from gokart.config.database import *  # noqa: F403
from gokart.config.imports import *  # noqa: F403
from gokart.config.tracking import *  # noqa: F403
from gokart.config.web import *  # noqa: F403
from gokart.config.web import BASE_DIR, DEBUG, GOKART_HTTPS, LOG_LEVEL

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
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind TLS: secure cookies, the proxy's scheme believed, and (gokart/config/web.py) the
# redirect to HTTPS and HSTS; without it those stay off.
if GOKART_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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

if not GOKART_HTTPS:
    SECURE_SSL_REDIRECT = False
    SECURE_HSTS_SECONDS = 0

if DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

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
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
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
