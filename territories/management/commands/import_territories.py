"""`manage.py import_territories territories.yaml`: a new draft rule set, or every problem."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadowner.errors import ServiceError
from leadowner.management.commands._io import read_input
from territories.services import RuleSetInvalid, import_rule_set


class Command(BaseCommand):
    help = "Import territories.yaml as a new draft rule set (publish it with publish_rule_set --version N)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the territories.yaml to import ('-' reads standard input)")
        parser.add_argument("--actor", default="import: territories.yaml", help="who created the draft")

    def handle(self, *args: Any, **options: Any) -> None:
        data = read_input(options["file"])
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise CommandError(
                f"line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
            ) from None
        try:
            rule_set = import_rule_set(text, actor=options["actor"], now=timezone.now())
        except RuleSetInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{exc.message}; nothing was imported") from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        territories = rule_set.territories.count()
        self.stdout.write(
            f"draft v{rule_set.version}: {territories} territories, no problems; "
            f"publish it with: manage.py publish_rule_set --version {rule_set.version}"
        )
