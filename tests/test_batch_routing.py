"""Set-based re-routing (routing.services.batch_routing) decides exactly as routing one lead at a time.

The demo book's leads, plus a lead for every demo account with a domain, are re-routed
twice from the same state: one by one through `route_lead`, then as one batch through
`reroute_leads`, each time away from their current owner (as a forfeit does). Every
decision (step, owner, territory, every line of the trace), every current owner, every
history row and the round-robin counters must come out the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from leadowner.actors import Actor
from leadowner.errors import ServiceError
from routing.models import Account, AccountDomain, Lead, OwnerRole, Ownership, OwnershipChange
from routing.services import batch_routing
from routing.services.batch_routing import reroute_leads
from routing.services.leads import LeadData, route_lead, submit_lead
from territories.models import DistributionCounter, Rep

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=20)
ACTOR = Actor.system_actor("forfeit job")
pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


@pytest.fixture
def book() -> list[int]:
    from leadowner.demo.load import load_demo

    with mock.patch("leadowner.tasks.send_now"):
        load_demo(now=NOW)
        domains = AccountDomain.objects.select_related("account").order_by("pk")
        reps = list(Rep.objects.filter(role="AE").order_by("pk").values_list("email", flat=True))
        for i, row in enumerate(domains):
            account = row.account
            submit_lead(
                data=LeadData(
                    email=f"buyer{i}@{row.domain}",
                    name=f"Buyer {i}",
                    company=account.name if i % 3 else "",
                    country=account.country if i % 4 else "",
                    subdivision=account.subdivision if i % 4 else "",
                    industry=account.industry,
                    requested_rep_email=reps[i % len(reps)] if i % 7 == 0 and reps else "",
                ),
                actor=Actor.system_actor("test"),
                now=NOW + timedelta(minutes=i),
            )
    return list(Lead.objects.order_by("pk").values_list("pk", flat=True))


def _owners() -> dict[int, tuple[int | None, int | None]]:
    return {
        o.lead_id: (o.rep_id, o.partner_id)
        for o in Ownership.objects.filter(lead__isnull=False, role=OwnerRole.SALES, ended_at__isnull=True)
    }


def _state(before_history: int) -> dict[str, object]:
    return {
        "decisions": dict(Lead.objects.values_list("pk", "decision")),
        "accounts": dict(Lead.objects.values_list("pk", "account_id")),
        "assigned": dict(Lead.objects.values_list("pk", "assigned_at")),
        "owners": _owners(),
        "history": sorted(
            OwnershipChange.objects.filter(pk__gt=before_history).values_list(
                "lead_id", "from_rep_id", "from_partner_id", "to_rep_id", "to_partner_id", "step", "reason", "actor"
            ),
            key=repr,
        ),
        "counters": sorted(DistributionCounter.objects.values_list("territory_name", "rep_id", "assigned")),
    }


def _run(route, ids: list[int]) -> dict[str, object]:
    """Run `route` on the leads, capture the state it leaves, and roll it all back."""
    captured: dict[str, object] = {}
    last = OwnershipChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with pytest.raises(Rollback), transaction.atomic():
        exclude = {lead_id: {rep} for lead_id, (rep, _p) in _owners().items() if rep is not None}
        route(ids, exclude)
        captured.update(_state(last))
        raise Rollback
    return captured


def _one_by_one(ids: list[int], exclude: dict[int, set[int]]) -> None:
    for lead in Lead.objects.filter(pk__in=ids).order_by("pk"):
        route_lead(lead=lead, actor=ACTOR, now=LATER, exclude_rep_ids=exclude.get(lead.pk, ()))


def _batch(ids: list[int], exclude: dict[int, set[int]]) -> None:
    leads = list(Lead.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    reroute_leads(leads=leads, actor=ACTOR, now=LATER, exclude=exclude)


def test_a_batch_decides_every_demo_lead_as_routing_them_one_by_one(book):
    assert len(book) > 30
    single = _run(_one_by_one, book)
    batch = _run(_batch, book)
    steps = {d["step"] for d in single["decisions"].values()}  # type: ignore[union-attr]
    assert len(steps) >= 4, steps  # the book exercises several steps of the hierarchy
    for key in ("decisions", "accounts", "assigned", "owners", "history", "counters"):
        assert batch[key] == single[key], key


def test_a_batch_of_one_is_the_same_as_route_lead(book):
    for lead_id in book[:5]:
        assert _run(_batch, [lead_id]) == _run(_one_by_one, [lead_id])


def test_the_batch_reads_a_bounded_number_of_statements_whatever_its_size(book):
    from django.db import connection

    def count(ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as queries:
            _run(_batch, ids)
        return len(queries)

    small, large = count(book[:10]), count(book)
    assert len(book) >= 3 * 10
    # A lead that matches no stored account is matched again (a few statements each); the
    # rest is per batch. Far below the ~25 statements per lead of one-by-one routing.
    assert large < small + 3 * (len(book) - 10), (small, large)


def test_an_owner_taken_meanwhile_rolls_the_whole_batch_back(book):
    leads = list(Lead.objects.order_by("pk"))
    unowned = [lead for lead in leads if lead.pk not in _owners()]
    assert unowned
    before = _state(0)
    real_insert = batch_routing.insert_rows

    def someone_claims_first(model, columns, rows, **kwargs):
        # Another transaction's claim lands between the decision and the write: the index refuses ours.
        if rows and model is Ownership:
            target = dict(zip(columns, rows[0], strict=True))
            other = Rep.objects.exclude(pk=target["rep_id"]).first()
            Ownership.objects.create(lead_id=target["lead_id"], rep=other, role="SALES")
        return real_insert(model, columns, rows, **kwargs)

    with (
        mock.patch.object(batch_routing, "insert_rows", side_effect=someone_claims_first),
        pytest.raises(ServiceError) as caught,
        transaction.atomic(),
    ):
        locked = list(Lead.objects.select_for_update().order_by("pk"))
        reroute_leads(leads=locked, actor=ACTOR, now=LATER, exclude={})
    assert caught.value.code == "CONFLICT"
    assert _state(0) == before
    assert Account.objects.exists()
