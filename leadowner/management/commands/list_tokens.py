"""`manage.py list_tokens`: every API token with its holder and state (never the secret)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from leadowner.models import ApiToken


def _when(value: Any) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


class Command(BaseCommand):
    help = "List API tokens: prefix, holder, scope, state, last use."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        tokens = ApiToken.objects.select_related("rep", "partner_user").order_by("-created_at", "-id")
        self.stdout.write(f"{'prefix':<14}{'holder':<40}{'scope':<11}{'state':<9}{'last used':<20}name")
        for token in tokens:
            if token.rep is not None:
                holder = token.rep.email
            else:
                holder = f"{token.partner_user.email} (partner)" if token.partner_user else "?"
            if token.revoked_at is not None:
                state = "revoked"
            elif token.expires_at is not None and token.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            self.stdout.write(
                f"{token.prefix:<14}{holder:<40}{token.scope:<11}{state:<9}{_when(token.last_used_at):<20}{token.name}"
            )
