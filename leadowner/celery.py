"""The Celery application. Broker from settings (Redis, or the embedded SQLite broker)."""

from __future__ import annotations

import os

from celery import Celery

from leadowner.beat import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")

app = Celery("leadowner")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The one periodic schedule (leadowner.beat): every sweep, every minute.
app.conf.beat_schedule = BEAT_SCHEDULE
app.autodiscover_tasks()
