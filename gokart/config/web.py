"""The web process: debug mode, the secret key, hosts, HTTPS behind a proxy, where files go."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from gokart.config import knob

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(
    knob(
        "GOKART_VAR_DIR",
        str(BASE_DIR / "var"),
        "where beat's schedule, the file-system "
        "broker and the embedded PostgreSQL keep their files",
    )
)
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = knob("DEBUG", False, "1 for local development")
SECRET_KEY = knob("SECRET_KEY", "", "required unless DEBUG=1")
if not SECRET_KEY:
    allow_insecure = knob(
        "GOKART_ALLOW_INSECURE_KEY",
        False,
        "1 lets a non-DEBUG process start without SECRET_KEY (the benchmarks' servers only)",
    )
    if not DEBUG and not allow_insecure:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for local development).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

# gokart/encryption.py: the first key encrypts, all decrypt; outside DEBUG check --deploy fails
# without one, under DEBUG one is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = knob(
    "FIELD_ENCRYPTION_KEYS",
    [],
    "Fernet keys, newest first, encrypting partners' signing "
    "secrets and authenticator keys at rest",
)
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    _derived = hashlib.sha256(b"gokart.field-encryption:" + SECRET_KEY.encode()).digest()
    FIELD_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(_derived).decode()]

ALLOWED_HOSTS = knob("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], "comma-separated")
CSRF_TRUSTED_ORIGINS = knob("CSRF_TRUSTED_ORIGINS", [], "e.g. https://backoffice.example.com")

# X-Forwarded-For is believed only behind the TLS proxy: the address is the last one in the
# header, the one that proxy appended.
GOKART_HTTPS = knob(
    "GOKART_HTTPS",
    False,
    "1 behind TLS: secure cookies, redirect to HTTPS, HSTS, trust the "
    "proxy's X-Forwarded-Proto and X-Forwarded-For",
)
GOKART_TRUST_X_FORWARDED_FOR = knob(
    "GOKART_TRUST_X_FORWARDED_FOR",
    GOKART_HTTPS,
    "take the client's address from the last X-Forwarded-For entry (audit, lockout, rate limits)",
)
SECURE_SSL_REDIRECT = knob("SECURE_SSL_REDIRECT", True, "with GOKART_HTTPS: redirect plain HTTP")
SECURE_HSTS_SECONDS = knob(
    "SECURE_HSTS_SECONDS", 365 * 24 * 3600, "with GOKART_HTTPS: how long browsers keep to HTTPS"
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = knob(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", True, "with GOKART_HTTPS: HSTS for subdomains too"
)
SECURE_HSTS_PRELOAD = knob("SECURE_HSTS_PRELOAD", True, "with GOKART_HTTPS: HSTS preload")

MEDIA_ROOT = Path(
    knob("MEDIA_ROOT", str(VAR_DIR / "media"), "where uploaded import files and reports are kept")
)
LOG_LEVEL = knob("LOG_LEVEL", "INFO", "the root logger's level")
