"""`manage.py import_accounts accounts.csv`: upsert accounts by first domain, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadowner.management.commands._io import add_import_arguments, run_import
from routing.services.imports import import_accounts


class Command(BaseCommand):
    help = "Import accounts.csv (keyed by first domain; owners become current ownership); all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        add_import_arguments(parser, filename="accounts.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        run_import(self, import_accounts, filename="accounts.csv", options=options, now=timezone.now())
