"""Accounts, leads, opportunities, activity, ownership and its history, deal registrations.

Ownership is one row per (record, role) while current (`ended_at IS NULL`); partial
unique indexes make "at most one current owner per record and role" a database rule,
and first-to-claim is decided by the same index.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class AccountType(models.TextChoices):
    PROSPECT = "PROSPECT"
    CUSTOMER = "CUSTOMER"


class AccountOrigin(models.TextChoices):
    IMPORT = "IMPORT"
    API = "API"
    REGISTRATION = "REGISTRATION"  # created as a prospect by a partner's deal registration


class Account(models.Model):
    name = models.CharField(max_length=300)
    # Cleaned at write time (routing.normalize.normalize_company): legal suffixes,
    # punctuation and accents removed, lower case. Matching reads only this column.
    normalized_name = models.CharField(max_length=300, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="subsidiaries")
    country = models.CharField(max_length=2, blank=True)
    subdivision = models.CharField(max_length=6, blank=True)
    city = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    industry = models.CharField(max_length=120, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.BigIntegerField(null=True, blank=True)
    type = models.CharField(max_length=10, choices=AccountType.choices, default=AccountType.PROSPECT)
    named_account = models.BooleanField(default=False)
    origin = models.CharField(max_length=20, choices=AccountOrigin.choices, default=AccountOrigin.IMPORT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        # Lists of accounts page in this order: without it a page of 100 at a million
        # accounts sorted the whole table (~270 ms, bench GraphQL accounts and its plain view).
        indexes = [models.Index(fields=["name", "id"], name="account_name_order")]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="account_not_its_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class AccountDomain(models.Model):
    """A registered domain of an account (ibm.com). Unique: one domain, one account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domain_rows")
    domain = models.CharField(max_length=253, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["account", "position"]


class AccountAlias(models.Model):
    """Another name of an account ("IBM" for International Business Machines)."""

    # db_index=False: alias_unique_per_account (account, normalized_alias) leads with it (routing 0011).
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alias_rows", db_index=False)
    alias = models.CharField(max_length=300)
    normalized_alias = models.CharField(max_length=300, db_index=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["account", "position"]
        constraints = [models.UniqueConstraint(fields=["account", "normalized_alias"], name="alias_unique_per_account")]


class LeadStage(models.TextChoices):
    NEW = "NEW"
    CONTACTED = "CONTACTED"
    QUALIFIED = "QUALIFIED"
    PROPOSAL = "PROPOSAL"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"
    PAUSED = "PAUSED"


OPEN_LEAD_STAGES = (
    LeadStage.NEW,
    LeadStage.CONTACTED,
    LeadStage.QUALIFIED,
    LeadStage.PROPOSAL,
    LeadStage.NEGOTIATION,
)


class LeadSource(models.TextChoices):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"
    PARTNER = "PARTNER"
    REFERRAL = "REFERRAL"
    EVENT = "EVENT"
    IMPORT = "IMPORT"


class Lead(models.Model):
    email = models.EmailField(max_length=254)
    email_domain = models.CharField(max_length=253, blank=True)  # no query asks by it (routing 0011)
    name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=300, blank=True)
    normalized_company = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=2, blank=True)
    subdivision = models.CharField(max_length=6, blank=True)
    city = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    industry = models.CharField(max_length=120, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=LeadSource.choices, default=LeadSource.INBOUND)
    product_interest = models.CharField(max_length=200, blank=True)
    requested_rep_email = models.EmailField(blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    stage = models.CharField(max_length=12, choices=LeadStage.choices, default=LeadStage.NEW)
    stage_before_pause = models.CharField(max_length=12, choices=LeadStage.choices, blank=True)
    received_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)  # when its current SALES owner got it
    # When it first got a SALES owner, written once by the ownership writes
    # (routing.services.ownership, bulk_moves, batch_routing): time to assignment reads it.
    first_assigned_at = models.DateTimeField(null=True, blank=True)
    first_touch_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # The routing decision that placed the lead: step, match, territory, version, trace.
    decision = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["email", "received_at"]),
            models.Index(fields=["stage"]),
            # Which of a set of leads are open, read from the index alone. open_loads read it
            # until routing 0010; kept for the other joins of owners to their leads' stages.
            models.Index(fields=["id", "stage"], name="lead_stage_by_id"),
            # The metrics of the leads received in a period, read from the index alone: the
            # times, and the id that joins a lead to its owners and history (leadowner.metrics).
            models.Index(fields=["received_at", "first_assigned_at", "first_touch_at", "id"], name="lead_period_times"),
        ]

    def __str__(self) -> str:
        return self.email


class OpportunityStatus(models.TextChoices):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class Opportunity(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=300)
    owner = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities"
    )
    status = models.CharField(max_length=4, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "created_at", "id"]
        indexes = [models.Index(fields=["account", "status"]), models.Index(fields=["owner", "status"])]
        verbose_name_plural = "opportunities"

    def __str__(self) -> str:
        return self.name


class ActivityKind(models.TextChoices):
    CALL = "CALL"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    NOTE = "NOTE"


class Activity(models.Model):
    # The foreign keys have no index of their own: each leads one of Meta.indexes (routing 0011).
    rep = models.ForeignKey("territories.Rep", on_delete=models.PROTECT, related_name="activities", db_index=False)
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    kind = models.CharField(max_length=8, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["account", "occurred_at"]),
            models.Index(fields=["lead", "occurred_at"]),
            models.Index(fields=["rep", "occurred_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False) | Q(account__isnull=False), name="activity_on_lead_or_account"
            )
        ]


class OwnerRole(models.TextChoices):
    SALES = "SALES"
    ACCOUNT_MANAGER = "ACCOUNT_MANAGER"
    CUSTOMER_SUCCESS = "CUSTOMER_SUCCESS"
    PARTNER = "PARTNER"


class DecisionStep(models.TextChoices):
    OPEN_OPPORTUNITY = "OPEN_OPPORTUNITY"
    CUSTOMER_OWNER = "CUSTOMER_OWNER"
    DEAL_REGISTRATION = "DEAL_REGISTRATION"
    ACCOUNT_CLAIM = "ACCOUNT_CLAIM"
    RECENT_ENGAGEMENT = "RECENT_ENGAGEMENT"
    NAMED_ACCOUNT = "NAMED_ACCOUNT"
    INBOUND_OVERRIDE = "INBOUND_OVERRIDE"
    TERRITORY = "TERRITORY"
    UNASSIGNED = "UNASSIGNED"
    # Not a routing step: a manager's explicit decision (a transfer, a resolved dispute).
    MANUAL = "MANUAL"


class Ownership(models.Model):
    """Who owns a record in a role. Current while `ended_at` is null."""

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="ownerships")
    role = models.CharField(max_length=16, choices=OwnerRole.choices)
    rep = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="ownerships"
    )
    partner = models.ForeignKey(
        "territories.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="ownerships"
    )
    reason = models.CharField(max_length=20, choices=DecisionStep.choices)
    since = models.DateTimeField()
    # Claims (and other time-boxed ownership) lapse at this time unless activity renews them.
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    rule_set_version = models.PositiveIntegerField(null=True, blank=True)
    # Whether the lead is in an open stage (OPEN_LEAD_STAGES); false for an account's owner.
    # Kept by the database, not by Python (migration 0010's triggers): set from the lead's
    # stage when the row is written, and on every owner row of a lead whose stage crosses
    # between open and closed. A value written here by Python is overwritten, and an
    # instance just saved may hold a stale one: read it from the database. It lets a rep's
    # open load be counted from one partial index, without joining every open lead.
    lead_open = models.BooleanField(default=False, db_default=False, editable=False)

    class Meta:
        ordering = ["role", "since"]
        indexes = [
            models.Index(fields=["rep"], condition=Q(ended_at__isnull=True), name="ownership_current_by_rep"),
            # A rep's open load (routing.selectors.loads, routing.distribution.open_loads) as an
            # index-only scan of the rep's entries alone. At 1M accounts the join it replaces
            # (every current SALES lead of the rep to its lead's stage) took 4-7 ms for a
            # territory of four reps; this takes ~0.3 ms.
            models.Index(
                fields=["rep"],
                condition=Q(ended_at__isnull=True, role="SALES", lead_open=True),
                name="ownership_open_leads_by_rep",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(ended_at__isnull=True, expires_at__isnull=False),
                name="ownership_current_expiring",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(lead__isnull=True))
                | (Q(account__isnull=True) & Q(lead__isnull=False)),
                name="ownership_of_account_xor_lead",
            ),
            models.CheckConstraint(
                condition=(Q(rep__isnull=False) & Q(partner__isnull=True))
                | (Q(rep__isnull=True) & Q(partner__isnull=False)),
                name="ownership_by_rep_xor_partner",
            ),
            models.UniqueConstraint(
                fields=["account", "role"],
                condition=Q(ended_at__isnull=True, account__isnull=False),
                name="one_current_owner_per_account_role",
            ),
            models.UniqueConstraint(
                fields=["lead", "role"],
                condition=Q(ended_at__isnull=True, lead__isnull=False),
                name="one_current_owner_per_lead_role",
            ),
        ]


class OwnershipChange(models.Model):
    """Append-only history of ownership: written in the same transaction as the change.

    A database trigger refuses UPDATE (see migration); the model refuses to save twice.
    """

    at = models.DateTimeField(db_index=True)
    # account, lead, from_rep and to_rep have no index of their own: each leads one of
    # Meta.indexes, and a history row is written for every change of ownership (routing 0011).
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="ownership_changes", db_index=False
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="ownership_changes", db_index=False
    )
    role = models.CharField(max_length=16, choices=OwnerRole.choices)
    from_rep = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_rep = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    from_partner = models.ForeignKey(
        "territories.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_partner = models.ForeignKey(
        "territories.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    step = models.CharField(max_length=20, choices=DecisionStep.choices, blank=True)
    reason = models.CharField(max_length=500)
    actor = models.CharField(max_length=200)
    rule_set_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["account", "at"]),
            models.Index(fields=["lead", "at"]),
            models.Index(fields=["to_rep", "at"]),
            models.Index(fields=["from_rep", "at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(account__isnull=False) | Q(lead__isnull=False), name="history_of_account_or_lead"
            )
        ]

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("ownership history is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class DealRegistrationStatus(models.TextChoices):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class DealRegistration(models.Model):
    partner = models.ForeignKey("territories.Partner", on_delete=models.PROTECT, related_name="registrations")
    submitted_by = models.ForeignKey(
        "territories.PartnerUser", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="registrations")
    company = models.CharField(max_length=300)
    domain = models.CharField(max_length=253, blank=True)
    country = models.CharField(max_length=2, blank=True)
    estimated_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=DealRegistrationStatus.choices, default=DealRegistrationStatus.PENDING
    )
    # Conflicts found at submission, for the reviewer: [{"kind": ..., "detail": ...}].
    conflicts = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("territories.Rep", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"]), models.Index(fields=["partner", "status"])]
        constraints = [
            # No partner owns what another partner registered first: one approved per account.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="APPROVED"),
                name="one_approved_registration_per_account",
            )
        ]


class RebalancePlanStatus(models.TextChoices):
    DRAFT = "DRAFT"  # proposed, waiting for a manager
    APPLYING = "APPLYING"  # confirmed; moves are being applied in batches
    APPLIED = "APPLIED"
    DISCARDED = "DISCARDED"


class RebalanceTrigger(models.TextChoices):
    PUBLISH = "PUBLISH"  # built by the sweep when a rule set was published
    ON_DEMAND = "ON_DEMAND"


class RebalancePlan(models.Model):
    """Proposed moves of existing accounts and leads to their territory under a rule set.

    `summary` holds what the manager sees: counts per rep before and after, the load
    variance before and after, and why records stay.
    """

    rule_set = models.ForeignKey("territories.RuleSet", on_delete=models.CASCADE, related_name="rebalance_plans")
    trigger = models.CharField(max_length=10, choices=RebalanceTrigger.choices)
    status = models.CharField(max_length=10, choices=RebalancePlanStatus.choices, default=RebalancePlanStatus.DRAFT)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    applied_by = models.CharField(max_length=200, blank=True)
    apply_started_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"])]
        constraints = [
            # The sweep builds one plan per published rule set, however many sweeps run at once.
            models.UniqueConstraint(
                fields=["rule_set"], condition=Q(trigger="PUBLISH"), name="one_publish_plan_per_rule_set"
            )
        ]

    def __str__(self) -> str:
        return f"rebalancing plan #{self.pk} ({self.status.lower()})"


class RebalanceMoveStatus(models.TextChoices):
    PENDING = "PENDING"
    APPLIED = "APPLIED"
    SKIPPED = "SKIPPED"  # the record changed since the plan was made (see `skipped_reason`)


class RebalanceMove(models.Model):
    """One record a plan moves, from one rep to another. A plan moves a record at most once."""

    plan = models.ForeignKey(RebalancePlan, on_delete=models.CASCADE, related_name="moves")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=OwnerRole.choices)
    ownership = models.ForeignKey(Ownership, on_delete=models.CASCADE, related_name="+")
    from_rep = models.ForeignKey("territories.Rep", on_delete=models.PROTECT, related_name="+")
    to_rep = models.ForeignKey("territories.Rep", on_delete=models.PROTECT, related_name="+")
    territory_name = models.CharField(max_length=200)
    why = models.CharField(max_length=500)
    status = models.CharField(max_length=8, choices=RebalanceMoveStatus.choices, default=RebalanceMoveStatus.PENDING)
    skipped_reason = models.CharField(max_length=300, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "id"]
        indexes = [models.Index(fields=["plan", "status", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(lead__isnull=True))
                | (Q(account__isnull=True) & Q(lead__isnull=False)),
                name="rebalance_move_of_account_xor_lead",
            ),
            models.UniqueConstraint(
                fields=["plan", "account"], condition=Q(account__isnull=False), name="rebalance_move_account_once"
            ),
            models.UniqueConstraint(
                fields=["plan", "lead"], condition=Q(lead__isnull=False), name="rebalance_move_lead_once"
            ),
        ]
