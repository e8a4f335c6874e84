"""Reads about leads: the filters of the leads list."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from routing.models import Lead, OwnerRole, Ownership


def leads_filtered(
    *,
    stage: str | None,
    owner_rep_id: int | None,
    unassigned: bool | None,
    qs: QuerySet[Lead],
) -> QuerySet[Lead]:
    """`qs` narrowed: `stage` to that stage, `owner_rep_id` to leads whose current sales owner is
    this rep, `unassigned` True to leads with no current sales owner and False to leads with one.
    None leaves a filter out; an id no row has (0) matches nothing.
    """
    if stage is not None:
        qs = qs.filter(stage=stage)
    sales = Ownership.objects.filter(ended_at__isnull=True, lead_id=OuterRef("pk"), role=OwnerRole.SALES)
    if owner_rep_id is not None:
        qs = qs.filter(Exists(sales.filter(rep_id=owner_rep_id)))
    if unassigned is not None:
        qs = qs.filter(~Exists(sales)) if unassigned else qs.filter(Exists(sales))
    return qs
