"""`manage.py export_schema [--output FILE]`: the GraphQL schema as SDL (schema.graphql is its snapshot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadowner.schema import schema


def schema_sdl() -> str:
    return schema.as_str().rstrip("\n") + "\n"


class Command(BaseCommand):
    help = "Print the GraphQL schema (SDL), or write it to --output. `make schema` refreshes schema.graphql."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="write to this file instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        sdl = schema_sdl()
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(sdl, ending="")
            return
        output.write_text(sdl, encoding="utf-8")
        self.stderr.write(f"Wrote {output}")
