"""Platform plumbing with no domain rules: API tokens and job runs."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class TokenScope(models.TextChoices):
    READ_ONLY = "READ_ONLY"
    REP = "REP"
    MANAGER = "MANAGER"
    PARTNER = "PARTNER"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the prefix finds the row."""

    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    rep = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    partner_user = models.ForeignKey(
        "territories.PartnerUser", null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(rep__isnull=False) & Q(partner_user__isnull=True))
                | (Q(rep__isnull=True) & Q(partner_user__isnull=False)),
                name="token_for_rep_xor_partner_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope.lower()})"


class JobRun(models.Model):
    """One run of a lifecycle sweep: shown on the console's jobs screen."""

    job = models.CharField(max_length=60, db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    ok = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
