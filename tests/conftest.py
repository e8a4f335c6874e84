from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.conf import settings
from django.db import connection


def pytest_report_header(config: Any) -> str:
    vendor = settings.DATABASE_VENDOR
    cache = "redis" if "redis" in settings.CACHES["default"]["BACKEND"].lower() else "file"
    broker = "redis" if settings.CELERY_BROKER_URL.startswith("redis") else "sqlite"
    return f"backends: database={vendor} cache={cache} broker={broker}"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://...)")
    skip_redis = pytest.mark.skip(reason="needs Redis (REDIS_URL=redis://...)")
    for item in items:
        if "postgres" in item.keywords and settings.DATABASE_VENDOR != "postgresql":
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture
def now() -> datetime:
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


@pytest.fixture
def vendor() -> str:
    return connection.vendor


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Every test starts with an empty cache (each pytest-xdist worker has a Redis database of its own).

    The sign-in rate limiter counts failed tokens per address in the cache, in five-minute
    windows: without this, the failures the negative tests make on purpose added up across
    tests, and across two runs in the same window, until the limiter refused the requests
    of unrelated tests (410 of them in a second `make test` started right after a first).
    """
    from django.core.cache import cache

    cache.clear()
