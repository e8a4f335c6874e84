"""Partner deal registrations: submit (matched to an account), review, expire.

A registration is PENDING until a manager or RevOps decides: APPROVED makes the
partner the PARTNER-role owner of the account, REJECTED needs a reason. Either way
the state change is a conditional update on the status, and the database allows one
APPROVED registration per account, so two approvals can never both win.

Conflicts are found at submission and kept on the registration for the reviewer.
Rule from product.md: a direct rep's earlier valid claim wins over a later
registration, so approving such a registration is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.matching import match_account
from routing.models import (
    Account,
    AccountDomain,
    AccountOrigin,
    AccountType,
    DealRegistration,
    DealRegistrationStatus,
    DecisionStep,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
)
from routing.normalize import country_code, host_of, is_free_mail, normalize_company, registered_domain
from routing.services.ownership import Record, current_owner, end_owner, set_owner
from routing.services.registration_notices import notify_registration_decision
from territories.models import Partner
from territories.selectors import policy_of, published_rule_set

EXPIRY_ACTOR = "registration expiry job"
LIVE_STATUSES = (DealRegistrationStatus.PENDING, DealRegistrationStatus.APPROVED)
MAX_ESTIMATED_VALUE = Decimal(10**12)  # DealRegistration.estimated_value: max_digits=14, decimal_places=2


@dataclass(frozen=True)
class DealRegistrationData:
    company: str
    domain: str = ""
    country: str = ""
    estimated_value: Decimal | None = None
    note: str = ""


@dataclass(frozen=True)
class _Cleaned:
    company: str
    domain: str
    country: str
    estimated_value: Decimal | None
    note: str


def _clean(data: DealRegistrationData) -> _Cleaned:
    for name in ("company", "domain", "country", "note"):
        if "\x00" in getattr(data, name):
            # PostgreSQL text cannot hold NUL: refused here, not as a database error.
            raise ServiceError(ErrorCode.INVALID, f"the {name} contains a NUL character", name)
    company = data.company.strip()
    if not company:
        raise ServiceError(ErrorCode.INVALID, "the company is required", "company")
    domain = ""
    if data.domain.strip():
        domain = registered_domain(host_of(data.domain))
        if not domain:
            raise ServiceError(ErrorCode.INVALID, f"{data.domain!r} is not a domain", "domain")
        if is_free_mail(domain):
            raise ServiceError(ErrorCode.INVALID, f"{domain} is a free-mail provider, not a company's domain", "domain")
    country = ""
    if data.country.strip():
        country = country_code(data.country) or ""
        if not country:
            raise ServiceError(ErrorCode.INVALID, f"unknown country {data.country!r}", "country")
    value = data.estimated_value
    if value is not None and not value.is_finite():
        raise ServiceError(ErrorCode.INVALID, "the estimated value must be a number", "estimatedValue")
    if value is not None and value < 0:
        raise ServiceError(ErrorCode.INVALID, "the estimated value cannot be negative", "estimatedValue")
    if value is not None and value >= MAX_ESTIMATED_VALUE:
        # The column holds 14 digits, 2 after the point: anything larger overflowed in the database.
        raise ServiceError(
            ErrorCode.INVALID, f"the estimated value must be less than {MAX_ESTIMATED_VALUE:,}", "estimatedValue"
        )
    return _Cleaned(company, domain, country, data.estimated_value, data.note.strip())


def _account_for(data: _Cleaned, *, threshold: int) -> Account:
    """The matched account, or a new PROSPECT account created from the registration."""
    match = match_account(domain=data.domain, company=data.company, threshold=threshold)
    if match.account_id is not None:
        return match.account if match.account is not None else Account.objects.get(pk=match.account_id)
    if match.ambiguous_ids:
        names = ", ".join(Account.objects.filter(pk__in=match.ambiguous_ids).values_list("name", flat=True)[:5])
        raise ServiceError(
            ErrorCode.AMBIGUOUS,
            f"{data.company} matches several accounts ({names}); give the company's web domain",
            "domain",
        )
    try:
        with transaction.atomic():
            account = Account.objects.create(
                name=data.company,
                normalized_name=normalize_company(data.company),
                country=data.country,
                type=AccountType.PROSPECT,
                origin=AccountOrigin.REGISTRATION,
            )
            if data.domain:
                AccountDomain.objects.create(account=account, domain=data.domain, position=0)
    except IntegrityError:
        # Someone registered this new domain a moment ago: the domain names one account.
        row = AccountDomain.objects.select_related("account").filter(domain=data.domain).first()
        if row is None:
            raise
        return row.account
    return account


def _conflicts(account: Account, partner: Partner, *, now: datetime) -> list[dict[str, Any]]:
    """What the reviewer must weigh, in plain words, with ids for the screens."""
    found: list[dict[str, Any]] = []
    if account.type == AccountType.CUSTOMER:
        found.append({"kind": "CUSTOMER", "detail": f"{account.name} is a customer: its account manager owns it"})
    for opportunity in Opportunity.objects.select_related("owner").filter(
        account=account, status=OpportunityStatus.OPEN
    ):
        owner = opportunity.owner.name if opportunity.owner else "nobody"
        found.append(
            {
                "kind": "OPEN_OPPORTUNITY",
                "detail": f"open opportunity {opportunity.name} owned by {owner}",
                "opportunity_id": opportunity.pk,
                "rep_id": opportunity.owner_id,
            }
        )
    claim = _valid_claim(account, now=now)
    if claim is not None and claim.rep is not None:
        found.append(
            {
                "kind": "ACCOUNT_CLAIM",
                "detail": f"claimed by {claim.rep.name} since {claim.since:%Y-%m-%d %H:%M}",
                "rep_id": claim.rep_id,
                "since": claim.since.isoformat(),
            }
        )
    others = (
        DealRegistration.objects.select_related("partner")
        .filter(account=account, status__in=LIVE_STATUSES)
        .exclude(partner=partner)
        .order_by("submitted_at", "pk")
    )
    for other in others:
        found.append(
            {
                "kind": "PARTNER_REGISTRATION",
                "detail": f"{other.partner.name} registered it on {other.submitted_at:%Y-%m-%d} ({other.status})",
                "registration_id": other.pk,
                "partner_id": other.partner_id,
            }
        )
    return found


def _valid_claim(account: Account, *, now: datetime) -> Ownership | None:
    """The current SALES ownership when it is a rep's claim that has not lapsed."""
    owner = current_owner(Record(account=account), OwnerRole.SALES)
    if owner is None or owner.reason != DecisionStep.ACCOUNT_CLAIM:
        return None
    if owner.expires_at is not None and owner.expires_at <= now:
        return None
    return owner


def register_deal(*, data: DealRegistrationData, actor: Actor, now: datetime) -> DealRegistration:
    """A partner registers a deal: matched to an account (or a new prospect), conflicts noted, PENDING."""
    refusal = permissions.may_register_deal(actor)
    if refusal is not None:
        raise ServiceError(ErrorCode.FORBIDDEN, refusal.message, refusal.field)
    partner_user = actor.partner_user
    assert partner_user is not None
    cleaned = _clean(data)
    policy = policy_of(published_rule_set())
    with transaction.atomic():
        account = _account_for(cleaned, threshold=policy.fuzzy_threshold)
        mine = DealRegistration.objects.filter(
            account=account, partner_id=partner_user.partner_id, status__in=LIVE_STATUSES
        ).first()
        if mine is not None:
            raise ServiceError(
                ErrorCode.CONFLICT,
                f"your registration #{mine.pk} of {account.name} is already {mine.status.lower()}",
                "company",
            )
        return DealRegistration.objects.create(
            partner_id=partner_user.partner_id,
            submitted_by=partner_user,
            account=account,
            company=cleaned.company,
            domain=cleaned.domain,
            country=cleaned.country,
            estimated_value=cleaned.estimated_value,
            note=cleaned.note,
            status=DealRegistrationStatus.PENDING,
            conflicts=_conflicts(account, partner_user.partner, now=now),
            submitted_at=now,
            expires_at=now + timedelta(days=policy.registration_days),
        )


def _reject(registration: DealRegistration, *, reason: str | None, actor: Actor, now: datetime) -> DealRegistration:
    text = (reason or "").strip()
    if not text:
        raise ServiceError(ErrorCode.INVALID, "a rejection needs a reason", "reason")
    updated = DealRegistration.objects.filter(pk=registration.pk, status=DealRegistrationStatus.PENDING).update(
        status=DealRegistrationStatus.REJECTED, decided_at=now, decided_by=actor.rep, reason=text[:500]
    )
    if updated == 0:
        raise ServiceError(ErrorCode.CONFLICT, f"registration #{registration.pk} was decided meanwhile")
    registration.refresh_from_db()
    return registration


def _approve(registration: DealRegistration, *, reason: str | None, actor: Actor, now: datetime) -> DealRegistration:
    account = registration.account
    claim = _valid_claim(account, now=now)
    if claim is not None and claim.rep is not None and claim.since < registration.submitted_at:
        raise ServiceError(
            ErrorCode.CONFLICT,
            f"{claim.rep.name} claimed {account.name} on {claim.since:%Y-%m-%d %H:%M}, before this registration "
            f"was submitted on {registration.submitted_at:%Y-%m-%d %H:%M}: a direct rep's earlier valid claim wins",
        )
    earlier = (
        DealRegistration.objects.filter(
            account=account, status=DealRegistrationStatus.PENDING, submitted_at__lt=registration.submitted_at
        )
        .exclude(partner=registration.partner)
        .select_related("partner")
        .order_by("submitted_at", "pk")
        .first()
    )
    if earlier is not None:
        # First valid wins between partners too: decide the earlier registration first.
        raise ServiceError(
            ErrorCode.CONFLICT,
            f"{earlier.partner.name} registered {account.name} first (#{earlier.pk}, "
            f"{earlier.submitted_at:%Y-%m-%d %H:%M}, still pending): review that registration first",
        )
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    expires_at = now + timedelta(days=policy.registration_days)
    text = (reason or "").strip()
    conflict = ServiceError(
        ErrorCode.CONFLICT, f"{account.name} already has an approved deal registration of another partner"
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                updated = DealRegistration.objects.filter(
                    pk=registration.pk, status=DealRegistrationStatus.PENDING
                ).update(
                    status=DealRegistrationStatus.APPROVED,
                    decided_at=now,
                    decided_by=actor.rep,
                    reason=text[:500],
                    expires_at=expires_at,
                )
        except IntegrityError:
            # The partial unique index: one APPROVED registration per account.
            raise conflict from None
        if updated == 0:
            raise ServiceError(ErrorCode.CONFLICT, f"registration #{registration.pk} was decided meanwhile")
        why = f"deal registration #{registration.pk} approved"
        set_owner(
            Record(account=account),
            role=OwnerRole.PARTNER,
            partner=registration.partner,
            step=DecisionStep.DEAL_REGISTRATION,
            why=f"{why}: {text}" if text else why,
            actor=actor.label,
            now=now,
            rule_set_version=rule_set.version if rule_set else None,
            expires_at=expires_at,
        )
    registration.refresh_from_db()
    return registration


def review_deal_registration(
    *, registration_id: int, approve: bool, reason: str | None, actor: Actor, now: datetime
) -> DealRegistration:
    """A manager or RevOps approves (the partner becomes PARTNER owner) or rejects (with a reason)."""
    if not permissions.may_review_registrations(actor):
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps review deal registrations")
    registration = DealRegistration.objects.select_related("account", "partner").filter(pk=registration_id).first()
    if registration is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no deal registration #{registration_id}", "id")
    if registration.status != DealRegistrationStatus.PENDING:
        raise ServiceError(
            ErrorCode.INVALID_TRANSITION,
            f"registration #{registration.pk} is {registration.status}, only a PENDING one can be reviewed",
        )
    if approve and registration.expires_at is not None and registration.expires_at <= now:
        raise ServiceError(ErrorCode.EXPIRED, f"registration #{registration.pk} expired without progress")
    with transaction.atomic():
        decide = _approve if approve else _reject
        decided = decide(registration, reason=reason, actor=actor, now=now)
        # The partner is told in the decision's transaction; the email goes after commit.
        notify_registration_decision(registration=decided, now=now)
    return decided


def renew_registrations_on_activity(*, account: Account, occurred_at: datetime, now: datetime) -> int:
    """Work on the account is progress on its approved registration: renew it and the partner's ownership."""
    policy = policy_of(published_rule_set())
    new_expiry = occurred_at + timedelta(days=policy.registration_days)
    with transaction.atomic():
        live = DealRegistration.objects.filter(
            account=account, status=DealRegistrationStatus.APPROVED, expires_at__gt=now
        )
        partner_ids = list(live.values_list("partner_id", flat=True))
        renewed = live.update(
            last_activity_at=Greatest(Coalesce(F("last_activity_at"), occurred_at), occurred_at),
            expires_at=Greatest(F("expires_at"), new_expiry),
        )
        if partner_ids:
            Ownership.objects.filter(
                account=account,
                role=OwnerRole.PARTNER,
                partner_id__in=partner_ids,
                ended_at__isnull=True,
                expires_at__lt=new_expiry,
            ).update(expires_at=new_expiry)
    return renewed


def _expire_one(registration_id: int, *, now: datetime, version: int | None) -> bool:
    with transaction.atomic():
        registration = (
            DealRegistration.objects.select_for_update()
            .filter(pk=registration_id, status__in=LIVE_STATUSES, expires_at__lte=now)
            .first()
        )
        if registration is None:
            return False
        was = registration.status
        last = registration.last_activity_at or registration.decided_at or registration.submitted_at
        reason = f"expired: no progress since {last:%Y-%m-%d}"
        updated = DealRegistration.objects.filter(pk=registration.pk, status=was).update(
            status=DealRegistrationStatus.EXPIRED, reason=reason
        )
        if updated == 0:
            return False
        if was == DealRegistrationStatus.APPROVED:
            record = Record(account=registration.account)
            holder = current_owner(record, OwnerRole.PARTNER)
            if holder is not None and holder.partner_id == registration.partner_id:
                end_owner(
                    record,
                    role=OwnerRole.PARTNER,
                    why=f"deal registration #{registration.pk} {reason}",
                    actor=EXPIRY_ACTOR,
                    now=now,
                    rule_set_version=version,
                    expected=holder,
                )
        return True


def expire_registrations(*, now: datetime, batch_size: int = 500) -> int:
    """PENDING/APPROVED registrations past their lifetime become EXPIRED; the partner's ownership ends.

    Bounded batches of due ids, each ended in its own transaction after a locked re-check.
    """
    rule_set = published_rule_set()
    version = rule_set.version if rule_set else None
    expired = 0
    after = 0
    while True:
        ids = list(
            DealRegistration.objects.filter(status__in=LIVE_STATUSES, expires_at__lte=now, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return expired
        after = ids[-1]
        for registration_id in ids:
            try:
                if _expire_one(registration_id, now=now, version=version):
                    expired += 1
            except ServiceError:
                continue  # the owner changed meanwhile; the registration stays as it was
