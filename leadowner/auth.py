"""Who is calling: a bearer token, else the admin's browser session, else nobody.

A request that presents `Authorization: Bearer ...` is judged by that token alone: a
bad, revoked or expired token makes it anonymous and never falls back to the session
cookie, so a junk header cannot turn a cookie request into a CSRF-exempt one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.utils import timezone

from leadowner.actors import ANONYMOUS, Actor
from leadowner.models import ApiToken
from leadowner.tokens import authenticate_token
from territories.models import PartnerUser, Rep, RepStatus

AuthMethod = Literal["token", "session", "none"]

_CACHE_ATTR = "_leadowner_authentication"


@dataclass(frozen=True)
class Authentication:
    actor: Actor
    # How the request authenticated. "token" is set whenever a bearer token was
    # presented, even a bad one (then the actor is anonymous).
    method: AuthMethod
    token: ApiToken | None = None


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one (or another scheme)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _session_actor(request: HttpRequest) -> Actor | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    try:
        rep: Rep = user.rep
    except ObjectDoesNotExist:
        pass
    else:
        return None if rep.status == RepStatus.DEPARTED else Actor(rep=rep)
    try:
        partner_user: PartnerUser = user.partner_user
    except ObjectDoesNotExist:
        return None
    return Actor(partner_user=partner_user)


def authenticate_request(request: HttpRequest, *, now: datetime | None = None) -> Authentication:
    """Authenticate once per request (the result is kept on the request)."""
    cached: Authentication | None = getattr(request, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    raw = bearer_token(request)
    result: Authentication
    if raw is not None:
        token = authenticate_token(raw, now=now or timezone.now()) if raw else None
        if token is None:
            result = Authentication(actor=ANONYMOUS, method="token")
        else:
            actor = Actor(rep=token.rep, partner_user=token.partner_user, scope=token.scope)
            result = Authentication(actor=actor, method="token", token=token)
    else:
        session_actor = _session_actor(request)
        if session_actor is None:
            result = Authentication(actor=ANONYMOUS, method="none")
        else:
            result = Authentication(actor=session_actor, method="session")
    setattr(request, _CACHE_ATTR, result)
    return result


def actor_from_request(request: HttpRequest) -> Actor:
    """The actor of a request: the bearer token's holder, else the session's rep, else anonymous."""
    return authenticate_request(request).actor
