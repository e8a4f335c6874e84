"""`manage.py demo [--if-empty] [--seed N]`: load a realistic demo book and say how to use it.

`make run` calls it with --if-empty, so a fresh database gets a book and a used one is
left alone. `--write-files DIR` only writes the five files (leadowner/demo/files/ holds
them for the default seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadowner.demo.generate import DEFAULT_SEED, generate
from leadowner.demo.load import load_demo
from leadowner.errors import ServiceError
from routing.models import Account

CONSOLE_URL = "http://127.0.0.1:8000/"
GRAPHQL_URL = "http://127.0.0.1:8000/graphql"


class Command(BaseCommand):
    help = "Load the demo book (reps, partner, territory map, accounts, opportunities) through the imports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any account exists")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="which book (default %(default)s)")
        parser.add_argument("--write-files", metavar="DIR", help="only write the five files into DIR")

    def handle(self, *args: Any, **options: Any) -> None:
        seed: int = options["seed"]
        if options["write_files"]:
            target = Path(options["write_files"])
            target.mkdir(parents=True, exist_ok=True)
            for name, text in generate(seed).items():
                (target / name).write_text(text, encoding="utf-8", newline="")
            self.stdout.write(f"wrote the demo files for seed {seed} to {target}/")
            return
        if options["if_empty"] and Account.objects.exists():
            self.stdout.write("demo: accounts exist already; nothing loaded (drop --if-empty to load anyway)")
            return
        try:
            result = load_demo(seed=seed, now=timezone.now())
        except ServiceError as exc:
            raise CommandError(f"the demo book did not load: {exc}") from None
        for name, report in result.reports.items():
            self.stdout.write(f"  {name:<18} {report}")
        self.stdout.write(
            f"  territories.yaml   rule set v{result.rule_set.version} published "
            f"({result.rule_set.territories.count()} territories)"
        )
        if result.leads:
            self.stdout.write(f"  leads              {result.leads} inbound leads routed by the published map")
        self.stdout.write("")
        self.stdout.write(f"Console   {CONSOLE_URL}")
        self.stdout.write(f"          login {result.login} / {result.password} (RevOps, staff)")
        self.stdout.write(f"GraphQL   {GRAPHQL_URL}")
        if result.tokens:
            self.stdout.write("API tokens (shown once; send as Authorization: Bearer <token>):")
            for holder, scope, raw in result.tokens:
                self.stdout.write(f"  {holder:<36} {scope:<9} {raw}")
        elif result.tokens_note:
            self.stdout.write(result.tokens_note)
        self.stdout.write("The demo files are in leadowner/demo/files/ (seed 7).")
