"""`manage.py export_opportunities [--output opportunities.csv]`: every opportunity, in the import format."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadowner.management.commands._io import add_output_argument, write_output
from routing.selectors.exports import ExportReport, write_opportunities


class Command(BaseCommand):
    help = "Export opportunities.csv (the format import_opportunities reads) to stdout or --output."

    def add_arguments(self, parser: CommandParser) -> None:
        add_output_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        report: ExportReport | None = write_output(self, options, write_opportunities)
        if report is not None and report.skipped:
            self.stderr.write(f"{report.skipped} opportunity(ies) of accounts without a domain were left out")
