"""Console screens of the routing domain (namespace `console:`)."""

from django.urls import URLPattern, URLResolver, path

from routing import views

patterns: list[URLPattern | URLResolver] = [
    path("lookup/", views.lookup, name="lookup"),
]
