"""Console audit log: every ownership change, filtered, paged, and downloaded as a safe CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from routing.models import OwnershipChange
from tests.factories import AccountFactory, LeadFactory, ManagerFactory, PartnerFactory, RepFactory

pytestmark = pytest.mark.django_db

AUDIT = "/audit/"
AUDIT_CSV = "/audit/ownership-changes.csv"


@pytest.fixture
def client() -> Client:
    user = User.objects.create_user(username="mia", password="correct horse battery staple")
    ManagerFactory(user=user)
    client = Client()
    client.force_login(user)
    return client


def _html(response: object) -> str:
    return response.content.decode()  # type: ignore[attr-defined]


def _change(at: datetime, **fields: object) -> OwnershipChange:
    fields.setdefault("role", "SALES")
    fields.setdefault("step", "TERRITORY")
    fields.setdefault("reason", "round robin in US")
    fields.setdefault("actor", "routing")
    if "lead" not in fields:
        fields.setdefault("account", AccountFactory())
    return OwnershipChange.objects.create(at=at, **fields)


@pytest.fixture
def book(now: datetime) -> dict[str, object]:
    ada, bo = RepFactory(name="Ada", email="ada@example.com"), RepFactory(name="Bo", email="bo@example.com")
    acme = AccountFactory(name="Acme Corporation")
    globex = AccountFactory(name="Globex")
    lead = LeadFactory(email="jane@prospect.example")
    partner = PartnerFactory(name="Big Channel Ltd")
    changes = {
        "first": _change(now - timedelta(days=10), account=acme, to_rep=ada),
        "moved": _change(
            now - timedelta(days=5),
            account=acme,
            from_rep=ada,
            to_rep=bo,
            step="MANUAL",
            reason="transferred to Bo: Ada went on leave",
            actor="mia@example.com",
        ),
        "to_lead": _change(
            now - timedelta(days=2), lead=lead, to_rep=bo, step="INBOUND_OVERRIDE", reason="asked for Bo"
        ),
        "partner": _change(
            now - timedelta(days=1),
            account=globex,
            role="PARTNER",
            to_partner=partner,
            step="DEAL_REGISTRATION",
            reason="deal registration #7 approved",
            actor="mia@example.com",
        ),
    }
    return {"ada": ada, "bo": bo, "acme": acme, "globex": globex, "lead": lead, "partner": partner, **changes}


def _reasons(response: object) -> list[str]:
    return [change.reason for change in response.context["changes"]]  # type: ignore[attr-defined]


def test_the_urls_of_the_audit_log() -> None:
    assert reverse("console:audit") == AUDIT
    assert reverse("console:audit_csv") == AUDIT_CSV


def test_every_change_is_listed_newest_first_with_record_parties_reason_and_actor(
    client: Client, book: dict[str, object]
) -> None:
    response = client.get(AUDIT)
    html = _html(response)
    assert response.status_code == 200
    assert _reasons(response) == [
        "deal registration #7 approved",
        "asked for Bo",
        "transferred to Bo: Ada went on leave",
        "round robin in US",
    ]
    assert f'href="/accounts/{book["acme"].pk}/">Acme Corporation</a>' in html  # type: ignore[attr-defined]
    assert f'href="/leads/{book["lead"].pk}/">jane@prospect.example</a>' in html  # type: ignore[attr-defined]
    assert "Big Channel Ltd (partner)" in html
    assert "<td>mia@example.com</td>" in html
    assert 'aria-current="page">Audit<' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"rep": "ada"}, ["transferred to Bo: Ada went on leave", "round robin in US"]),  # from or to
        ({"account": "acme"}, ["transferred to Bo: Ada went on leave", "round robin in US"]),
        ({"account": "globex_id"}, ["deal registration #7 approved"]),
        ({"step": "MANUAL"}, ["transferred to Bo: Ada went on leave"]),
        ({"reason": "LEAVE"}, ["transferred to Bo: Ada went on leave"]),
        ({"actor": "mia@"}, ["deal registration #7 approved", "transferred to Bo: Ada went on leave"]),
        ({"rep": "bo", "step": "INBOUND_OVERRIDE"}, ["asked for Bo"]),
    ],
)
def test_the_log_filters_by_rep_account_step_reason_and_actor(
    client: Client, book: dict[str, object], query: dict[str, str], expected: list[str]
) -> None:
    params = dict(query)
    if params.get("rep") in ("ada", "bo"):
        params["rep"] = str(book[params["rep"]].pk)  # type: ignore[attr-defined]
    if params.get("account") == "globex_id":
        params["account"] = str(book["globex"].pk)  # type: ignore[attr-defined]
    assert _reasons(client.get(AUDIT, params)) == expected


def test_the_date_range_is_inclusive_of_both_days(client: Client, book: dict[str, object], now: datetime) -> None:
    day = (now - timedelta(days=5)).date()
    response = client.get(AUDIT, {"from": day.isoformat(), "to": day.isoformat()})
    assert _reasons(response) == ["transferred to Bo: Ada went on leave"]
    since = client.get(AUDIT, {"from": (now - timedelta(days=2)).date().isoformat()})
    assert _reasons(since) == ["deal registration #7 approved", "asked for Bo"]


def test_a_bad_date_is_shown_at_its_field_and_the_other_filters_still_apply(
    client: Client, book: dict[str, object]
) -> None:
    response = client.get(AUDIT, {"from": "yesterday", "step": "MANUAL"})
    html = _html(response)
    assert response.status_code == 200
    assert (
        '<div id="audit-from-error" class="field-error"><p class="error">“yesterday” is not a date; use YYYY-MM-DD.'
        in html
    )
    assert _reasons(response) == ["transferred to Bo: Ada went on leave"]

    backwards = client.get(AUDIT, {"from": "2024-05-02", "to": "2024-05-01"}, HTTP_HX_REQUEST="true")
    html = _html(backwards)
    assert "<html" not in html
    # Out of band: the error lands next to the field, which is outside the swapped results.
    assert '<div id="audit-to-error" class="field-error" hx-swap-oob="true"><p class="error">The end date' in html
    assert 'role="alert">Some filters were not understood' in html


def test_the_log_is_paged_50_at_a_time_keeping_the_filters(client: Client, now: datetime) -> None:
    account = AccountFactory(name="Busy")
    for i in range(55):
        _change(now - timedelta(minutes=i), account=account, reason=f"change {i}")
    first = client.get(AUDIT, {"account": "busy"})
    assert len(_reasons(first)) == 50
    assert 'href="/audit/?account=busy&amp;page=2"' in _html(first)
    second = client.get(AUDIT, {"account": "busy", "page": 2}, HTTP_HX_REQUEST="true")
    assert _html(second).count("<tr>") == 5 + 1  # five rows and the header


def _rows(response: StreamingHttpResponse) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_download_streams_the_filtered_rows(client: Client, book: dict[str, object]) -> None:
    response = client.get(AUDIT_CSV, {"actor": "mia@"})
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="ownership-changes-')
    header, *rows = _rows(response)
    assert header[:3] == ["at", "account_id", "account"]
    assert [(row[2], row[6], row[7], row[8], row[9]) for row in rows] == [
        ("Globex", "", "Big Channel Ltd (partner)", "DEAL_REGISTRATION", "deal registration #7 approved"),
        ("Acme Corporation", "ada@example.com", "bo@example.com", "MANUAL", "transferred to Bo: Ada went on leave"),
    ]
    page = _html(client.get(AUDIT, {"actor": "mia@"}))
    assert 'href="/audit/ownership-changes.csv?actor=mia%40"' in page


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(client: Client, now: datetime) -> None:
    evil = AccountFactory(name='=HYPERLINK("http://x.example","click")')
    _change(now, account=evil, reason="+1 -> @SUM(A1)", actor="-2+3")
    header, row = _rows(client.get(AUDIT_CSV))
    cells = dict(zip(header, row, strict=True))
    assert cells["account"] == '\'=HYPERLINK("http://x.example","click")'
    assert cells["reason"] == "'+1 -> @SUM(A1)"
    assert cells["actor"] == "'-2+3"
    assert cells["account_id"] == str(evil.pk)


def test_a_csv_download_with_a_bad_filter_says_what_is_wrong(client: Client) -> None:
    response = client.get(AUDIT_CSV, {"to": "31/12/2024"})
    assert response.status_code == 400
    assert "to: “31/12/2024” is not a date" in response.content.decode()


@pytest.mark.parametrize("size", [2, 40])
def test_the_audit_log_costs_the_same_queries_whatever_its_length(
    client: Client, now: datetime, size: int, django_assert_num_queries: object
) -> None:
    partner = PartnerFactory()
    for i in range(size):
        rep = RepFactory()
        if i % 2:
            _change(now - timedelta(minutes=i), lead=LeadFactory(), to_rep=rep)
        else:
            _change(now - timedelta(minutes=i), from_rep=rep, to_partner=partner)
    # session, user, rep | count, page (with records and parties) | reps for the filter: 7.
    # (+1: the navigation counts the manager's unread notifications.)
    with django_assert_num_queries(7):  # type: ignore[operator]
        response = client.get(AUDIT)
    assert len(response.context["changes"]) == size


def test_every_filter_has_a_label(client: Client) -> None:
    html = _html(client.get(AUDIT))
    for name in ("rep", "account", "step", "reason", "actor", "from", "to"):
        assert f'<label for="audit-{name}">' in html
