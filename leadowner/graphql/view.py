"""The /graphql endpoint: a bearer token needs no CSRF token, a browser session does.

The URL is csrf_exempt so that API clients with `Authorization: Bearer` can POST; the
view then runs Django's CSRF check itself for requests authenticated by the session
cookie, the ones a malicious page could make a browser send.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from strawberry.django.views import GraphQLView as StrawberryGraphQLView

from leadowner.auth import authenticate_request
from leadowner.graphql.context import Context

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _no_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()  # never called: only process_view runs


def csrf_rejection(request: HttpRequest) -> HttpResponseBase | None:
    """Django's CSRF verdict for this request: None when it passes, else the 403 response."""
    check = CsrfViewMiddleware(_no_response)
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[arg-type]


class GraphQLView(StrawberryGraphQLView[Context, None]):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        authentication = authenticate_request(request)
        if authentication.method == "session" and request.method not in SAFE_METHODS:
            rejection = csrf_rejection(request)
            if rejection is not None:
                return rejection
        return super().dispatch(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        return Context(
            request=request,
            response=response,
            actor=authenticate_request(request).actor,
            now=timezone.now(),
        )

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        if not settings.GRAPHIQL:
            return HttpResponse("Not Found", status=404, content_type="text/plain")
        return super().render_graphql_ide(request)
