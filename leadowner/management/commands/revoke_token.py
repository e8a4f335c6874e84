"""`manage.py revoke_token PREFIX`: revoke an API token by its prefix (see list_tokens)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadowner.errors import ServiceError
from leadowner.tokens import revoke_token


class Command(BaseCommand):
    help = "Revoke an API token by its prefix. Requests with it are refused from now on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="the token's prefix, as list_tokens shows it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = revoke_token(prefix=options["prefix"], now=timezone.now())
        except ServiceError as error:
            raise CommandError(error.message) from None
        assert token.revoked_at is not None
        self.stdout.write(f"Token {token.prefix} revoked at {token.revoked_at.isoformat()}.")
