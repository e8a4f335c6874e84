"""The /graphql endpoint: a bearer token needs no CSRF token, a browser session does.

The URL is csrf_exempt so that API clients with `Authorization: Bearer` can POST; the
view then runs Django's CSRF check itself for requests authenticated by the session
cookie, the ones a malicious page could make a browser send.

Hardening (see docs/security.md): failed bearer authentication is rate-limited per
address and per token prefix (429 with Retry-After, leadowner.ratelimit); a batch holds
at most settings.GRAPHQL_MAX_BATCH operations; GET runs queries only (strawberry refuses
a mutation over GET); a request the transport refuses (bad JSON, too many operations,
wrong content type) still answers a GraphQL-shaped JSON body with a code.
"""

from __future__ import annotations

import re
from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from strawberry.django.views import GraphQLView as StrawberryGraphQLView
from strawberry.http import GraphQLRequestData

from leadowner import audit, ratelimit
from leadowner.auth import authenticate_request
from leadowner.graphql.context import Context
from leadowner.graphql.limits import REQUEST_ID_ATTR, new_request_id

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _no_response(request: HttpRequest) -> HttpResponse:
    return HttpResponse()  # never called: only process_view runs


# A GraphQL string literal spells NUL as \u0000 (or \u{0}); the parser would hand it on.
_ESCAPED_NUL = re.compile(r"\\u(?:0000|\{0+\})", re.IGNORECASE)


def _nul_in(value: object, path: str) -> str | None:
    """The path of the first string holding a NUL character, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_in(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, f"{path}.{index}")
            if found:
                return found
    return None


def csrf_rejection(request: HttpRequest) -> HttpResponseBase | None:
    """Django's CSRF verdict for this request: None when it passes, else the 403 response."""
    check = CsrfViewMiddleware(_no_response)
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[arg-type]


def transport_error(status: int, message: str, *, request_id: str) -> JsonResponse:
    """A request refused before any operation ran, as a GraphQL response body."""
    code = "PAYLOAD_TOO_LARGE" if status == 413 else "METHOD_NOT_ALLOWED" if status == 405 else "BAD_REQUEST"
    return JsonResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]},
        status=status,
    )


class GraphQLView(StrawberryGraphQLView[Context, None]):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not getattr(request, REQUEST_ID_ATTR, None):
            setattr(request, REQUEST_ID_ATTR, new_request_id())
        request_id: str = getattr(request, REQUEST_ID_ATTR)
        limited = ratelimit.refuse_if_limited(request)
        if limited is not None:
            return limited
        authentication = authenticate_request(request)
        if authentication.method == "token":
            if authentication.token is None:
                limited = ratelimit.record_failure(request)
                if limited is not None:
                    return limited
            else:
                audit.record_token_use(authentication.token, request=request, now=timezone.now())
        if authentication.method == "session" and request.method not in SAFE_METHODS:
            rejection = csrf_rejection(request)
            if rejection is not None:
                return rejection
        try:
            return self.run(request=request)
        except HTTPException as e:
            return transport_error(e.status_code, e.reason, request_id=request_id)
        except RequestDataTooBig:
            maximum = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return transport_error(413, f"The request body is larger than {maximum} bytes.", request_id=request_id)

    def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            data = super().parse_http_body(request)
        except AttributeError:
            # JSON that is not an object (a number, a string, a list of non-objects): strawberry
            # calls .get() on it. A malformed request, not a server error.
            raise HTTPException(400, "A GraphQL request is a JSON object, or a list of them for a batch.") from None
        if isinstance(data, list):
            maximum: int = settings.GRAPHQL_MAX_BATCH
            if len(data) > maximum:
                raise HTTPException(400, f"A batch may hold at most {maximum} operations, this one has {len(data)}.")
        for operation in data if isinstance(data, list) else [data]:
            where = (
                _nul_in(operation.query, "query")
                or ("query" if operation.query and _ESCAPED_NUL.search(operation.query) else None)
                or _nul_in(operation.variables, "variables")
            )
            if where:
                # No text column of ours can hold NUL (PostgreSQL refuses it): a malformed request.
                raise HTTPException(400, f"Text may not contain a NUL character ({where}).")
        return data

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
