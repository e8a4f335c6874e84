"""Reads about disputes: who it escalates to, which are overdue (who may resolve one: leadowner.permissions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from disputes.models import Dispute, DisputeEscalation, DisputeStatus
from leadowner.errors import ErrorCode, ServiceError
from routing.selectors.team import manager_chain
from territories.models import Rep, RepRole, RepStatus

UNRESOLVED = (DisputeStatus.OPEN, DisputeStatus.ESCALATED)


def escalation_target(rep: Rep) -> Rep:
    """Who a dispute escalates to from `rep`'s level: the next active manager up, RevOps at the top.

    Managers who departed or are out of office are passed over (an SLA cannot wait for
    them). Above the top of the chain it goes to the first active RevOps rep; a dispute
    already with RevOps stays there.
    """
    for manager in manager_chain(rep):
        if manager.status == RepStatus.ACTIVE:
            return manager
    if rep.role == RepRole.REVOPS and rep.status == RepStatus.ACTIVE:
        return rep
    revops = Rep.objects.filter(role=RepRole.REVOPS, status=RepStatus.ACTIVE).order_by("pk").first()
    if revops is not None:
        return revops
    raise ServiceError(ErrorCode.NOT_FOUND, f"no one above {rep.name} to escalate to: no active RevOps rep")


def overdue_dispute_ids(*, now: datetime, limit: int = 500) -> list[int]:
    """Unresolved disputes past their deadline, oldest deadline first (for the escalation job)."""
    return list(
        Dispute.objects.filter(status__in=UNRESOLVED, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def open_dispute_on(*, account_id: int | None = None, lead_id: int | None = None) -> Dispute | None:
    """The unresolved dispute on an account or a lead, if any (there is at most one)."""
    disputes = Dispute.objects.filter(status__in=UNRESOLVED)
    if account_id is not None:
        return disputes.filter(account_id=account_id).first()
    if lead_id is not None:
        return disputes.filter(lead_id=lead_id).first()
    return None


def unresolved_disputes() -> QuerySet[Dispute]:
    """Open and escalated disputes, nearest deadline first, with the people and records they name."""
    return (
        Dispute.objects.filter(status__in=UNRESOLVED)
        .select_related("account", "lead", "claimant", "current_owner", "escalated_to")
        .order_by("due_at", "pk")
    )


def disputes_by_ids(ids: Iterable[int]) -> list[Dispute]:
    """Disputes to name in a confirmation step, in the order given (missing ones left out)."""
    wanted = list(dict.fromkeys(ids))
    found = Dispute.objects.select_related("account", "lead", "claimant", "current_owner").in_bulk(wanted)
    return [found[pk] for pk in wanted if pk in found]


def dispute_for_review(dispute_id: int) -> Dispute | None:
    """One dispute with everything its page shows (parties, record, who resolved it, its escalations)."""
    return (
        Dispute.objects.select_related(
            "account", "lead", "claimant", "current_owner", "escalated_to", "winner", "resolved_by"
        )
        .prefetch_related(
            Prefetch("escalations", queryset=DisputeEscalation.objects.select_related("from_rep", "to_rep"))
        )
        .filter(pk=dispute_id)
        .first()
    )
