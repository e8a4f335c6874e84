"""API tokens: issued once, stored hashed, refused when revoked, expired or held by a departed rep."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory

from leadowner.auth import actor_from_request, authenticate_request
from leadowner.errors import ErrorCode, ServiceError
from leadowner.models import ApiToken
from leadowner.tokens import LAST_USED_RESOLUTION, authenticate_token, digest, issue_token, revoke_token
from tests.factories import ManagerFactory, PartnerUserFactory, RepFactory

pytestmark = pytest.mark.django_db


def test_token_is_stored_as_a_digest_and_the_raw_token_nowhere(now):
    token, raw = issue_token(rep=RepFactory(), now=now)
    token.refresh_from_db()
    assert raw.startswith(f"lo_{token.prefix}_")
    assert token.digest == digest(raw)
    assert token.digest != raw
    secret = raw.rsplit("_", 1)[-1]
    with connection.cursor() as cur:
        cur.execute("SELECT prefix, digest, name, scope FROM leadowner_apitoken")
        stored = " ".join(str(v) for row in cur.fetchall() for v in row)
    assert raw not in stored
    assert secret[:20] not in stored


def test_each_token_is_different(now):
    rep = RepFactory()
    raws = {issue_token(rep=rep, now=now)[1] for _ in range(5)}
    assert len(raws) == 5


def test_scope_defaults_from_the_holder(now):
    assert issue_token(rep=RepFactory(role="AE"), now=now)[0].scope == "REP"
    assert issue_token(rep=ManagerFactory(), now=now)[0].scope == "MANAGER"
    assert issue_token(rep=RepFactory(role="REVOPS"), now=now)[0].scope == "MANAGER"
    assert issue_token(partner_user=PartnerUserFactory(), now=now)[0].scope == "PARTNER"


def test_scope_may_narrow_to_read_only_but_never_widen(now):
    assert issue_token(rep=ManagerFactory(), scope="READ_ONLY", now=now)[0].scope == "READ_ONLY"
    with pytest.raises(ServiceError) as rep_as_manager:
        issue_token(rep=RepFactory(role="AE"), scope="MANAGER", now=now)
    assert rep_as_manager.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as partner_as_rep:
        issue_token(partner_user=PartnerUserFactory(), scope="REP", now=now)
    assert partner_as_rep.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(ServiceError) as unknown:
        issue_token(rep=RepFactory(), scope="ROOT", now=now)
    assert unknown.value.code == ErrorCode.INVALID


def test_a_token_belongs_to_exactly_one_holder(now):
    with pytest.raises(ServiceError):
        issue_token(now=now)
    with pytest.raises(ServiceError):
        issue_token(rep=RepFactory(), partner_user=PartnerUserFactory(), now=now)


def test_departed_rep_cannot_be_issued_a_token(now):
    with pytest.raises(ServiceError) as error:
        issue_token(rep=RepFactory(status="DEPARTED"), now=now)
    assert error.value.code == ErrorCode.FORBIDDEN


def test_valid_token_authenticates_its_holder(now):
    rep = RepFactory()
    _, raw = issue_token(rep=rep, now=now)
    token = authenticate_token(raw, now=now)
    assert token is not None and token.rep == rep


def test_wrong_secret_with_a_real_prefix_is_refused(now):
    token, raw = issue_token(rep=RepFactory(), now=now)
    forged = f"lo_{token.prefix}_{'A' * 43}"
    assert forged != raw
    assert authenticate_token(forged, now=now) is None


@pytest.mark.parametrize("junk", ["", "lo_", "lo_abc", "bearer", "lo_zzzzzzzzzzzz_secret", "x" * 500])
def test_malformed_tokens_are_refused(now, junk):
    assert authenticate_token(junk, now=now) is None


def test_revoked_token_is_refused(now):
    token, raw = issue_token(rep=RepFactory(), now=now)
    revoked = revoke_token(prefix=token.prefix, now=now)
    assert revoked.revoked_at == now
    assert authenticate_token(raw, now=now + timedelta(seconds=1)) is None


def test_revoking_twice_keeps_the_first_time(now):
    token, _ = issue_token(rep=RepFactory(), now=now)
    revoke_token(prefix=token.prefix, now=now)
    again = revoke_token(prefix=token.prefix, now=now + timedelta(hours=1))
    assert again.revoked_at == now


def test_revoking_an_unknown_prefix_is_not_found(now):
    with pytest.raises(ServiceError) as error:
        revoke_token(prefix="000000000000", now=now)
    assert error.value.code == ErrorCode.NOT_FOUND


def test_expired_token_is_refused(now):
    _, raw = issue_token(rep=RepFactory(), expires_at=now + timedelta(days=1), now=now)
    assert authenticate_token(raw, now=now + timedelta(hours=23)) is not None
    assert authenticate_token(raw, now=now + timedelta(days=1)) is None


def test_expiry_in_the_past_is_invalid(now):
    with pytest.raises(ServiceError) as error:
        issue_token(rep=RepFactory(), expires_at=now - timedelta(seconds=1), now=now)
    assert error.value.code == ErrorCode.INVALID


def test_token_of_a_rep_who_departed_is_refused(now):
    rep = RepFactory()
    _, raw = issue_token(rep=rep, now=now)
    rep.status = "DEPARTED"
    rep.save()
    assert authenticate_token(raw, now=now) is None


def test_last_used_is_written_at_most_once_a_minute(now, django_assert_num_queries):
    token, raw = issue_token(rep=RepFactory(), now=now)
    assert authenticate_token(raw, now=now) is not None  # first use: read + write
    token.refresh_from_db()
    assert token.last_used_at == now
    with django_assert_num_queries(1):  # within the minute: the read only
        authenticate_token(raw, now=now + timedelta(seconds=30))
    token.refresh_from_db()
    assert token.last_used_at == now
    later = now + LAST_USED_RESOLUTION
    authenticate_token(raw, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_bearer_header_gives_the_token_holder_as_actor(now):
    partner_user = PartnerUserFactory()
    _, raw = issue_token(partner_user=partner_user, now=now)
    request = RequestFactory().get("/graphql", headers={"Authorization": f"Bearer {raw}"})
    actor = actor_from_request(request)
    assert actor.partner_user == partner_user
    assert actor.scope == "PARTNER"
    assert actor.partner_id == partner_user.partner_id


def test_bad_bearer_token_is_anonymous_even_with_a_session_user(now):
    rep = RepFactory(user=get_user_model().objects.create_user("ada", password="pw-123456789"))
    request = RequestFactory().get("/graphql", headers={"Authorization": "Bearer lo_000000000000_nope"})
    request.user = rep.user
    authentication = authenticate_request(request)
    assert authentication.method == "token"
    assert not authentication.actor.is_authenticated


def test_session_user_linked_to_a_rep_is_that_rep():
    rep = RepFactory(user=get_user_model().objects.create_user("bo", password="pw-123456789"))
    request = RequestFactory().get("/")
    request.user = rep.user
    authentication = authenticate_request(request)
    assert authentication.method == "session"
    assert authentication.actor.rep == rep
    assert authentication.actor.scope is None


def test_session_user_linked_to_a_partner_user_is_that_partner_user():
    partner_user = PartnerUserFactory(user=get_user_model().objects.create_user("pat", password="pw-123456789"))
    request = RequestFactory().get("/")
    request.user = partner_user.user
    actor = actor_from_request(request)
    assert actor.partner_user == partner_user and actor.is_partner


def test_session_of_a_departed_rep_is_anonymous():
    rep = RepFactory(status="DEPARTED", user=get_user_model().objects.create_user("dee", password="pw-123456789"))
    request = RequestFactory().get("/")
    request.user = rep.user
    assert not actor_from_request(request).is_authenticated


def test_session_user_without_a_rep_is_anonymous():
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.create_user("cy", password="pw-123456789")
    assert not actor_from_request(request).is_authenticated


def test_issue_token_command_prints_the_raw_token_once(now):
    rep = RepFactory(email="ada@example.com")
    out = StringIO()
    call_command("issue_token", "--rep", "ada@example.com", "--name", "ci", "--expires-days", "7", stdout=out)
    raw = next(line for line in out.getvalue().splitlines() if line.startswith("lo_"))
    token = authenticate_token(raw, now=now)
    assert token is not None and token.rep == rep and token.name == "ci"
    assert token.expires_at is not None and token.expires_at > now + timedelta(days=6)


def test_issue_token_command_for_a_partner_user(now):
    partner_user = PartnerUserFactory(email="pat@partner.example")
    out = StringIO()
    call_command("issue_token", "--partner-user", "pat@partner.example", stdout=out)
    raw = next(line for line in out.getvalue().splitlines() if line.startswith("lo_"))
    token = authenticate_token(raw, now=now)
    assert token is not None and token.partner_user == partner_user and token.scope == "PARTNER"


def test_issue_token_command_refuses_an_unknown_email():
    with pytest.raises(CommandError, match="no rep"):
        call_command("issue_token", "--rep", "nobody@example.com", stdout=StringIO())


def test_revoke_and_list_token_commands(now):
    token, raw = issue_token(rep=RepFactory(email="cy@example.com"), name="laptop", now=now)
    listing = StringIO()
    call_command("list_tokens", stdout=listing)
    assert token.prefix in listing.getvalue() and "cy@example.com" in listing.getvalue()
    assert raw not in listing.getvalue()
    call_command("revoke_token", token.prefix, stdout=StringIO())
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert authenticate_token(raw, now=now + timedelta(minutes=1)) is None
