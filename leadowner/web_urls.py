"""The console (server-rendered, HTMX), namespaced `console:`; each app lists its own screens."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from disputes.urls import patterns as disputes_patterns
from leadowner import views, views_access, views_notifications
from leadowner.security import RateLimitedLoginView
from routing.urls import patterns as routing_patterns
from territories.urls import patterns as territories_patterns

console_patterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path(
        "login/",
        RateLimitedLoginView.as_view(),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    *routing_patterns,
    *territories_patterns,
    *disputes_patterns,
    *views.ops_patterns,
    *views_notifications.patterns,
    *views_access.patterns,
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include((console_patterns, "console"))),
]
