"""Response hardening for the console, a request id on every request, and the rate-limited sign-in.

`SecurityHeadersMiddleware` (installed in settings' hardening block):
- gives every request an id (`request.request_id`, the `X-Request-ID` response header),
  the one a masked GraphQL error quotes and the log line of its traceback carries;
- puts a Content-Security-Policy on every page but the GraphQL endpoint's JSON: the
  console loads only our own static files (htmx included, no CDN, no inline script, no
  eval; htmx's `hx-headers` attribute is data, not script), so `default-src 'self'`
  holds; frames, plugins, <base> and foreign form targets are refused;
- adds Permissions-Policy (no camera, microphone, geolocation ...).

Django's own settings do the rest (settings' hardening block): HSTS, HTTPS redirect,
secure cookies, nosniff, Referrer-Policy, X-Frame-Options DENY, COOP.

`RateLimitedLoginView`: Django's LoginView behind leadowner.ratelimit: too many failed
sign-ins from an address, or for a username, answer 429 with Retry-After before the
password is checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from leadowner import audit, ratelimit
from leadowner.graphql.limits import REQUEST_ID_ATTR, new_request_id

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
# The GraphQL endpoint answers JSON (its GraphiQL page, off in production, loads its own assets).
NO_CSP_PATHS = ("/graphql",)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        setattr(request, REQUEST_ID_ATTR, request_id)
        response = self.get_response(request)
        response.headers.setdefault("X-Request-ID", request_id)
        if not request.path.startswith(NO_CSP_PATHS):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class RateLimitedLoginView(LoginView):
    """The console sign-in, refused with 429 + Retry-After past the failure limits."""

    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        limited = ratelimit.sign_in_refusal(request, username)
        if limited is not None:
            audit.record_refused_sign_in(request=request, username=username, now=timezone.now())
            # An unbound form: binding it would validate it, and validating checks the password.
            form = self.get_form_class()(request=request, initial={"username": username[:150]})
            form.cleaned_data = {}
            form.add_error(None, f"Too many failed sign-in attempts. Try again in {limited.retry_after} seconds.")
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        ratelimit.record_sign_in_failure(self.request, str(self.request.POST.get("username", "")))
        return super().form_invalid(form)
