"""The Celery application. Broker from settings (Redis, or the embedded SQLite broker)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")

app = Celery("leadowner")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
