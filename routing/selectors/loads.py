"""A rep's open load: the current SALES owner rows of leads in an open stage.

One definition for routing's distribution, rebalancing, the metrics, the team screens and
the GraphQL loaders. Each owner row carries its lead's openness (`Ownership.lead_open`,
kept by routing 0010's triggers), so a load is counted from ownership_open_leads_by_rep
alone, without joining the leads.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from routing.models import OwnerRole, Ownership


def open_lead_ownerships() -> QuerySet[Ownership]:
    """Current SALES ownerships of leads in an open stage: what counts toward a rep's open load."""
    return Ownership.objects.filter(ended_at__isnull=True, role=OwnerRole.SALES, lead_open=True)


def open_load_counts() -> QuerySet[Ownership, tuple[int, int]]:
    """(rep id, open load) for every rep with open leads; filter it by `rep_id`. Counted
    from ownership_open_leads_by_rep alone (COUNT(*): counting a column the index lacks
    would read every row from the table)."""
    return open_lead_ownerships().order_by().values("rep_id").annotate(n=Count("*")).values_list("rep_id", "n")


def open_load_annotation() -> Coalesce:
    """A Rep queryset annotation: the rep's open load, in the same query as the reps."""
    counted = (
        open_lead_ownerships()
        .filter(rep_id=OuterRef("pk"))
        .order_by()
        .values("rep_id")
        .annotate(n=Count("*"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
