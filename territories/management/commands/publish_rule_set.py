"""`manage.py publish_rule_set --version N`: publish a valid draft; the published one is archived."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadowner.errors import ServiceError
from territories.selectors import published_rule_set
from territories.services import RuleSetInvalid, publish_rule_set


class Command(BaseCommand):
    help = "Publish draft rule set N (it must have no problems); the currently published one is archived."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the rule set here: it replaces Django's "show the version" flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", dest="rule_set_version", type=int, required=True, help="the draft's version")
        parser.add_argument("--actor", default="manage.py publish_rule_set", help="who published it")

    def handle(self, *args: Any, **options: Any) -> None:
        before = published_rule_set()
        try:
            rule_set = publish_rule_set(version=options["rule_set_version"], actor=options["actor"], now=timezone.now())
        except RuleSetInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(exc.message) from None
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        archived = f" (v{before.version} archived)" if before is not None else ""
        self.stdout.write(f"published v{rule_set.version}{archived}")
