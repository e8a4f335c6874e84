"""Console screens of the disputes domain (namespace `console:`)."""

from django.urls import URLPattern, URLResolver

patterns: list[URLPattern | URLResolver] = []
