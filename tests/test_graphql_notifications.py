"""GraphQL notifications: each viewer reads and marks read only their own, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.models import Notification
from routing.models import Ownership
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
)
from tests.graphql_support import assert_no_errors, error_codes, gql, payload_of, token_for, user_error_codes

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

MINE = """query ($unread: Boolean, $first: Int, $after: String) {
  notifications(unreadOnly: $unread, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind subject body read readAt emailStatus createdAt
      account { name } lead { email } dispute { id reason } } }
  }
}"""
MARK = """mutation ($ids: [ID!]) {
  markNotificationsRead(ids: $ids) { notifications { subject readAt } unreadCount errors { field code message } }
}"""


def _note(subject: str, *, at: datetime = NOW, to: Any = None, partner_user: Any = None, **fields: Any) -> Notification:
    fields.setdefault("kind", "REASSIGNMENT")
    return Notification.objects.create(
        recipient_rep=to, recipient_partner_user=partner_user, created_at=at, subject=subject, **fields
    )


def _subjects(body: dict[str, Any]) -> list[str]:
    connection_ = assert_no_errors(body)["notifications"]
    return [edge["node"]["subject"] for edge in connection_["edges"]]


def test_a_rep_reads_their_own_notifications_newest_first_and_no_one_elses():
    rita, oscar = RepFactory(), RepFactory()
    _note("older", to=rita, at=NOW - timedelta(hours=2))
    _note("newer", to=rita)
    _note("oscar's", to=oscar)
    _note("a partner's", partner_user=PartnerUserFactory())
    assert _subjects(gql(MINE, token=token_for(rep=rita))) == ["newer", "older"]
    assert _subjects(gql(MINE, token=token_for(rep=oscar))) == ["oscar's"]


def test_a_partner_never_sees_another_partners_or_a_reps_notification():
    alpha = PartnerUserFactory(partner=PartnerFactory(name="Alpha"))
    alpha_colleague = PartnerUserFactory(partner=alpha.partner)
    beta = PartnerUserFactory(partner=PartnerFactory(name="Beta"))
    _note("alpha's", partner_user=alpha, kind="REGISTRATION_DECISION")
    _note("alpha's colleague's", partner_user=alpha_colleague)
    _note("beta's", partner_user=beta)
    _note("a rep's", to=RepFactory())
    # Not silently empty: each gets exactly their own row.
    assert _subjects(gql(MINE, token=token_for(partner_user=alpha))) == ["alpha's"]
    assert _subjects(gql(MINE, token=token_for(partner_user=beta))) == ["beta's"]


def test_a_manager_and_revops_read_only_their_own_too():
    revops = RepFactory(role="REVOPS")
    mia = ManagerFactory(manager=revops)
    rita = RepFactory(manager=mia)
    _note("rita's", to=rita)
    _note("mia's", to=mia)
    assert _subjects(gql(MINE, token=token_for(rep=mia))) == ["mia's"]
    assert _subjects(gql(MINE, token=token_for(rep=revops))) == []


def test_anonymous_callers_are_refused_notifications():
    _note("someone's", to=RepFactory())
    assert error_codes(gql(MINE)) == ["UNAUTHENTICATED"]
    assert error_codes(gql(MARK, {"ids": None})) == ["UNAUTHENTICATED"]


def test_unread_only_leaves_out_those_read_and_the_count_counts_them():
    rita = RepFactory()
    _note("read", to=rita, read_at=NOW)
    _note("unread", to=rita)
    token = token_for(rep=rita)
    assert _subjects(gql(MINE, {"unread": True}, token=token)) == ["unread"]
    assert _subjects(gql(MINE, {"unread": False}, token=token)) == ["unread", "read"]
    assert assert_no_errors(gql("{ unreadNotificationCount }", token=token)) == {"unreadNotificationCount": 1}


def test_notifications_are_paged_with_cursors():
    rita = RepFactory()
    for i in range(5):
        _note(f"n{i}", to=rita, at=NOW - timedelta(minutes=i))
    token = token_for(rep=rita)
    first = assert_no_errors(gql(MINE, {"first": 2}, token=token))["notifications"]
    assert [e["node"]["subject"] for e in first["edges"]] == ["n0", "n1"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (5, True)
    after = first["pageInfo"]["endCursor"]
    assert _subjects(gql(MINE, {"first": 2, "after": after}, token=token)) == ["n2", "n3"]
    assert error_codes(gql(MINE, {"after": "junk"}, token=token)) == ["BAD_USER_INPUT"]


def test_a_notification_shows_its_fields_and_email_status():
    rita = RepFactory()
    _note("sent", to=rita, body="All the details", emailed_at=NOW, at=NOW)
    _note("failing", to=rita, email_error="SMTPError", email_attempts=1, at=NOW - timedelta(minutes=1))
    _note("gave up", to=rita, email_error="SMTPError", email_attempts=3, at=NOW - timedelta(minutes=2))
    _note("pending", to=rita, at=NOW - timedelta(minutes=3))
    nodes = [e["node"] for e in assert_no_errors(gql(MINE, token=token_for(rep=rita)))["notifications"]["edges"]]
    assert [(n["subject"], n["emailStatus"]) for n in nodes] == [
        ("sent", "SENT"),
        ("failing", "FAILED"),
        ("gave up", "GAVE_UP"),
        ("pending", "PENDING"),
    ]
    assert (nodes[0]["kind"], nodes[0]["body"], nodes[0]["read"], nodes[0]["readAt"]) == (
        "REASSIGNMENT",
        "All the details",
        False,
        None,
    )


def test_the_records_a_notification_is_about_are_shown_only_when_the_viewer_may_read_them():
    rita, oscar = RepFactory(), RepFactory()
    account = AccountFactory(name="Acme")
    kept = LeadFactory(email="kept@prospect.example")
    Ownership.objects.create(lead=kept, role="SALES", rep=rita, reason="TERRITORY", since=NOW)
    # Forfeited away from Rita: the notification says so, but the lead is Oscar's to read now.
    lost = LeadFactory(email="lost@prospect.example")
    Ownership.objects.create(lead=lost, role="SALES", rep=oscar, reason="TERRITORY", since=NOW)
    dispute = DisputeFactory(account=account, claimant=rita, current_owner=oscar)
    other_dispute = DisputeFactory(claimant=oscar, current_owner=RepFactory())
    _note("kept", to=rita, lead=kept, at=NOW)
    _note("lost", to=rita, lead=lost, kind="FORFEIT", at=NOW - timedelta(minutes=1))
    _note("escalated", to=rita, account=account, dispute=dispute, at=NOW - timedelta(minutes=2))
    _note("not hers", to=rita, dispute=other_dispute, at=NOW - timedelta(minutes=3))
    nodes = [e["node"] for e in assert_no_errors(gql(MINE, token=token_for(rep=rita)))["notifications"]["edges"]]
    about = {n["subject"]: (n["account"], n["lead"], n["dispute"] and n["dispute"]["id"]) for n in nodes}
    assert about == {
        "kept": (None, {"email": "kept@prospect.example"}, None),
        "lost": (None, None, None),
        "escalated": ({"name": "Acme"}, None, str(dispute.pk)),
        "not hers": (None, None, None),
    }


def test_a_partner_reads_the_account_of_their_registration_decision():
    alpha = PartnerUserFactory()
    account = AccountFactory(name="Alpha Deal")
    DealRegistrationFactory(partner=alpha.partner, account=account, status="APPROVED")
    other = AccountFactory(name="Not Alpha's")
    _note("approved", partner_user=alpha, kind="REGISTRATION_DECISION", account=account)
    _note("odd", partner_user=alpha, account=other, at=NOW - timedelta(minutes=1))
    nodes = [
        e["node"] for e in assert_no_errors(gql(MINE, token=token_for(partner_user=alpha)))["notifications"]["edges"]
    ]
    assert [(n["subject"], n["account"]) for n in nodes] == [("approved", {"name": "Alpha Deal"}), ("odd", None)]


def test_mark_notifications_read_marks_the_given_ones_of_ones_own():
    rita = RepFactory()
    first, second, _third = _note("first", to=rita), _note("second", to=rita), _note("third", to=rita)
    payload = payload_of(
        gql(MARK, {"ids": [str(first.pk), str(second.pk)]}, token=token_for(rep=rita)), "markNotificationsRead"
    )
    assert payload["errors"] == []
    assert sorted(n["subject"] for n in payload["notifications"]) == ["first", "second"]
    assert payload["unreadCount"] == 1
    assert set(Notification.objects.filter(read_at__isnull=True).values_list("subject", flat=True)) == {"third"}


def test_mark_notifications_read_without_ids_marks_all_of_ones_own_and_no_one_elses():
    rita, oscar = RepFactory(), RepFactory()
    _note("rita 1", to=rita)
    _note("rita 2", to=rita)
    theirs = _note("oscar's", to=oscar)
    payload = payload_of(gql(MARK, {"ids": None}, token=token_for(rep=rita)), "markNotificationsRead")
    assert (payload["errors"], payload["unreadCount"]) == ([], 0)
    assert len(payload["notifications"]) == 2
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_someone_elses_notification_is_not_found_and_marks_nothing():
    rita, oscar = RepFactory(), RepFactory()
    mine, theirs = _note("mine", to=rita), _note("oscar's", to=oscar)
    body = gql(MARK, {"ids": [str(mine.pk), str(theirs.pk), "junk"]}, token=token_for(rep=rita))
    payload = payload_of(body, "markNotificationsRead")
    assert user_error_codes(payload) == [("NOT_FOUND", "ids.1"), ("NOT_FOUND", "ids.2")]
    assert payload["notifications"] is None
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_a_denied_notification_and_a_missing_one_read_alike():
    rita = RepFactory()
    theirs = _note("oscar's", to=RepFactory())
    token = token_for(rep=rita)
    answers = []
    for pk in (str(theirs.pk), "987654"):
        [error] = payload_of(gql(MARK, {"ids": [pk]}, token=token), "markNotificationsRead")["errors"]
        answers.append({**error, "message": error["message"].replace(pk, "<id>")})
    assert answers[0] == answers[1] == {"field": "ids.0", "code": "NOT_FOUND", "message": "no notification #<id>"}


def test_marking_read_keeps_the_first_read_time():
    rita = RepFactory()
    earlier = NOW - timedelta(days=1)
    note = _note("read before", to=rita, read_at=earlier)
    payload = payload_of(gql(MARK, {"ids": [str(note.pk)]}, token=token_for(rep=rita)), "markNotificationsRead")
    assert (payload["errors"], payload["notifications"]) == ([], [])
    note.refresh_from_db()
    assert note.read_at == earlier


def test_a_read_only_token_may_not_mark_notifications_read():
    rita = RepFactory()
    note = _note("mine", to=rita)
    body = gql(MARK, {"ids": [str(note.pk)]}, token=token_for(rep=rita, scope="READ_ONLY"))
    assert error_codes(body) == ["FORBIDDEN"]
    note.refresh_from_db()
    assert note.read_at is None


def test_too_many_ids_at_once_is_invalid():
    rita = RepFactory()
    body = gql(MARK, {"ids": [str(i) for i in range(1, 502)]}, token=token_for(rep=rita))
    assert user_error_codes(payload_of(body, "markNotificationsRead")) == [("INVALID", "ids")]


def _count(token: str) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        body = gql(MINE, {"first": 100}, token=token)
    return len(captured.captured_queries), assert_no_errors(body)


@pytest.mark.parametrize("size", [10, 100])
def test_the_notifications_list_costs_the_same_for_10_and_100_notifications(size):
    rita = RepFactory()
    for i in range(size):
        lead = LeadFactory()
        Ownership.objects.create(lead=lead, role="SALES", rep=rita, reason="TERRITORY", since=NOW)
        account = AccountFactory()
        dispute = DisputeFactory(account=account, claimant=rita)
        _note(f"n{i}", to=rita, lead=lead, account=account, dispute=dispute, at=NOW - timedelta(minutes=i))
    queries, data = _count(token_for(rep=rita))
    edges = data["notifications"]["edges"]
    assert len(edges) == size and all(e["node"]["lead"] and e["node"]["dispute"] for e in edges)
    # token read, its last use | page, count | accounts, leads, disputes (prefetched) |
    # which of the page's leads and disputes the viewer may read: 9, whatever the number of rows.
    assert queries == 9
