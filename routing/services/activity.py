"""Lead stages and activity: the owner's work on a lead, and what it keeps alive.

Stages move forward along NEW -> CONTACTED -> QUALIFIED -> PROPOSAL -> NEGOTIATION ->
WON / LOST, one or more steps at a time, never backwards; WON and LOST are final. Any
open stage can be PAUSED (the stage is remembered) and a paused lead is reactivated to
exactly the stage it was paused in.

Activity is what the activity window and the first-touch SLA measure: the first one
sets the lead's first touch, every one moves its last activity; on an account it renews
the actor's claim and an approved deal registration.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from leadowner import permissions
from leadowner.actors import Actor
from leadowner.errors import ErrorCode, ServiceError
from routing.models import OPEN_LEAD_STAGES, Account, Activity, ActivityKind, Lead, LeadStage, OwnerRole
from routing.services.claims import renew_claim_on_activity
from routing.services.ownership import Record, current_owner
from routing.services.registrations import renew_registrations_on_activity
from territories.models import Rep, RepStatus

_CHAIN = (*OPEN_LEAD_STAGES, LeadStage.WON)
FINAL_STAGES = (LeadStage.WON, LeadStage.LOST)


def check_stage_transition(current: str, target: str, *, stage_before_pause: str = "") -> None:
    """Raise INVALID_TRANSITION, naming both stages, unless current -> target is allowed."""

    def refuse(why: str) -> ServiceError:
        return ServiceError(ErrorCode.INVALID_TRANSITION, f"a lead cannot move from {current} to {target}: {why}")

    if target not in LeadStage.values:
        raise ServiceError(ErrorCode.INVALID, f"unknown stage {target}", "stage")
    if current == target:
        raise refuse("it is already there")
    if current in FINAL_STAGES:
        raise refuse(f"{current} is final")
    if current == LeadStage.PAUSED:
        if target != stage_before_pause:
            raise refuse(f"a paused lead is reactivated to the stage it was paused in ({stage_before_pause})")
        return
    if target in (LeadStage.PAUSED, LeadStage.LOST):
        return
    if _CHAIN.index(LeadStage(target)) < _CHAIN.index(LeadStage(current)):
        raise refuse("stages only move forward")


def _owner_rep(lead: Lead) -> Rep | None:
    owner = current_owner(Record(lead=lead), OwnerRole.SALES)
    return owner.rep if owner is not None else None


def update_lead_stage(*, lead_id: int, stage: str, actor: Actor, now: datetime) -> Lead:
    """Move a lead to `stage` (see the module docstring). Only its owner or their manager."""
    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"no lead #{lead_id}", "leadId")
    if not permissions.may_work_lead(actor, lead, _owner_rep(lead)):
        raise ServiceError(ErrorCode.FORBIDDEN, f"only the owner of {lead.email} or their manager can change its stage")
    check_stage_transition(lead.stage, stage, stage_before_pause=lead.stage_before_pause)
    before_pause = lead.stage if stage == LeadStage.PAUSED else ""
    updated = Lead.objects.filter(pk=lead.pk, stage=lead.stage).update(stage=stage, stage_before_pause=before_pause)
    if updated == 0:
        raise ServiceError(ErrorCode.CONFLICT, f"the stage of {lead.email} changed meanwhile; try again", "stage")
    lead.refresh_from_db()
    return lead


def _lead_activity(lead: Lead, *, occurred_at: datetime) -> None:
    # Conditional updates: concurrent activity can only move first touch earlier and last activity later.
    Lead.objects.filter(pk=lead.pk).filter(Q(first_touch_at__isnull=True) | Q(first_touch_at__gt=occurred_at)).update(
        first_touch_at=occurred_at
    )
    Lead.objects.filter(pk=lead.pk).filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=occurred_at)
    ).update(last_activity_at=occurred_at)


def log_activity(
    *,
    lead_id: int | None = None,
    account_id: int | None = None,
    kind: str,
    occurred_at: datetime | None = None,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> Activity:
    """Record a call, email, meeting or note by the acting rep on a lead and/or an account.

    On an owned lead only its owner (or their manager) may log; on an account owned by
    reps, one of them (or their manager): leadowner.permissions.may_log_account_activity. The lead's first touch
    and last activity move; account activity renews the actor's claim and the account's
    approved deal registration.
    """
    rep = actor.rep
    if rep is None:
        raise ServiceError(ErrorCode.FORBIDDEN, "only reps log activity")
    if rep.status == RepStatus.DEPARTED:
        raise ServiceError(ErrorCode.FORBIDDEN, f"{rep.name} has departed")
    if lead_id is None and account_id is None:
        raise ServiceError(ErrorCode.INVALID, "give a lead or an account", "leadId")
    if kind not in ActivityKind.values:
        raise ServiceError(ErrorCode.INVALID, f"unknown activity kind {kind}", "kind")
    when = occurred_at or now
    if when > now:
        raise ServiceError(ErrorCode.INVALID, "activity cannot happen in the future", "occurredAt")
    lead: Lead | None = None
    lead_owner: Rep | None = None
    account: Account | None = None
    if lead_id is not None:
        lead = Lead.objects.filter(pk=lead_id).first()
        if lead is None:
            raise ServiceError(ErrorCode.NOT_FOUND, f"no lead #{lead_id}", "leadId")
        lead_owner = _owner_rep(lead)
        if lead_owner is not None and not permissions.may_work_lead(actor, lead, lead_owner):
            raise ServiceError(ErrorCode.FORBIDDEN, f"only the owner of {lead.email} can log activity on it", "leadId")
    if account_id is not None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise ServiceError(ErrorCode.NOT_FOUND, f"no account #{account_id}", "accountId")
        if lead is not None and lead.account_id not in (None, account.pk):
            raise ServiceError(ErrorCode.INVALID, f"lead {lead.email} belongs to another account", "accountId")
        if not permissions.may_log_account_activity(actor, account, lead=lead, lead_owner=lead_owner):
            raise ServiceError(
                ErrorCode.FORBIDDEN,
                f"only an owner of {account.name} or their manager can log activity on it",
                "accountId",
            )
    with transaction.atomic():
        activity = Activity.objects.create(
            rep=rep, lead=lead, account=account, kind=kind, occurred_at=when, note=note.strip()
        )
        if lead is not None:
            _lead_activity(lead, occurred_at=when)
        if account is not None:
            renew_claim_on_activity(account=account, rep=rep, occurred_at=when, now=now)
            renew_registrations_on_activity(account=account, occurred_at=when, now=now)
    return activity
