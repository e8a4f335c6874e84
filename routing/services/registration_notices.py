"""Telling partners (and the account's rep) what became of a deal registration."""

from __future__ import annotations

from datetime import datetime

from leadowner.models import NotificationKind
from leadowner.notifications import notify
from routing.models import DealRegistration, DealRegistrationStatus, OwnerRole
from routing.services.ownership import Record, current_owner
from territories.models import PartnerUser, Rep


def notify_registration_decision(*, registration: DealRegistration, now: datetime) -> None:
    """In the decision's transaction: the submitter (else every user of the partner) learns the outcome.

    On approval the account's SALES owner, a direct rep, is told too: the partner now comes first.
    """
    recipients: list[Rep | PartnerUser | None] = []
    if registration.submitted_by_id is not None:
        recipients.append(registration.submitted_by)
    else:
        recipients.extend(PartnerUser.objects.filter(partner_id=registration.partner_id).order_by("pk"))
    decided = registration.status.lower()
    why = f" Reason: {registration.reason}" if registration.reason else ""
    account = registration.account
    notify(
        recipients=recipients,
        kind=NotificationKind.REGISTRATION_DECISION,
        subject=f"Deal registration #{registration.pk} ({registration.company}) {decided}",
        body=f"Your deal registration #{registration.pk} for {registration.company} was {decided}.{why}",
        now=now,
        account_id=account.pk,
    )
    if registration.status == DealRegistrationStatus.APPROVED:
        owner = current_owner(Record(account=account), OwnerRole.SALES)
        if owner is not None and owner.rep is not None:
            notify(
                recipients=[owner.rep],
                kind=NotificationKind.REGISTRATION_DECISION,
                subject=f"{registration.partner.name}'s deal registration on {account.name} was approved",
                body=(
                    f"{registration.partner.name} holds an approved deal registration on {account.name} "
                    f"(#{registration.pk}): the partner now has priority on new leads for it.{why}"
                ),
                now=now,
                account_id=account.pk,
            )
