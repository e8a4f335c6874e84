"""`manage.py issue_token --rep EMAIL | --partner-user EMAIL`: print a new API token, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadowner.errors import ServiceError
from leadowner.models import TokenScope
from leadowner.tokens import issue_token
from territories.models import PartnerUser, Rep


class Command(BaseCommand):
    help = "Issue an API token for a rep (or manager) or a partner user. The token is printed once, never stored."

    def add_arguments(self, parser: CommandParser) -> None:
        holder = parser.add_mutually_exclusive_group(required=True)
        holder.add_argument("--rep", metavar="EMAIL", help="the rep, manager or RevOps member holding the token")
        holder.add_argument("--partner-user", metavar="EMAIL", help="the partner user holding the token")
        parser.add_argument(
            "--scope",
            choices=TokenScope.values,
            help="defaults from the holder (REP, MANAGER or PARTNER); READ_ONLY narrows it",
        )
        parser.add_argument("--name", default="", help="what the token is for (shown by list_tokens)")
        parser.add_argument("--expires-days", type=int, metavar="N", help="expire after N days (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rep = partner_user = None
        if options["rep"]:
            rep = Rep.objects.filter(email__iexact=options["rep"]).first()
            if rep is None:
                raise CommandError(f"no rep with email {options['rep']}")
        else:
            partner_user = PartnerUser.objects.filter(email__iexact=options["partner_user"]).first()
            if partner_user is None:
                raise CommandError(f"no partner user with email {options['partner_user']}")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1")
        expires_at = now + timedelta(days=days) if days is not None else None
        try:
            token, raw = issue_token(
                rep=rep,
                partner_user=partner_user,
                scope=options["scope"],
                name=options["name"],
                expires_at=expires_at,
                now=now,
            )
        except ServiceError as error:
            raise CommandError(error.message) from None
        holder = rep.email if rep is not None else f"{partner_user.email} (partner)" if partner_user else ""
        self.stderr.write(
            f"Token {token.prefix} for {holder}, scope {token.scope}"
            + (f", expires {token.expires_at.isoformat()}" if token.expires_at else "")
            + ". It is shown once; store it now:"
        )
        self.stdout.write(raw)
