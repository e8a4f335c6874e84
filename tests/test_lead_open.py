"""Owner rows carry their lead's openness, kept by the database (routing 0010's triggers).

A rep's open load is counted from `Ownership.lead_open`; these tests hold it to the lead's
stage on every path that writes an owner row or a stage (the ORM, raw SQL, COPY, a stale
`save()`, `QuerySet.update`), and, on PostgreSQL, against a concurrent stage change.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.db import connection, transaction
from django.db.models import Count

from leadowner.bulk_sql import _COPY_FROM, insert_rows
from routing.distribution import open_loads
from routing.models import OPEN_LEAD_STAGES, Lead, LeadStage, Ownership
from routing.selectors.loads import open_lead_ownerships
from routing.services.bulk_moves import OWNER_COLUMNS, owner_row
from tests.factories import AccountFactory, LeadFactory, OwnershipFactory, RepFactory

pytestmark = pytest.mark.django_db


def _flag(ownership: Ownership) -> bool:
    return Ownership.objects.values_list("lead_open", flat=True).get(pk=ownership.pk)


def _mismatches() -> list[tuple[int, str, bool]]:
    """Owner rows of leads whose flag disagrees with the lead's stage (none, always)."""
    rows = Ownership.objects.filter(lead__isnull=False).values_list("pk", "lead__stage", "lead_open")
    return [(pk, stage, flag) for pk, stage, flag in rows if flag != (stage in OPEN_LEAD_STAGES)]


def _sales(lead: Lead, now: datetime, **kwargs: object) -> Ownership:
    return Ownership.objects.create(lead=lead, role="SALES", rep=RepFactory(), reason="TERRITORY", since=now, **kwargs)


@pytest.mark.parametrize("stage", list(LeadStage))
def test_an_owner_row_takes_the_openness_of_its_leads_stage(stage: LeadStage, now: datetime) -> None:
    ownership = _sales(LeadFactory(stage=stage), now)
    assert _flag(ownership) is (stage in OPEN_LEAD_STAGES)


def test_an_accounts_owner_row_is_never_open(now: datetime) -> None:
    ownership = OwnershipFactory(account=AccountFactory(), since=now, lead_open=True)
    assert _flag(ownership) is False
    Ownership.objects.filter(pk=ownership.pk).update(lead_open=True)
    assert _flag(ownership) is False


def test_a_stage_crossing_between_open_and_closed_sets_every_owner_row_of_the_lead(now: datetime) -> None:
    lead = LeadFactory(stage=LeadStage.NEW)
    ended = _sales(lead, now, ended_at=now)
    current = _sales(lead, now)
    manager = Ownership.objects.create(
        lead=lead, role="ACCOUNT_MANAGER", rep=RepFactory(), reason="TERRITORY", since=now
    )
    other = _sales(LeadFactory(stage=LeadStage.NEW), now)
    rows = (ended, current, manager)
    assert all(_flag(o) for o in rows)

    lead.stage = LeadStage.LOST  # Model.save
    lead.save()
    assert not any(_flag(o) for o in rows)
    assert _flag(other) is True

    Lead.objects.filter(pk=lead.pk).update(stage=LeadStage.QUALIFIED)  # QuerySet.update
    assert all(_flag(o) for o in rows)
    Lead.objects.filter(pk=lead.pk).update(stage=LeadStage.PROPOSAL)  # open to open: unchanged
    assert all(_flag(o) for o in rows)
    with connection.cursor() as cursor:  # raw SQL
        cursor.execute("UPDATE routing_lead SET stage = %s WHERE id = %s", ["WON", lead.pk])
    assert not any(_flag(o) for o in rows)
    assert _mismatches() == []


def test_a_stale_save_of_an_owner_row_keeps_the_flag_true_to_the_lead(now: datetime) -> None:
    lead = LeadFactory(stage=LeadStage.NEW)
    ownership = _sales(lead, now)
    assert _flag(ownership) is True
    ownership.lead_open = False  # an instance that does not know (or was told otherwise)
    ownership.reason = "MANUAL"
    ownership.save()  # writes every column, lead_open among them
    assert _flag(ownership) is True
    Lead.objects.filter(pk=lead.pk).update(stage=LeadStage.PAUSED)
    ownership.lead_open = True
    ownership.save()
    assert _flag(ownership) is False


def test_moving_an_owner_row_to_another_lead_takes_that_leads_openness(now: datetime) -> None:
    ownership = _sales(LeadFactory(stage=LeadStage.NEW), now)
    Ownership.objects.filter(pk=ownership.pk).update(lead=LeadFactory(stage=LeadStage.LOST))
    assert _flag(ownership) is False


@pytest.mark.parametrize("count", [3, _COPY_FROM + 5], ids=["insert", "copy"])
def test_rows_written_in_bulk_take_their_leads_openness(count: int, now: datetime) -> None:
    stages = [OPEN_LEAD_STAGES[i % 2] if i % 3 else LeadStage.WON for i in range(count)]
    leads = [LeadFactory(stage=stage) for stage in stages]
    rep = RepFactory()
    rows = [
        owner_row(account_id=None, lead_id=lead.pk, role="SALES", rep_id=rep.pk, partner_id=None, step="TERRITORY",
                  since=now, rule_set_version=None)
        for lead in leads
    ]  # fmt: skip
    insert_rows(Ownership, OWNER_COLUMNS, rows)
    assert _mismatches() == []
    assert open_loads([rep.pk]) == {rep.pk: sum(stage in OPEN_LEAD_STAGES for stage in stages)}


def test_open_loads_agree_with_the_leads_stages_through_a_series_of_changes(now: datetime) -> None:
    reps = [RepFactory() for _ in range(3)]
    leads = []
    for i in range(12):
        lead = LeadFactory(stage=list(LeadStage)[i % len(LeadStage)])
        Ownership.objects.create(lead=lead, role="SALES", rep=reps[i % 3], reason="TERRITORY", since=now)
        leads.append(lead)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[:4]]).update(stage=LeadStage.LOST)
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[4:8]]).update(stage=LeadStage.CONTACTED)
    Ownership.objects.filter(lead=leads[9]).update(ended_at=now)

    by_join = dict(
        Ownership.objects.filter(ended_at__isnull=True, role="SALES", lead__stage__in=OPEN_LEAD_STAGES)
        .values("rep_id")
        .annotate(n=Count("pk"))
        .values_list("rep_id", "n")
    )
    assert open_loads([r.pk for r in reps]) == {r.pk: by_join.get(r.pk, 0) for r in reps}
    assert open_lead_ownerships().count() == sum(by_join.values())
    assert _mismatches() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["owner row", "stage change"])
def test_a_stage_change_racing_a_new_owner_row_is_never_missed(first: str, now: datetime) -> None:
    """Whichever of the two transactions runs first, the other waits for it, and the flag
    ends true to the stage. Without the trigger's lock on the lead, the owner row written while
    the stage change was in flight kept 'open' for a lost lead."""
    lead = LeadFactory(stage=LeadStage.NEW)
    rep = RepFactory()
    started, go_on = threading.Event(), threading.Event()

    def write_owner() -> None:
        try:
            with transaction.atomic():
                if first == "stage change":
                    started.wait(10)
                Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=now)
                if first == "owner row":
                    started.set()
                    go_on.wait(1)  # the stage change is now waiting for this commit
        finally:
            connection.close()

    def change_stage() -> None:
        try:
            with transaction.atomic():
                if first == "owner row":
                    started.wait(10)
                Lead.objects.filter(pk=lead.pk).update(stage=LeadStage.LOST)
                if first == "stage change":
                    started.set()
                    go_on.wait(1)  # the owner row is now waiting for this commit
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(write_owner), pool.submit(change_stage)]
        for future in done:
            future.result(timeout=30)
    assert Ownership.objects.get(lead=lead).lead_open is False
    assert open_loads([rep.pk]) == {rep.pk: 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_claims_and_a_stage_change_of_one_lead_neither_deadlock_nor_miss(now: datetime) -> None:
    """Six claims of one unowned lead and its close at once: they queue on the lead (its
    lock, taken before any owner row), one claim wins, the others hear ALREADY_OWNED,
    nobody deadlocks, and the flag ends true to the stage. (With FOR SHARE in the trigger,
    two claimants both held the lead, and the winner's UPDATE of it then waited on the
    loser, who waited on the winner's entry in the unique index.)"""
    from leadowner.errors import ServiceError
    from routing.services.ownership import Record, claim_unowned

    lead = LeadFactory(stage=LeadStage.NEW)
    reps = [RepFactory() for _ in range(6)]
    barrier = threading.Barrier(len(reps) + 1)

    def claim(rep: object) -> str:
        try:
            barrier.wait(10)
            claim_unowned(Record(lead=Lead.objects.get(pk=lead.pk)), role="SALES", rep=rep, step="TERRITORY",
                          why="claimed", actor="test", now=now)  # fmt: skip
            return "won"
        except ServiceError as exc:
            return exc.code.value
        finally:
            connection.close()

    def close() -> str:
        try:
            barrier.wait(10)
            Lead.objects.filter(pk=lead.pk).update(stage=LeadStage.LOST)
            return "closed"
        finally:
            connection.close()

    with ThreadPoolExecutor(len(reps) + 1) as pool:
        futures = [pool.submit(claim, rep) for rep in reps] + [pool.submit(close)]
        outcomes = sorted(f.result(timeout=30) for f in futures)
    assert outcomes.count("won") == 1 and outcomes.count("ALREADY_OWNED") == 5 and "closed" in outcomes
    assert Ownership.objects.get(lead=lead).lead_open is False
    assert _mismatches() == []


def _holds_the_lead_then_ends_its_owner(lead: Lead, ownership: Ownership, held: threading.Event, now: datetime) -> None:
    """route_lead's order: the lead's row lock, then its owner row."""
    try:
        with transaction.atomic():
            Lead.objects.select_for_update().get(pk=lead.pk)
            held.set()
            time.sleep(0.5)  # the other writer reaches its locks meanwhile
            Ownership.objects.filter(pk=ownership.pk, ended_at__isnull=True).update(ended_at=now)
    finally:
        connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ["move_owners", "set_owner"])
def test_a_writer_of_a_leads_owner_waits_for_the_lead_instead_of_deadlocking(writer: str, now: datetime) -> None:
    """A bulk move (a departure's closed leads, rebalancing) or a transfer of a lead's owner
    while route_lead holds the lead and is about to end that owner. Writing an owner row
    locks the lead (the trigger), so a writer that locked the owner row first would wait
    for the lead while route_lead waits for the owner row: PostgreSQL would break the
    cycle by failing one of them. Both lock the lead first, so the writer waits, then
    finds the owner already ended (move_owners moves nothing; set_owner takes the lead)."""
    from routing.services.bulk_moves import Move, move_owners
    from routing.services.ownership import Record, set_owner

    lead = LeadFactory(stage=LeadStage.NEW)
    ownership = _sales(lead, now)
    successor = RepFactory()
    held = threading.Event()

    def write() -> object:
        try:
            held.wait(10)
            if writer == "move_owners":
                moves = [Move(ownership_id=ownership.pk, to_rep_id=successor.pk, step="TERRITORY", why="moved")]
                return len(move_owners(moves, actor="test", now=now, rule_set_version=None))
            record = Record(lead=Lead.objects.get(pk=lead.pk))
            return set_owner(record, role="SALES", rep=successor, step="MANUAL", why="t", actor="test", now=now).pk
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_holds_the_lead_then_ends_its_owner, lead, ownership, held, now)
        second = pool.submit(write)
        first.result(timeout=30)
        outcome = second.result(timeout=30)
    current = Ownership.objects.filter(lead=lead, ended_at__isnull=True)
    if writer == "move_owners":
        assert outcome == 0 and not current.exists()
    else:
        assert [o.rep_id for o in current] == [successor.pk] and _flag(current.get()) is True
