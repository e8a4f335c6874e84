"""`manage.py import_leads leads.csv`: every row checked first, then each lead routed at entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadowner.management.commands._io import add_import_arguments, run_import
from routing.services.lead_imports import import_leads


class Command(BaseCommand):
    help = (
        "Import leads.csv (email,name,title,company,country,subdivision,city,postal_code,industry,employees,"
        "source,product_interest,requested_rep_email,received_at) and route every lead as submitLead does; "
        "a file with any bad row imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_import_arguments(parser, filename="leads.csv")

    def handle(self, *args: Any, **options: Any) -> None:
        run_import(self, import_leads, filename="leads.csv", options=options, now=timezone.now())
