"""The access audit: every console sign-in of a manager and every use of a manager's API token.

Managers change ownership that people's pay depends on, so who signed in as one, from
where, and when their tokens were used is kept (SignInEvent, TokenUse). "A manager"
here is a Rep with role MANAGER or REVOPS, or a Django superuser (console access).

- Sign-ins: Django's `user_logged_in` and `user_login_failed` signals (connected in
  LeadownerConfig.ready). A failed attempt is recorded when the username names a manager
  or superuser; attempts at unknown usernames are only counted by the rate limiter (an
  attacker must not be able to fill the table).
- Token uses: one row per request authenticated by a manager's token (when, from where,
  method, path, user agent): one INSERT and nothing read, since the token and its rep
  are already loaded by authentication; on PostgreSQL committed asynchronously (the
  request does not wait for the disk flush: see record_token_use).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from leadowner.models import ApiToken, SignInEvent, SignInOutcome, TokenUse
from leadowner.prepared import statement_cursor
from leadowner.ratelimit import client_address
from territories.models import Rep

logger = logging.getLogger("leadowner.audit")


def _manager_rep(user: AbstractBaseUser | None) -> Rep | None:
    if user is None:
        return None
    rep = Rep.objects.filter(user_id=user.pk).first()
    return rep if rep is not None and rep.is_manager else None


def _is_console_user(user: AbstractBaseUser | None, rep: Rep | None) -> bool:
    return rep is not None or bool(getattr(user, "is_superuser", False))


def _user_agent(request: HttpRequest | None) -> str:
    return str(request.headers.get("User-Agent", ""))[:300] if request is not None else ""


def _address(request: HttpRequest | None) -> str:
    return client_address(request)[:64] if request is not None else ""


def record_sign_in(
    *, user: AbstractBaseUser | None, username: str, outcome: str, request: HttpRequest | None, now: datetime
) -> SignInEvent | None:
    """Record a sign-in event when it concerns a manager, RevOps or superuser; None otherwise."""
    rep = _manager_rep(user)
    if not _is_console_user(user, rep):
        return None
    return SignInEvent.objects.create(
        at=now,
        outcome=outcome,
        username=username[:150],
        user_id=user.pk if user is not None else None,
        rep=rep,
        address=_address(request),
        user_agent=_user_agent(request),
    )


def user_for_username(username: str) -> AbstractBaseUser | None:
    if not username:
        return None
    model = get_user_model()
    user: AbstractBaseUser | None = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    return user


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    record_sign_in(
        user=user, username=user.get_username(), outcome=SignInOutcome.SUCCESS, request=request, now=timezone.now()
    )


def on_user_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username") or "")
    record_sign_in(
        user=user_for_username(username),
        username=username,
        outcome=SignInOutcome.FAILURE,
        request=request,
        now=timezone.now(),
    )


def record_refused_sign_in(*, request: HttpRequest, username: str, now: datetime) -> None:
    """A sign-in refused by the rate limiter, when it named a manager (the password was not checked)."""
    record_sign_in(
        user=user_for_username(username),
        username=username,
        outcome=SignInOutcome.RATE_LIMITED,
        request=request,
        now=now,
    )


def record_token_use(token: ApiToken, *, request: HttpRequest, now: datetime) -> TokenUse | None:
    """Record this use of a token when it is a manager's; None for anyone else's token."""
    rep = token.rep
    if rep is None or not rep.is_manager:
        return None
    use = TokenUse(
        token=token,
        rep=rep,
        at=now,
        address=_address(request),
        method=(request.method or "")[:10],
        path=request.path[:200],
        user_agent=_user_agent(request),
    )
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        use.save(force_insert=True)
        return use
    # Committed without waiting for the disk: the commit's flush cost 1-25 ms a request on
    # the bench machine, more than the lookup the request is for. The row is visible at once
    # and on disk within PostgreSQL's wal_writer_delay (200 ms); only a crash of the database
    # server in that window loses it, and never a change of ownership. One statement in its
    # own (autocommit) transaction: set_config(..., is_local => true) reaches only the
    # commit of this INSERT, which holds nothing else (an outer transaction, checked above,
    # keeps its normal commit); a transaction of its own with SET LOCAL cost three more
    # round trips. Kept prepared on the connection (leadowner.prepared): every request of a
    # manager's token runs it, and it was the costliest statement of an ownerOf (0.54-0.64 ms
    # a request against 0.42-0.44 ms prepared, three interleaved rounds on the 1M bench book).
    table = connection.ops.quote_name(TokenUse._meta.db_table)
    columns = ["token_id", "rep_id", "at", "address", "method", "path", "user_agent"]
    values: list[Any] = [use.token_id, use.rep_id, use.at, use.address, use.method, use.path, use.user_agent]
    with statement_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 -- only the table and column names
            f"SELECT {', '.join(['%s'] * len(values))} "
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit RETURNING id",
            values,
        )
        use.pk = cursor.fetchone()[0]
    return use
