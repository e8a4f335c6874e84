"""`manage.py import_partners partners.csv`: partners and their users, all or nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadowner.management.commands._io import add_import_arguments, run_import
from territories.services import import_partners


class Command(BaseCommand):
    help = "Import partners.csv (partner,email,name); all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        add_import_arguments(parser, filename="partners.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        run_import(self, import_partners, filename="partners.csv", options=options, now=timezone.now())
