"""API tokens: issue, revoke, authenticate. The one place that writes ApiToken rows.

A raw token looks like `lo_<prefix>_<secret>`. The prefix (12 hex characters) finds the
row; only the SHA-256 digest of the whole raw token is stored, so a leaked database
gives no usable token. The raw token is returned once, at issue time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leadowner.errors import ErrorCode, ServiceError
from leadowner.models import ApiToken, TokenScope
from leadowner.prepared import Prepared
from territories.models import PartnerUser, Rep, RepStatus

TOKEN_PREFIX = "lo_"
PREFIX_LENGTH = 12  # hex characters: 48 bits, enough to find the row, useless without the secret
# last_used_at is bookkeeping: write it at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def default_scope(*, rep: Rep | None = None, partner_user: PartnerUser | None = None) -> str:
    """The widest scope the holder may have: partner users PARTNER, managers/RevOps MANAGER, reps REP."""
    if partner_user is not None:
        return TokenScope.PARTNER
    if rep is not None and rep.is_manager:
        return TokenScope.MANAGER
    return TokenScope.REP


def parse_token(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed raw token, else None."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix, secret


def issue_token(
    *,
    rep: Rep | None = None,
    partner_user: PartnerUser | None = None,
    scope: str | None = None,
    name: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for a rep or a partner user; returns the row and the raw token (shown once).

    The scope defaults from the holder. It may only be narrowed to READ_ONLY, never widened:
    a rep cannot hold a MANAGER token, a partner user holds PARTNER (or READ_ONLY) only.
    """
    now = now or timezone.now()
    if (rep is None) == (partner_user is None):
        raise ServiceError(ErrorCode.INVALID, "a token belongs to exactly one rep or one partner user")
    if rep is not None and rep.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.FORBIDDEN, f"{rep.email} has departed and cannot hold a token", "rep")
    widest = default_scope(rep=rep, partner_user=partner_user)
    scope = scope or widest
    if scope not in TokenScope.values:
        raise ServiceError(
            ErrorCode.INVALID, f"unknown scope {scope}: use one of {', '.join(TokenScope.values)}", "scope"
        )
    if scope not in (widest, TokenScope.READ_ONLY):
        raise ServiceError(
            ErrorCode.FORBIDDEN, f"this holder may have a {widest} or READ_ONLY token, not {scope}", "scope"
        )
    if expires_at is not None and expires_at <= now:
        raise ServiceError(ErrorCode.INVALID, "the expiry must be in the future", "expires_at")
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    prefix=prefix,
                    digest=digest(raw),
                    name=name[:200],
                    rep=rep,
                    partner_user=partner_user,
                    scope=scope,
                    expires_at=expires_at,
                )
        except IntegrityError:
            continue  # a prefix collision: astronomically rare, draw again
        return token, raw
    raise ServiceError(ErrorCode.CONFLICT, "could not draw a unique token prefix; try again")


def revoke_token(*, prefix: str, now: datetime) -> ApiToken:
    """Revoke a token by its prefix. Revoking twice keeps the first revocation time."""
    ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True).update(revoked_at=now)
    token = ApiToken.objects.filter(prefix=prefix).first()
    if token is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no token with prefix {prefix}", "prefix")
    return token


# Every API request asks it: compiled once (building and compiling its three joins cost
# more than PostgreSQL's answer; see leadowner.prepared).
_TOKEN_BY_PREFIX = Prepared(
    lambda prefix: (
        ApiToken.objects.select_related("rep", "partner_user", "partner_user__partner")
        .filter(prefix=prefix)
        .order_by("pk")[:1]
    ),
    (str,),
)


def authenticate_token(raw: str, *, now: datetime) -> ApiToken | None:
    """The live token for `raw`, with its holder loaded; None when unknown, wrong, revoked or expired.

    A token of a departed rep is refused too: departure takes every access away at once.
    """
    parsed = parse_token(raw.strip())
    if parsed is None:
        return None
    prefix, _secret = parsed
    found = _TOKEN_BY_PREFIX(prefix)
    token = found[0] if found else None
    if token is None or not hmac.compare_digest(token.digest, digest(raw.strip())):
        return None
    if token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.rep is not None and token.rep.status == RepStatus.DEPARTED:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional update: of many concurrent requests, one writes.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
