"""Failed authentication is rate-limited, per address and per credential, in the shared cache.

Two callers: a bearer token on /graphql that does not authenticate, and a failed console
sign-in. Each failure counts against the client's address and against the credential
it named (a token's prefix, a sign-in's username). Past `settings.AUTH_RATE_LIMIT_FAILURES`
failures within `settings.AUTH_RATE_LIMIT_WINDOW` seconds the answer is 429 with a
Retry-After header saying when the window ends:

- an address over its limit is refused every bearer request and every sign-in attempt
  before any credential is looked at (a guesser gets no more database reads);
- a token prefix over its limit refuses further *failing* attempts on it, while the
  real holder still gets in: the prefix is not secret (it is in listings and logs), the
  secret after it is 256 random bits nobody guesses, so locking the holder out would only
  let anyone who saw the prefix take the token away;
- a username over its limit refuses every sign-in as that user, from anywhere, for the
  rest of the window, before the password is checked: a password can be guessed, so a
  correct guess must not get through either.

Counters are fixed windows in Django's cache (Redis in production), keyed by a digest of
the address or credential. The cache is bookkeeping, not a gate: when it is down the
limiter lets requests through and logs it, so a Redis outage never takes sign-in or the
API down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

from leadowner.auth import bearer_token
from leadowner.tokens import parse_token

logger = logging.getLogger("leadowner.ratelimit")

ADDRESS = "addr"
TOKEN_PREFIX = "prefix"
USERNAME = "user"


@dataclass(frozen=True)
class Limited:
    """A refusal: which counter is over its limit, and for how many more seconds."""

    scope: str
    retry_after: int


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the X-Forwarded-For entry the trusted proxies added.

    With `AUTH_RATE_LIMIT_TRUSTED_PROXIES = n`, the n-th address from the right of
    X-Forwarded-For is the client as the outermost trusted proxy saw it; entries left of
    it are whatever the client wrote and are never trusted.
    """
    proxies: int = settings.AUTH_RATE_LIMIT_TRUSTED_PROXIES
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _key(scope: str, value: str, window_start: int) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"authfail:{scope}:{digest}:{window_start}"


def _window(now: float) -> tuple[int, int]:
    """(start of the current window, seconds until it ends)."""
    window: int = settings.AUTH_RATE_LIMIT_WINDOW
    start = int(now // window) * window
    return start, max(1, math.ceil(start + window - now))


def _count(scope: str, value: str, now: float) -> int:
    start, _ = _window(now)
    try:
        return int(cache.get(_key(scope, value, start)) or 0)
    except Exception:  # the cache is down: count nothing, let the request through
        logger.warning("rate limit cache unavailable; %s not checked", scope, exc_info=True)
        return 0


def over_limit(scope: str, value: str, *, now: float | None = None) -> Limited | None:
    """Is this address or credential over its failure limit in the current window?"""
    now = time.time() if now is None else now
    if _count(scope, value, now) >= settings.AUTH_RATE_LIMIT_FAILURES:
        return Limited(scope=scope, retry_after=_window(now)[1])
    return None


def add_failure(scope: str, value: str, *, now: float | None = None) -> int:
    """Count one failed attempt; returns the count in the current window (0 when the cache is down)."""
    now = time.time() if now is None else now
    start, _ = _window(now)
    key = _key(scope, value, start)
    timeout: int = settings.AUTH_RATE_LIMIT_WINDOW + 5
    try:
        if cache.add(key, 1, timeout=timeout):
            return 1
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: this failure starts the window
        cache.set(key, 1, timeout=timeout)
        return 1
    except Exception:
        logger.warning("rate limit cache unavailable; a %s failure was not counted", scope, exc_info=True)
        return 0


def too_many_requests(limited: Limited, *, graphql: bool) -> HttpResponse:
    """429 with Retry-After; on /graphql a GraphQL-shaped body, elsewhere plain text."""
    message = f"Too many failed sign-in attempts. Try again in {limited.retry_after} seconds."
    response: HttpResponse
    if graphql:
        response = JsonResponse(
            {
                "data": None,
                "errors": [
                    {
                        "message": message,
                        "extensions": {"code": "RATE_LIMITED", "retryAfter": limited.retry_after},
                    }
                ],
            },
            status=429,
        )
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(limited.retry_after)
    return response


# Bearer tokens on /graphql ---------------------------------------------------------------


def _prefix_of(request: HttpRequest) -> str | None:
    raw = bearer_token(request)
    parsed = parse_token(raw) if raw else None
    return parsed[0] if parsed else None


def refuse_if_limited(request: HttpRequest) -> HttpResponse | None:
    """Before a bearer token is looked up: 429 when the client's address is over its limit."""
    if bearer_token(request) is None:
        return None
    limited = over_limit(ADDRESS, client_address(request))
    return too_many_requests(limited, graphql=True) if limited else None


def record_failure(request: HttpRequest) -> HttpResponse | None:
    """A bearer token failed: count it; 429 when this failure is past the address's or the prefix's limit."""
    now = time.time()
    limit: int = settings.AUTH_RATE_LIMIT_FAILURES
    counted = [(ADDRESS, client_address(request))]
    prefix = _prefix_of(request)
    if prefix is not None:
        counted.append((TOKEN_PREFIX, prefix))
    for scope, value in counted:
        if add_failure(scope, value, now=now) > limit:
            logger.warning("bearer authentication rate-limited (%s) from %s", scope, client_address(request))
            return too_many_requests(Limited(scope=scope, retry_after=_window(now)[1]), graphql=True)
    return None


# Console sign-in -------------------------------------------------------------------------


def normalized_username(username: str) -> str:
    return username.strip().lower()[:150]


def sign_in_refusal(request: HttpRequest, username: str) -> Limited | None:
    """Before a sign-in is checked: refused when the address, or the username, is over its limit.

    A username over its limit refuses attempts from everywhere for the rest of the
    window (the password is not checked, so guessing gets nowhere); the window is short.
    """
    limited = over_limit(ADDRESS, client_address(request))
    if limited is None and username:
        limited = over_limit(USERNAME, normalized_username(username))
    return limited


def record_sign_in_failure(request: HttpRequest, username: str) -> None:
    now = time.time()
    add_failure(ADDRESS, client_address(request), now=now)
    if username:
        add_failure(USERNAME, normalized_username(username), now=now)
