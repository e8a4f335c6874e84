"""`manage.py export_reps [--output reps.csv]`: every rep, in the import format."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadowner.management.commands._io import add_output_argument, write_output
from territories.selectors import export_reps


class Command(BaseCommand):
    help = "Export reps.csv (the format import_reps reads) to stdout or --output."

    def add_arguments(self, parser: CommandParser) -> None:
        add_output_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        write_output(self, options, lambda out: out.write(export_reps()))
