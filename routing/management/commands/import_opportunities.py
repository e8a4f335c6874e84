"""`manage.py import_opportunities opportunities.csv`: upsert by (account, name), all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadowner.management.commands._io import add_import_arguments, run_import
from routing.services.imports import import_opportunities


class Command(BaseCommand):
    help = "Import opportunities.csv (account,name,owner,status,amount,created_at); all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        add_import_arguments(parser, filename="opportunities.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        run_import(self, import_opportunities, filename="opportunities.csv", options=options, now=timezone.now())
