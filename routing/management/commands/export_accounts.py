"""`manage.py export_accounts [--output accounts.csv]`: every account, in the import format."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadowner.management.commands._io import add_output_argument, write_output
from routing.selectors.exports import ExportReport, write_accounts


class Command(BaseCommand):
    help = "Export accounts.csv (the format import_accounts reads) to stdout or --output."

    def add_arguments(self, parser: CommandParser) -> None:
        add_output_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        report: ExportReport | None = write_output(self, options, write_accounts)
        if report is not None and report.skipped:
            self.stderr.write(
                f"{report.skipped} account(s) without a domain were left out: the format keys accounts by domain"
            )
