"""Reps, partners, rule sets and territories.

A rule set is one version of the territory map plus the policy. Territories belong to
a rule set, so a draft can be edited and simulated while the published one routes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class RepRole(models.TextChoices):
    SDR = "SDR"
    AE = "AE"
    ACCOUNT_MANAGER = "ACCOUNT_MANAGER"
    CUSTOMER_SUCCESS = "CUSTOMER_SUCCESS"
    MANAGER = "MANAGER"
    REVOPS = "REVOPS"


class RepStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    OUT_OF_OFFICE = "OUT_OF_OFFICE"
    DEPARTED = "DEPARTED"


class Rep(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=RepRole.choices)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Maximum open leads")
    status = models.CharField(max_length=20, choices=RepStatus.choices, default=RepStatus.ACTIVE)
    out_of_office_from = models.DateField(null=True, blank=True)
    out_of_office_until = models.DateField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    reassignment_due_at = models.DateTimeField(null=True, blank=True)
    # The territories column of reps.csv: the rep's home territories, by name.
    territory_names = models.JSONField(default=list, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rep"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["manager"])]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_manager(self) -> bool:
        return self.role in (RepRole.MANAGER, RepRole.REVOPS)


class Partner(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerUser(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="users")
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner_user",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner__name", "email"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({self.partner})"


class RuleSetStatus(models.TextChoices):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


def default_policy() -> dict[str, Any]:
    from territories.policy import Policy

    return Policy().as_dict()


class RuleSet(models.Model):
    """One version of the territory map and the policy."""

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=RuleSetStatus.choices, default=RuleSetStatus.DRAFT)
    calendar = models.CharField(max_length=2, default="US", help_text="ISO 3166-1 country of the calendar")
    policy = models.JSONField(default=default_policy)
    note = models.CharField(max_length=500, blank=True)
    source = models.TextField(blank=True, help_text="The territories.yaml this version came from")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            # Exactly one published rule set routes at a time.
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="PUBLISHED"),
                name="one_published_rule_set",
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status.lower()})"


class DistributionMethod(models.TextChoices):
    ROUND_ROBIN = "ROUND_ROBIN"
    LOAD_BALANCED = "LOAD_BALANCED"
    CLAIM_QUEUE = "CLAIM_QUEUE"


class Territory(models.Model):
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="territories")
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    priority = models.IntegerField(default=0)
    distribution = models.CharField(
        max_length=20, choices=DistributionMethod.choices, default=DistributionMethod.ROUND_ROBIN
    )
    # Hard criteria, as in territories.yaml `match`: countries, subdivisions, cities,
    # postal_prefixes, industries (lists); employees, annual_revenue ({min, max}).
    criteria = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order in the source file")
    members = models.ManyToManyField(Rep, through="TerritoryMember", related_name="territories")

    class Meta:
        ordering = ["rule_set", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["rule_set", "name"], name="territory_name_unique_in_rule_set")]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return self.name


class TerritoryMember(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="memberships")
    rep = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="memberships")
    weight = models.PositiveIntegerField(default=1, help_text="Relative share in round robin (70/30 = 7/3)")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["territory", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["territory", "rep"], name="territory_member_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="territory_member_weight_positive"),
        ]


class DistributionCounter(models.Model):
    """Durable round-robin state: how many leads each rep received in a territory.

    Keyed by territory *name* so fairness carries across rule-set versions. The rep
    with the lowest count relative to its weight is next; the row is locked while the
    choice is made, so concurrent leads never pick the same slot.
    """

    territory_name = models.CharField(max_length=200)
    rep = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="distribution_counters")
    assigned = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["territory_name", "rep"], name="distribution_counter_unique")]


class DistributionLock(models.Model):
    """One row per territory name, locked (SELECT ... FOR UPDATE) while choosing a rep."""

    territory_name = models.CharField(max_length=200, unique=True)
