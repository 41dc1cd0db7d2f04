"""`manage.py check --deploy` is clean with the production settings the README documents."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def production_environment() -> dict[str, str]:
    database = settings.DATABASES["default"]
    login = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    url = (
        f"postgres://{login}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEBUG", "DJANGO_", "ADMIN_", "GOKART_", "SECURE_", "AXES_"))
    }
    environment.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "GOKART_HTTPS": "1",
            "ALLOWED_HOSTS": "backoffice.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://backoffice.example.com",
            "DATABASE_URL": url,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )
    return environment


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
def test_check_deploy_reports_no_issues():
    result = manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_turn_on_2fa_secure_cookies_and_hsts():
    script = (
        "from django.conf import settings as s; print(s.ADMIN_REQUIRE_2FA, "
        "s.ADMIN_REQUIRE_2FA_FOR_PERMISSIONS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.GOKART_TRUST_X_FORWARDED_FOR)"
    )
    result = manage("shell", "--verbosity", "0", "--command", script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 6 + ["31536000", "True"]
