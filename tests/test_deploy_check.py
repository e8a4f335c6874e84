"""Production configuration: `check --deploy` passes with no warning, and the console sends its security headers.

The deploy check runs `manage.py` in a subprocess with a production environment (DEBUG
off, a secret key from the environment, a real host name) and without pytest loaded,
exactly as a server would start.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from leadowner.security import CONTENT_SECURITY_POLICY
from tests.factories import ManagerFactory

ROOT = Path(__file__).resolve().parent.parent


def _secret() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(50))


def _production(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "SECURE_", "SESSION_", "CSRF_", "GRAPH"))
        and k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=_secret(),
        ALLOWED_HOSTS="leadowner.example.com",
        LEADOWNER_VAR_DIR=str(tmp_path),
        **extra,
    )
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check_with_no_warnings(tmp_path):
    result = _manage(_production(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deploy_check_fails_when_production_is_weakened(tmp_path):
    # The check is not vacuous: turning off the HTTPS redirect and HSTS is reported.
    env = _production(tmp_path, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_production_settings_are_derived_from_debug(tmp_path):
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in ["
        "'DEBUG','SECURE_SSL_REDIRECT','SECURE_HSTS_SECONDS','SECURE_HSTS_INCLUDE_SUBDOMAINS','SECURE_HSTS_PRELOAD',"
        "'SESSION_COOKIE_SECURE','CSRF_COOKIE_SECURE','SESSION_COOKIE_HTTPONLY','SECURE_CONTENT_TYPE_NOSNIFF',"
        "'X_FRAME_OPTIONS','SECURE_REFERRER_POLICY','GRAPHQL_INTROSPECTION','GRAPHIQL']}))"
    )
    env = _production(tmp_path, SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    result = _manage(env, "shell", "-c", script + "; print(s.SECURE_PROXY_SSL_HEADER)")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert json.loads(first) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "GRAPHQL_INTROSPECTION": False,
        "GRAPHIQL": False,
    }
    assert second == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_production_refuses_to_start_without_a_secret_key_from_the_environment(tmp_path):
    env = _production(tmp_path)
    del env["SECRET_KEY"]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


# Headers on the console ---------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=False, SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_the_console_sends_csp_hsts_frame_sniff_and_referrer_headers():
    user = User.objects.create_user(username="mona", password="pw-for-tests-only")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert response["Strict-Transport-Security"].startswith("max-age=31536000; includeSubDomains")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_the_login_page_has_the_headers_too():
    response = Client().get("/login/")
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_to_https_in_production():
    response = Client().get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


_INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "an inline <style>"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on* event handler"),
    (re.compile(r"\bhx-on", re.I), "hx-on (htmx evaluates it as script)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"""hx-va(ls|rs)\s*=\s*['"]\s*(js|javascript):""", re.I), "hx-vals with script"),
]


def test_no_template_needs_what_the_csp_refuses():
    """The CSP allows only our own files: no inline script, style, handler or eval in any template."""
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern, what in _INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert problems == []


def test_htmx_is_told_not_to_inject_its_inline_indicator_style():
    base = (ROOT / "templates" / "base.html").read_text()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in base
    assert ".htmx-indicator" in (ROOT / "static" / "console.css").read_text()
