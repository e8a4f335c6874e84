"""The console shell: who may enter, sign in and out, the home counts, htmx from our static files."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from leadowner.tokens import issue_token
from tests.factories import (
    AccountFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerUserFactory,
    RepFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _user(username: str, **extra: object) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, **extra)  # type: ignore[arg-type]


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _console_urls() -> list[str]:
    """Every console screen except the sign-in and sign-out views; a record's screen with the id 1.

    The access rule is checked before anything is read, so the record need not exist.
    """
    resolver = get_resolver()
    urls = []
    for pattern in resolver.url_patterns:
        for inner in getattr(pattern, "url_patterns", []):
            for leaf in getattr(inner, "url_patterns", []):
                if (
                    getattr(inner, "namespace", None) == "console"
                    and isinstance(leaf, URLPattern)
                    and leaf.name not in ("login", "logout")
                ):
                    kwargs = dict.fromkeys(leaf.pattern.converters, 1)
                    urls.append(reverse(f"console:{leaf.name}", kwargs=kwargs or None))
    return sorted(set(urls))


def test_console_screens_are_all_found_by_the_access_checks() -> None:
    urls = _console_urls()
    assert reverse("console:home") in urls
    assert reverse("console:lookup") in urls
    assert reverse("console:account", args=[1]) in urls  # a record's screen, with an id


def test_signing_in_with_a_password_lands_a_manager_on_home() -> None:
    user = _user("mia", first_name="Mia", last_name="Manager")
    ManagerFactory(user=user)
    client = Client()

    response = client.post(reverse("console:login"), {"username": "mia", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("console:home")
    home = client.get(response["Location"])
    assert home.status_code == 200
    assert "Mia Manager" in home.content.decode()


def test_signing_in_with_a_wrong_password_shows_the_form_again_with_an_error() -> None:
    _user("mia")
    response = Client().post(reverse("console:login"), {"username": "mia", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_login_page_labels_its_fields() -> None:
    html = Client().get(reverse("console:login")).content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html


def test_anonymous_visitors_are_sent_to_login_from_every_console_screen() -> None:
    client = Client()
    for url in _console_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("console:login") + "?next="), url


def test_an_anonymous_htmx_request_sends_the_whole_page_to_login() -> None:
    response = Client().get(
        reverse("console:lookup"),
        {"q": "ibm.com"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("console:login") + "?next=/"


@pytest.mark.parametrize("role", ["AE", "SDR", "ACCOUNT_MANAGER", "CUSTOMER_SUCCESS"])
def test_a_rep_session_gets_the_friendly_403_on_every_console_screen(role: str) -> None:
    user = _user("rita")
    RepFactory(user=user, role=role)
    client = _client_for(user)
    for url in _console_urls():
        response = client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "This page is for managers and RevOps" in html
        assert 'action="/logout/"' in html  # they can sign out and in as someone else


def test_a_partner_user_session_gets_403() -> None:
    user = _user("pat")
    PartnerUserFactory(user=user)
    assert _client_for(user).get(reverse("console:home")).status_code == 403


def test_a_signed_in_user_with_no_rep_gets_403() -> None:
    assert _client_for(_user("nobody")).get(reverse("console:home")).status_code == 403


def test_a_departed_manager_gets_403() -> None:
    user = _user("gone")
    ManagerFactory(user=user, status="DEPARTED")
    assert _client_for(user).get(reverse("console:home")).status_code == 403


@pytest.mark.parametrize("who", ["manager", "revops", "superuser"])
def test_managers_revops_and_superusers_see_home(who: str) -> None:
    user = _user(who, is_superuser=(who == "superuser"))
    if who == "manager":
        ManagerFactory(user=user)
    elif who == "revops":
        RepFactory(user=user, role="REVOPS")
    response = _client_for(user).get(reverse("console:home"))
    assert response.status_code == 200
    assert "<h1>Home</h1>" in response.content.decode()


def test_a_rep_bearer_token_is_refused_on_the_console() -> None:
    _token, raw = issue_token(rep=RepFactory())
    response = Client().get(reverse("console:home"), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403


def test_a_partner_bearer_token_is_refused_on_the_console() -> None:
    _token, raw = issue_token(partner_user=PartnerUserFactory())
    response = Client().get(reverse("console:lookup"), {"q": "x"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403


def test_a_bearer_token_never_stands_in_for_the_session_even_a_managers() -> None:
    user = _user("mia")
    manager = ManagerFactory(user=user)
    _token, raw = issue_token(rep=manager)
    assert Client().get(reverse("console:home"), HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403
    # Nor does a session survive a bad token riding along: the token decides.
    client = _client_for(user)
    assert client.get(reverse("console:home"), HTTP_AUTHORIZATION="Bearer lo_junk").status_code == 403
    assert client.get(reverse("console:home")).status_code == 200


def test_home_counts_accounts_leads_unassigned_leads_and_reps(django_assert_num_queries: object) -> None:
    user = _user("mia")
    ManagerFactory(user=user)  # a rep too
    AccountFactory.create_batch(3)
    owned, _unowned_1, _unowned_2 = LeadFactory.create_batch(3)
    OwnershipFactory(account=None, lead=owned, role="SALES")  # +1 rep
    ended = LeadFactory()
    OwnershipFactory(account=None, lead=ended, role="SALES", ended_at=ended.received_at)  # +1 rep; ended: unassigned
    client = _client_for(user)

    # Session, user, rep; the published rule set; one COUNT per figure (two disputes figures in one),
    # whatever the size of the book.
    # (+1: the navigation counts the manager's unread notifications; +1: draft rebalancing plans;
    # over capacity is two grouped reads, loads and capacities.)
    with django_assert_num_queries(15):  # type: ignore[operator]
        response = client.get(reverse("console:home"))

    by_label = {count.label: count.value for count in response.context["counts"]}
    assert by_label == {"Accounts": 3, "Leads": 4, "Unassigned leads": 3, "Reps": 3}


def test_home_links_a_count_only_to_a_screen_that_exists() -> None:
    user = _user("mia")
    ManagerFactory(user=user)
    response = _client_for(user).get(reverse("console:home"))
    for count in response.context["counts"]:
        if count.url is None:
            assert f'<span class="count-label">{count.label}</span></a>' not in response.content.decode()
        else:
            assert f'href="{count.url}"' in response.content.decode()


def test_signing_out_needs_a_post_with_the_csrf_token() -> None:
    user = _user("mia")
    ManagerFactory(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.get(reverse("console:logout")).status_code == 405
    refused = client.post(reverse("console:logout"))
    assert refused.status_code == 403
    assert client.get(reverse("console:home")).status_code == 200  # still signed in

    page = client.get(reverse("console:home")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = client.post(reverse("console:logout"), {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302
    assert response["Location"] == reverse("console:login")
    assert client.get(reverse("console:home")).status_code == 302  # signed out


def test_every_page_sends_the_csrf_token_with_htmx_requests() -> None:
    user = _user("mia")
    ManagerFactory(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    html = client.get(reverse("console:home")).content.decode()
    header = re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", html)
    assert header is not None
    response = client.post(reverse("console:logout"), HTTP_X_CSRFTOKEN=header.group(1))
    assert response.status_code == 302


def test_pages_load_htmx_and_css_from_our_own_static_files() -> None:
    user = _user("mia")
    ManagerFactory(user=user)
    html = _client_for(user).get(reverse("console:home")).content.decode()
    assert '<script src="/static/vendor/htmx.min.js"' in html
    assert 'href="/static/console.css"' in html


def test_templates_load_nothing_from_another_site() -> None:
    templates = Path(settings.BASE_DIR) / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        text = path.read_text()
        for found in re.findall(r"""(?:src|href|action)=["'](?:https?:)?//[^"']+""", text):
            offenders.append(f"{path.relative_to(templates)}: {found}")
    assert offenders == []


def test_the_header_search_looks_up_as_you_type_into_a_live_region() -> None:
    user = _user("mia")
    ManagerFactory(user=user)
    html = _client_for(user).get(reverse("console:home")).content.decode()
    assert 'hx-get="/lookup/"' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html
    assert 'hx-target="#results"' in html
    assert re.search(r'<section id="results"[^>]*aria-live="polite"', html)
    assert '<label for="lookup-q">' in html


def test_htmx_is_served_from_static(live_server: object) -> None:
    url = f"{live_server.url}/static/vendor/htmx.min.js"  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
        assert response.status == 200
    assert body.startswith(b"var htmx=function()")
    assert b'version:"2.' in body
