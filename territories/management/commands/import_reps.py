"""`manage.py import_reps reps.csv`: upsert reps by email, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadowner.management.commands._io import add_import_arguments, run_import
from territories.services import import_reps


class Command(BaseCommand):
    help = "Import reps.csv (email,name,role,manager_email,capacity,status,territories); all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        add_import_arguments(parser, filename="reps.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        run_import(self, import_reps, filename="reps.csv", options=options, now=timezone.now())
