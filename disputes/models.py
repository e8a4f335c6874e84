"""Disputes: a claimant contests the owner of an account or a lead."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class DisputeStatus(models.TextChoices):
    OPEN = "OPEN"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"


class Dispute(models.Model):
    account = models.ForeignKey(
        "routing.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="disputes"
    )
    lead = models.ForeignKey("routing.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="disputes")
    role = models.CharField(max_length=16, default="SALES")
    claimant = models.ForeignKey("territories.Rep", on_delete=models.PROTECT, related_name="disputes_opened")
    current_owner = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="disputes_against"
    )
    status = models.CharField(max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    reason = models.TextField()
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    escalated_to = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    winner = models.ForeignKey("territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    loser = models.ForeignKey("territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_by = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(lead__isnull=True))
                | (Q(account__isnull=True) & Q(lead__isnull=False)),
                name="dispute_on_account_xor_lead",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(account__isnull=False) & ~Q(status="RESOLVED"),
                name="one_open_dispute_per_account",
            ),
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(lead__isnull=False) & ~Q(status="RESOLVED"),
                name="one_open_dispute_per_lead",
            ),
        ]


class DisputeEscalation(models.Model):
    """One escalation of an overdue dispute: who had it, who has it now, and the new deadline."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="escalations")
    at = models.DateTimeField()
    from_rep = models.ForeignKey("territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_rep = models.ForeignKey("territories.Rep", on_delete=models.PROTECT, related_name="+")
    due_before = models.DateTimeField()
    due_after = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "at", "id"]
