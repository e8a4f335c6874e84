"""Console screens of the disputes domain (namespace `console:`)."""

from django.urls import URLPattern, URLResolver, path

from disputes import views

patterns: list[URLPattern | URLResolver] = [
    path("disputes/", views.queue, name="disputes"),
    path("disputes/<int:dispute_id>/", views.dispute, name="dispute"),
]
