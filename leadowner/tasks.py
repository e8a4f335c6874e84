"""The one way this project declares and enqueues Celery tasks.

- `project_task`: acks late, rejected back to the queue when the worker dies, retried
  with exponential backoff on database/broker hiccups. Tasks take ids, re-check state
  and call the same services as the API, so a redelivery changes nothing twice.
- `enqueue_on_commit`: a task is sent only after the transaction that asked for it
  commits; a rolled-back request enqueues nothing. If the broker is down the send is
  logged and dropped: every job's due date lives in the database and the periodic
  sweep picks it up when the broker is back, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

from leadowner.celery import app

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

RETRY_ON = (OperationalError, InterfaceError)


def project_task(*, name: str | None = None, max_retries: int = 5, **options: Any) -> Callable[[F], Task]:
    def decorator(func: F) -> Task:
        task: Task = app.task(
            name=name or f"{func.__module__}.{func.__name__}",
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=RETRY_ON,
            retry_backoff=2,
            retry_backoff_max=300,
            retry_jitter=True,
            max_retries=max_retries,
            **options,
        )(func)
        return task

    return decorator


# A send that cannot reach the broker gives up at once: it runs after a request's commit,
# and kombu's default (retrying the connection for the 4-second connect timeout) would
# hold every request that long while Redis is down. Nothing is lost by giving up.
SEND_CONNECT_TIMEOUT = 2.0


def send_now(task: Task, *args: Any, **kwargs: Any) -> bool:
    """Send a task, tolerating a broker outage (the database sweep is the safety net)."""
    try:
        with app.connection_for_write(
            connect_timeout=SEND_CONNECT_TIMEOUT, transport_options={"max_retries": 0}
        ) as connection:
            task.apply_async(args=args, kwargs=kwargs, retry=False, connection=connection)
    except (BrokerOperationalError, OSError) as exc:
        logger.warning("broker unavailable, %s left for the next sweep: %s", task.name, exc)
        return False
    return True


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: send_now(task, *args, **kwargs))


def run_sweep_task(task: Task, job: str, sweep: Callable[..., Any], **kwargs: Any) -> dict[str, int]:
    """What every sweep task does: run the sweep recorded as a JobRun, re-queue itself while more is due.

    `kwargs` (ids, a batch size) go to the sweep and to the re-queued task alike.
    """
    from functools import partial

    from leadowner.jobs import run_recorded

    run = run_recorded(job, partial(sweep, **kwargs))
    if run.counts.get("more_due"):
        send_now(task, **kwargs)
    return dict(run.counts)


@project_task()
def send_notification_emails(notification_ids: list[int]) -> dict[str, int]:
    """Email the notifications a committed change wrote (see leadowner.notifications)."""
    from leadowner.notifications import send_notification_emails as send

    return dict(send(notification_ids=notification_ids).counts)


@project_task()
def sweep_notification_emails() -> dict[str, int]:
    from leadowner.notifications import sweep_notification_emails as sweep

    return run_sweep_task(sweep_notification_emails, "notification_emails", sweep)
