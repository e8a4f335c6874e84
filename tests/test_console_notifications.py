"""Console notifications: a manager's own (unread first, mark read), everyone's as a filtered log, the nav count."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from leadowner.models import Notification
from leadowner.notifications import MAX_EMAIL_ATTEMPTS
from tests.factories import (
    AccountFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
)

pytestmark = pytest.mark.django_db

PAGE = "/notifications/"
READ = "/notifications/read/"


@pytest.fixture
def mia(db):
    user = User.objects.create_user(username="mia", password="correct horse battery staple")
    return ManagerFactory(user=user, name="Mia Manager", email="mia@example.com")


@pytest.fixture
def client(mia) -> Client:
    client = Client()
    client.force_login(mia.user)
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _note(at: datetime, *, to=None, partner_user=None, **fields: object) -> Notification:
    fields.setdefault("kind", "REASSIGNMENT")
    fields.setdefault("subject", "A lead for you")
    return Notification.objects.create(
        recipient_rep=to, recipient_partner_user=partner_user, created_at=at, body="Details", **fields
    )


def test_a_managers_own_notifications_come_first_unread_first_and_highlighted(client, mia, now):
    old_unread = _note(now - timedelta(days=3), to=mia, subject="Old but unread")
    _note(now - timedelta(hours=1), to=mia, subject="New and read", read_at=now)
    _note(now, to=RepFactory(), subject="For somebody else")
    response = client.get(PAGE)
    assert response.status_code == 200
    own = [row.notification.subject for row in response.context["own_rows"]]
    assert own == ["Old but unread", "New and read"]
    html = _html(response)
    assert f'<tr class="notification-unread" id="notification-{old_unread.pk}">' in html
    assert html.index("Old but unread") < html.index("New and read")
    # The log below has everyone's, the other rep's included.
    assert [row.notification.subject for row in response.context["log_rows"]] == [
        "For somebody else",
        "New and read",
        "Old but unread",
    ]


def test_marking_one_read_keeps_the_others_unread_and_refreshes_the_nav_count(client, mia, now):
    first, second = _note(now, to=mia, subject="First"), _note(now, to=mia, subject="Second")
    response = client.post(READ, {"notification": str(first.pk)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    html = _html(response)
    # Only the own list comes back, with the nav's count swapped out of band.
    assert "<h1>" not in html
    assert '<span id="nav-unread" class="nav-count" hx-swap-oob="true"> <span aria-hidden="true">1</span>' in html


def test_mark_all_read_marks_only_the_managers_own(client, mia, now):
    mine = [_note(now, to=mia), _note(now, to=mia)]
    theirs = _note(now, to=RepFactory())
    response = client.post(READ, {"all": "1"})
    assert response.status_code == 302
    assert all(Notification.objects.get(pk=n.pk).read_at is not None for n in mine)
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    page = _html(client.get(response.url))
    assert "Marked 2 notifications read." in page
    assert '<span id="nav-unread" class="nav-count" hidden>' in page


def test_a_manager_cannot_mark_someone_elses_notification_read(client, now):
    theirs = _note(now, to=RepFactory())
    response = client.post(READ, {"notification": str(theirs.pk)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f"no notification #{theirs.pk}" in _html(response)
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_the_first_read_time_is_kept(client, mia, now):
    earlier = now - timedelta(days=1)
    note = _note(now, to=mia, read_at=earlier)
    client.post(READ, {"notification": str(note.pk)})
    note.refresh_from_db()
    assert note.read_at == earlier


def test_marking_read_needs_the_csrf_token(mia, now):
    note = _note(now, to=mia)
    client = Client(enforce_csrf_checks=True)
    client.force_login(mia.user)
    assert client.post(READ, {"notification": str(note.pk)}).status_code == 403
    assert Notification.objects.get(pk=note.pk).read_at is None


def test_the_nav_shows_the_managers_unread_count_on_every_console_page(client, mia, now):
    _note(now, to=mia)
    _note(now, to=mia)
    _note(now, to=mia, read_at=now)
    _note(now, to=RepFactory())
    for url in ("/", "/audit/", PAGE):
        html = _html(client.get(url))
        assert '<span id="nav-unread" class="nav-count"> <span aria-hidden="true">2</span>' in html, url
        assert '<span class="visually-hidden">(2 unread)</span>' in html


def test_the_screen_is_for_managers_only(now):
    rep_user = User.objects.create_user(username="rita", password="x")
    RepFactory(user=rep_user)
    client = Client()
    client.force_login(rep_user)
    assert client.get(PAGE).status_code == 403
    assert client.post(READ, {"all": "1"}).status_code == 403
    assert Client().get(PAGE).status_code == 302  # anonymous: to the login page


def test_each_notification_links_to_the_record_it_is_about(client, mia, now):
    account = AccountFactory(name="Acme Corporation")
    lead = LeadFactory(email="jane@prospect.example")
    dispute = DisputeFactory(account=account)
    _note(now, to=mia, kind="ESCALATION", account=account, dispute=dispute)
    _note(now, to=mia, kind="FORFEIT", lead=lead)
    html = _html(client.get(PAGE))
    assert f'<a href="/disputes/{dispute.pk}/">Dispute #{dispute.pk}</a>' in html
    assert f'<a href="/accounts/{account.pk}/">Acme Corporation</a>' in html
    assert f'<a href="/leads/{lead.pk}/">jane@prospect.example</a>' in html


@pytest.fixture
def log(mia, now):
    ada = RepFactory(name="Ada")
    partner_user = PartnerUserFactory(partner=PartnerFactory(name="Big Channel"), name="Pat Partner")
    return {
        "ada_sent": _note(now - timedelta(days=1), to=ada, subject="ada sent", emailed_at=now),
        "ada_failed": _note(
            now - timedelta(days=2), to=ada, subject="ada failed", email_attempts=1, email_error="SMTPError: down"
        ),
        "pat_gave_up": _note(
            now - timedelta(days=3),
            partner_user=partner_user,
            kind="REGISTRATION_DECISION",
            subject="pat gave up",
            email_attempts=MAX_EMAIL_ATTEMPTS,
            email_error="SMTPError: down",
            read_at=now,
        ),
        "mia_pending": _note(now - timedelta(days=10), to=mia, kind="ESCALATION", subject="mia pending"),
        "ada": ada,
        "partner_user": partner_user,
    }


def _log(client: Client, **query: str) -> list[str]:
    response = client.get(PAGE, query)
    assert response.status_code == 200
    assert not response.context["errors"], response.context["errors"]
    return [row.notification.subject for row in response.context["log_rows"]]


def test_the_log_filters_by_recipient_kind_read_email_status_and_dates(client, log, now):
    assert _log(client, recipient=f"rep:{log['ada'].pk}") == ["ada sent", "ada failed"]
    assert _log(client, recipient=f"partner:{log['partner_user'].pk}") == ["pat gave up"]
    assert _log(client, kind="ESCALATION") == ["mia pending"]
    assert _log(client, read="read") == ["pat gave up"]
    assert _log(client, read="unread") == ["ada sent", "ada failed", "mia pending"]
    assert _log(client, email="sent") == ["ada sent"]
    assert _log(client, email="failed") == ["ada failed"]
    assert _log(client, email="gave_up") == ["pat gave up"]
    assert _log(client, email="pending") == ["mia pending"]
    day = (now - timedelta(days=2)).date().isoformat()
    assert _log(client, **{"from": day, "to": day}) == ["ada failed"]


def test_the_log_shows_why_an_email_failed(client, log):
    html = _html(client.get(PAGE, {"email": "failed"}))
    assert "1 try, retrying" in html and "SMTPError: down" in html


def test_a_bad_filter_is_reported_next_to_its_field_and_left_out(client, log):
    response = client.get(PAGE, {"kind": "NOPE", "from": "yesterday", "recipient": "rep:x"})
    assert response.status_code == 200
    assert response.context["errors"] == {
        "kind": "Choose a kind from the list.",
        "from": "“yesterday” is not a date; use YYYY-MM-DD.",
        "recipient": "Choose a recipient from the list.",
    }
    assert len(response.context["log_rows"]) == 4


def test_the_log_filter_answers_htmx_with_the_results_only(client, log):
    html = _html(client.get(PAGE, {"kind": "ESCALATION"}, headers={"HX-Request": "true", "HX-Target": "log-results"}))
    assert "<h1>" not in html and "mia pending" in html and "ada sent" not in html


def test_the_log_is_paged_and_page_links_keep_the_filter(client, mia, now):
    for i in range(55):
        _note(now - timedelta(minutes=i), to=mia, kind="FORFEIT", subject=f"forfeit {i}")
    response = client.get(PAGE, {"kind": "FORFEIT"})
    assert len(response.context["log_rows"]) == 50
    assert 'href="/notifications/?kind=FORFEIT&amp;page=2"' in _html(response)
    assert len(client.get(PAGE, {"kind": "FORFEIT", "page": "2"}).context["log_rows"]) == 5


def test_a_superuser_without_a_rep_sees_the_log_and_no_list_of_their_own(now):
    admin = User.objects.create_superuser(username="root", password="x")
    client = Client()
    client.force_login(admin)
    _note(now, to=RepFactory(), subject="for a rep")
    response = client.get(PAGE)
    assert response.status_code == 200
    assert "nothing is addressed to you" in _html(response)
    assert [row.notification.subject for row in response.context["log_rows"]] == ["for a rep"]


@pytest.mark.parametrize("size", [2, 30])
def test_the_notifications_screen_costs_the_same_queries_whatever_its_length(
    client, mia, now, size, django_assert_num_queries
):
    partner_user = PartnerUserFactory()
    for i in range(size):
        account, lead = AccountFactory(), LeadFactory()
        _note(now - timedelta(minutes=i), to=mia, account=account, dispute=DisputeFactory(account=account))
        _note(now - timedelta(minutes=i), to=RepFactory(), lead=lead)
        _note(now - timedelta(minutes=i), partner_user=partner_user, account=account)
    # session, user, rep | own: count, page | log: count, page | reps, partner users (the filter)
    # | unread count (the nav's, shown in the own list too): 10.
    with django_assert_num_queries(10):
        response = client.get(PAGE)
    assert len(response.context["own_rows"]) == min(size, 20)
