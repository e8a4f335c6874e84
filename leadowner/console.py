"""The console's access rule and the helpers every console view shares.

The console (the HTMX admin) is for managers and RevOps signed in with a browser
session: a user whose linked Rep has role MANAGER or REVOPS (and has not departed), or
a Django superuser. Everyone else signed in gets the 403 page; anonymous visitors go to
the login page. API bearer tokens are for /graphql: a request that presents one is
refused here whoever holds it, so a token can never stand in for the session (and its
CSRF protection) on a console form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property, wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from leadowner.actors import Actor
from leadowner.auth import authenticate_request

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]

NOT_A_MANAGER = "The console is for managers and RevOps. Ask RevOps if you need access."
NO_TOKENS = "The console uses browser sign-in; API tokens work only on /graphql."


def console_actor(request: HttpRequest) -> Actor | None:
    """The console user as an Actor (for services and history), or None when they may not use it.

    A manager's or RevOps' own Rep; a superuser without a Rep acts under their username.
    """
    authentication = authenticate_request(request)
    if authentication.method == "token":
        return None
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return None
    actor = authentication.actor
    if actor.rep is not None and actor.rep.is_manager:
        return actor
    if user.is_superuser:
        return actor if actor.rep is not None else Actor(system=f"{user.get_username()} (superuser)")
    return None


def manager_required(view: View[P]) -> View[P]:
    """Only managers, RevOps and superusers, with a session, reach the wrapped view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if authenticate_request(request).method == "token":
            raise PermissionDenied(NO_TOKENS)
        if not request.user.is_authenticated:
            return _to_login(request)
        if console_actor(request) is None:
            raise PermissionDenied(NOT_A_MANAGER)
        return view(request, *args, **kwargs)

    return wrapper


def _to_login(request: HttpRequest) -> HttpResponse:
    htmx = getattr(request, "htmx", None)
    if htmx:
        # An htmx fragment request would swap the login page into the fragment: send the
        # whole browser to the login page, and back to the page it was on afterwards.
        back = htmx.current_url_abs_path or request.get_full_path()
        login = resolve_url(settings.LOGIN_URL)
        return HttpResponseClientRedirect(redirect_to_login(back, login).url)
    return redirect_to_login(request.get_full_path())


def render_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    partial: str,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only `template#partial` for an htmx request (django-template-partials).

    htmx asks for the whole page again when it restores history it has no snapshot of;
    `Vary: HX-Request` keeps browsers and proxies from serving one answer for the other.
    """
    htmx = getattr(request, "htmx", None)
    fragment = bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]
    response = render(request, f"{template}#{partial}" if fragment else template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def url_if_exists(name: str, *args: Any) -> str | None:
    """The URL of a console screen, or None while that screen does not exist (no dead links)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# The console's navigation, in order: (key, label, url name). A screen appears in the nav
# as soon as its URL exists; templates get `nav_items` from the context processor below.
NAV: tuple[tuple[str, str, str], ...] = (
    ("home", "Home", "console:home"),
    ("lookup", "Lookup", "console:lookup"),
    ("queues", "Queues", "console:unassigned"),
    ("registrations", "Registrations", "console:registrations"),
    ("disputes", "Disputes", "console:disputes"),
    ("territories", "Territories", "console:territories"),
    ("rebalancing", "Rebalancing", "console:rebalancing"),
    ("simulate", "Test rules", "console:simulate"),
    ("roster", "Roster", "console:roster"),
    ("metrics", "Metrics", "console:metrics"),
    ("audit", "Audit", "console:audit"),
    ("notifications", "Notifications", "console:notifications"),
    ("jobs", "Jobs", "console:jobs"),
    ("settings", "Settings", "console:settings"),
)


class UnreadCount:
    """The signed-in manager's unread notifications, for the navigation.

    Counted at most once per request, and only when a template shows it: an htmx
    fragment that leaves the navigation alone costs no query.
    """

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def value(self) -> int:
        actor = console_actor(self._request)
        if actor is None:
            return 0
        from leadowner.notifications import unread_count

        return unread_count(actor)


def nav_items(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the nav entries whose screens exist, and the unread notifications (lazily)."""
    if not request.resolver_match or request.resolver_match.namespace != "console":
        return {}
    items = []
    for key, label, name in NAV:
        url = url_if_exists(name)
        if url is not None:
            items.append({"key": key, "label": label, "url": url})
    return {"nav_items": items, "nav_unread": UnreadCount(request)}
