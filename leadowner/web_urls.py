"""The console (server-rendered, HTMX), namespaced `console:`."""

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from leadowner import views
from routing import views as routing_views

console_patterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("lookup/", routing_views.lookup, name="lookup"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include((console_patterns, "console"))),
]
