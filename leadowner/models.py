"""Platform plumbing with no domain rules: API tokens, job runs, notifications, the access audit."""

from __future__ import annotations

from django.conf import settings
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


class NotificationKind(models.TextChoices):
    FORFEIT = "FORFEIT"
    FIRST_TOUCH_SLA = "FIRST_TOUCH_SLA"
    ESCALATION = "ESCALATION"
    REASSIGNMENT = "REASSIGNMENT"
    DEPARTURE = "DEPARTURE"
    REGISTRATION_DECISION = "REGISTRATION_DECISION"
    REBALANCING = "REBALANCING"


class Notification(models.Model):
    """Something a rep or a partner user is told: kept here, queryable, and emailed once.

    The row is written in the transaction of the change it reports; the email goes out
    after commit (leadowner.notifications). A failed send is recorded on the row, never
    raised into the change.
    """

    # No index of their own: the (recipient, created_at) indexes below serve every lookup by
    # recipient, and each index more is written for every notification a sweep sends.
    recipient_rep = models.ForeignKey(
        "territories.Rep",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    recipient_partner_user = models.ForeignKey(
        "territories.PartnerUser",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    account = models.ForeignKey("routing.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lead = models.ForeignKey("routing.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The dispute an escalation is about (the console links to it).
    dispute = models.ForeignKey("disputes.Dispute", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # A sender leases the row before sending, so two senders never email it twice.
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient_rep", "created_at"]),
            models.Index(fields=["recipient_partner_user", "created_at"]),
            models.Index(fields=["kind", "created_at"]),
            models.Index(fields=["created_at"], condition=Q(emailed_at__isnull=True), name="notification_unsent"),
            # The console's navigation counts a manager's unread notifications on every page.
            models.Index(fields=["recipient_rep"], condition=Q(read_at__isnull=True), name="notification_unread_rep"),
            models.Index(
                fields=["recipient_partner_user"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_partner",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(recipient_rep__isnull=False) & Q(recipient_partner_user__isnull=True))
                | (Q(recipient_rep__isnull=True) & Q(recipient_partner_user__isnull=False)),
                name="notification_for_rep_xor_partner_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"


class SignInOutcome(models.TextChoices):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    RATE_LIMITED = "RATE_LIMITED"


class SignInEvent(models.Model):
    """A console sign-in (or a refused attempt) as a manager, RevOps or superuser: the audit trail of access.

    Written by leadowner.audit from Django's user_logged_in / user_login_failed signals.
    """

    at = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=12, choices=SignInOutcome.choices)
    username = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sign_in_events"
    )
    rep = models.ForeignKey(
        "territories.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="sign_in_events"
    )
    address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["rep", "at"]), models.Index(fields=["username", "at"])]

    def __str__(self) -> str:
        return f"{self.username} {self.outcome.lower()} at {self.at:%Y-%m-%d %H:%M}"


class TokenUse(models.Model):
    """One use of a manager's (or RevOps') API token: one row per authenticated request.

    Written by leadowner.audit with a single INSERT on the request's own connection
    (autocommit: it lands whatever the request then does, a refused mutation included).
    """

    # No index of their own: each leads one of Meta.indexes (leadowner 0007); a row is written
    # for every request a manager's token makes.
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="uses", db_index=False)
    rep = models.ForeignKey("territories.Rep", on_delete=models.CASCADE, related_name="token_uses", db_index=False)
    at = models.DateTimeField()
    address = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=200, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["rep", "at"]), models.Index(fields=["token", "at"])]

    def __str__(self) -> str:
        return f"{self.token.prefix} used at {self.at:%Y-%m-%d %H:%M:%S}"
