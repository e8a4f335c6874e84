"""First-to-claim: a rep registers an unowned account for outbound work.

The database decides who was first: the claim is an insert of the SALES ownership,
and the partial unique index on current ownership refuses every later insert, which
`claim_unowned` turns into ALREADY_OWNED. The checks before it only explain refusals
in plain words; they never decide a race.

A claim lapses `policy.claim_days` after it was made or last renewed; the claimant's
activity on the account renews it, and `expire_claims` ends lapsed claims with history.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.db import transaction

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import (
    Account,
    AccountType,
    DealRegistration,
    DealRegistrationStatus,
    DecisionStep,
    Opportunity,
    OpportunityStatus,
    OwnerRole,
    Ownership,
)
from routing.services.ownership import Record, claim_unowned, current_owner, end_owner
from territories.models import Rep
from territories.selectors import policy_of, published_rule_set

EXPIRY_ACTOR = "claim expiry job"


def _claimant(actor: Actor) -> Rep:
    refusal = permissions.may_claim(actor)
    if refusal is not None:
        raise ServiceError(ErrorCode.FORBIDDEN, refusal.message, refusal.field)
    assert actor.rep is not None
    return actor.rep


def _refuse_when_not_claimable(account: Account, rep: Rep, now: datetime) -> Ownership | None:
    """Raise with the reason when the account cannot be claimed; return a lapsed claim to end first."""
    if account.type == AccountType.CUSTOMER:
        raise ServiceError(
            ErrorCode.ALREADY_OWNED, f"{account.name} is a customer: its account manager owns it", "accountId"
        )
    registration = (
        DealRegistration.objects.select_related("partner")
        .filter(account=account, status=DealRegistrationStatus.APPROVED)
        .first()
    )
    if registration is not None:
        raise ServiceError(
            ErrorCode.CONFLICT,
            f"{account.name} is under an approved deal registration of {registration.partner.name}",
            "accountId",
        )
    opportunity = (
        Opportunity.objects.select_related("owner").filter(account=account, status=OpportunityStatus.OPEN).first()
    )
    if opportunity is not None:
        owner = opportunity.owner.name if opportunity.owner else "nobody yet"
        raise ServiceError(
            ErrorCode.CONFLICT,
            f"{account.name} has an open opportunity ({opportunity.name}, owned by {owner})",
            "accountId",
        )
    holder = current_owner(Record(account=account), OwnerRole.SALES)
    if holder is None:
        return None
    if _lapsed(holder, now):
        return holder
    if holder.rep_id == rep.pk:
        raise ServiceError(ErrorCode.ALREADY_OWNED, f"you already own {account.name}", "accountId")
    who = holder.rep.name if holder.rep else "someone"
    raise ServiceError(ErrorCode.ALREADY_OWNED, f"{account.name} is already owned by {who}", "accountId")


def _lapsed(ownership: Ownership, now: datetime) -> bool:
    return (
        ownership.reason == DecisionStep.ACCOUNT_CLAIM
        and ownership.expires_at is not None
        and ownership.expires_at <= now
    )


def claim_account(*, account: Account, actor: Actor, now: datetime) -> Ownership:
    """Make the acting rep the SALES owner of an unowned account, for `policy.claim_days`.

    Refused (with the reason) when the account is owned, a customer, under an approved
    deal registration or has an open opportunity; partners and departed reps cannot claim.
    Of simultaneous claims exactly one wins; the others get ALREADY_OWNED.
    """
    rep = _claimant(actor)
    rule_set = published_rule_set()
    policy = policy_of(rule_set)
    version = rule_set.version if rule_set else None
    lapsed = _refuse_when_not_claimable(account, rep, now)
    record = Record(account=account)
    if lapsed is not None:
        # The sweep has not reached it yet: end it here, with history, then claim.
        who = lapsed.rep.name if lapsed.rep else "the claimant"
        # Someone else may change it first (CONFLICT); then the insert below decides.
        with contextlib.suppress(ServiceError):
            end_owner(
                record,
                role=OwnerRole.SALES,
                why=f"claim by {who} lapsed: no activity before {lapsed.expires_at:%Y-%m-%d %H:%M}",
                actor=EXPIRY_ACTOR,
                now=now,
                rule_set_version=version,
                expected=lapsed,
            )
    return claim_unowned(
        record,
        role=OwnerRole.SALES,
        rep=rep,
        step=DecisionStep.ACCOUNT_CLAIM,
        why=f"claimed by {rep.name} for outbound work ({policy.claim_days} days without activity to lapse)",
        actor=actor.label,
        now=now,
        rule_set_version=version,
        expires_at=now + timedelta(days=policy.claim_days),
    )


def renew_claim_on_activity(*, account: Account, rep: Rep, occurred_at: datetime, now: datetime) -> bool:
    """The claimant worked the account: push its claim's lapse to `occurred_at + claim_days`.

    Only a still-valid claim by `rep` is renewed, and never shortened. Returns whether it moved.
    """
    policy = policy_of(published_rule_set())
    new_expiry = occurred_at + timedelta(days=policy.claim_days)
    renewed = Ownership.objects.filter(
        account=account,
        role=OwnerRole.SALES,
        rep=rep,
        reason=DecisionStep.ACCOUNT_CLAIM,
        ended_at__isnull=True,
        expires_at__gt=now,
        expires_at__lt=new_expiry,
    ).update(expires_at=new_expiry)
    return renewed > 0


def _due_claim_ids(*, now: datetime, limit: int, after: int) -> list[int]:
    return list(
        Ownership.objects.filter(
            account__isnull=False,
            role=OwnerRole.SALES,
            reason=DecisionStep.ACCOUNT_CLAIM,
            ended_at__isnull=True,
            expires_at__lte=now,
            pk__gt=after,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def _expire_one(ownership_id: int, *, now: datetime, version: int | None) -> bool:
    with transaction.atomic():
        # Re-check under a row lock: activity may have renewed it since it was selected.
        ownership = (
            Ownership.objects.select_for_update(of=("self",))
            .select_related("account", "rep")
            .filter(pk=ownership_id, ended_at__isnull=True, expires_at__lte=now)
            .first()
        )
        if ownership is None or ownership.account is None:
            return False
        who = ownership.rep.name if ownership.rep else "the claimant"
        ended = end_owner(
            Record(account=ownership.account),
            role=OwnerRole.SALES,
            why=f"claim by {who} lapsed: no activity before {ownership.expires_at:%Y-%m-%d %H:%M}",
            actor=EXPIRY_ACTOR,
            now=now,
            rule_set_version=version,
            expected=ownership,
        )
        return ended is not None


def expire_claims(*, now: datetime, batch_size: int = 500) -> int:
    """End every claim whose lifetime ran out, with history. Returns how many ended.

    Selects due ids in bounded batches (by id, so each row is visited once), then ends
    each in its own transaction with a conditional re-check, so a claim renewed meanwhile
    survives and one changed row does not roll back the others.
    """
    rule_set = published_rule_set()
    version = rule_set.version if rule_set else None
    ended = 0
    after = 0
    while True:
        ids = _due_claim_ids(now=now, limit=batch_size, after=after)
        if not ids:
            return ended
        after = ids[-1]
        for ownership_id in ids:
            try:
                if _expire_one(ownership_id, now=now, version=version):
                    ended += 1
            except ServiceError:
                continue  # changed meanwhile; it is no longer this sweep's business
