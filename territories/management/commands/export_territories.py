"""`manage.py export_territories [--version N] [--output territories.yaml]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadowner.management.commands._io import add_output_argument, write_output
from territories.selectors import export_rule_set, published_rule_set, rule_set_by_version


class Command(BaseCommand):
    help = "Export a rule set as territories.yaml (the published one unless --version is given)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the rule set here: it replaces Django's "show the version" flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", dest="rule_set_version", type=int, help="the rule set's version")
        add_output_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        version = options["rule_set_version"]
        rule_set = rule_set_by_version(version) if version is not None else published_rule_set()
        if rule_set is None:
            raise CommandError(
                f"there is no rule set v{version}"
                if version is not None
                else "no rule set is published; pass --version N"
            )
        write_output(self, options, lambda out: out.write(export_rule_set(rule_set)))
