"""Console screens of the territories domain (namespace `console:`)."""

from django.urls import URLPattern, URLResolver

patterns: list[URLPattern | URLResolver] = []
