"""Who owns this account: corporate families, roll-up of owners, and the owner lookup."""

from __future__ import annotations

import pytest

from leadowner.errors import ErrorCode, ServiceError
from routing.models import Account, Ownership
from routing.selectors.accounts import ancestors, current_owners, effective_owner, ultimate_parent
from routing.selectors.lookup import lookup_owner
from tests.factories import AccountFactory, OwnershipFactory, PartnerFactory, RepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def darden():
    return AccountFactory(name="Darden Restaurants, Inc.", domains=["darden.com"])


@pytest.fixture
def olive_garden(darden):
    return AccountFactory(name="Olive Garden", domains=["olivegarden.com"], parent=darden)


def _own(account, role="SALES", **kwargs):
    return OwnershipFactory(account=account, role=role, **kwargs)


# ---------------------------------------------------------------------------- families


def test_ultimate_parent_walks_several_levels(darden):
    casual = AccountFactory(name="Darden Casual Dining", parent=darden)
    olive_garden = AccountFactory(name="Olive Garden", parent=casual)
    store = AccountFactory(name="Olive Garden Times Square", parent=olive_garden)
    assert ultimate_parent(store) == darden
    assert ancestors(store) == [olive_garden, casual, darden]


def test_a_top_level_account_is_its_own_ultimate_parent(darden):
    assert ultimate_parent(darden) == darden
    assert ancestors(darden) == []


def test_a_cycle_in_parents_ends_the_walk_instead_of_looping():
    first = AccountFactory(name="Loop A")
    second = AccountFactory(name="Loop B", parent=first)
    Account.objects.filter(pk=first.pk).update(parent=second)  # bad data, straight to the table
    first.refresh_from_db()
    assert ancestors(first) == [second]
    assert ultimate_parent(first) == second


# ---------------------------------------------------------------------------- owners and roll-up


def test_olive_garden_without_an_owner_rolls_up_to_darden(darden, olive_garden):
    darden_owner = _own(darden)
    ownership, source = effective_owner(olive_garden, "SALES")
    assert ownership == darden_owner
    assert source == darden


def test_a_subsidiary_with_its_own_owner_keeps_it(darden, olive_garden):
    _own(darden)
    own = _own(olive_garden)
    ownership, source = effective_owner(olive_garden, "SALES")
    assert (ownership, source) == (own, olive_garden)


def test_roll_up_takes_the_nearest_ancestor_with_an_owner(darden):
    casual = AccountFactory(name="Darden Casual Dining", parent=darden)
    olive_garden = AccountFactory(name="Olive Garden", parent=casual)
    _own(darden)
    casual_owner = _own(casual)
    ownership, source = effective_owner(olive_garden, "SALES")
    assert (ownership, source) == (casual_owner, casual)


def test_roll_up_is_per_role(darden, olive_garden):
    own_sales = _own(olive_garden, "SALES")
    parent_csm = _own(darden, "CUSTOMER_SUCCESS")
    assert effective_owner(olive_garden, "SALES") == (own_sales, olive_garden)
    assert effective_owner(olive_garden, "CUSTOMER_SUCCESS") == (parent_csm, darden)
    assert effective_owner(olive_garden, "ACCOUNT_MANAGER") == (None, None)


def test_an_ended_ownership_is_not_an_owner(darden, olive_garden, now):
    _own(olive_garden, ended_at=now)
    parent = _own(darden)
    assert effective_owner(olive_garden, "SALES") == (parent, darden)
    assert current_owners(olive_garden) == []


def test_current_owners_are_the_accounts_own_one_per_role(darden, olive_garden):
    partner = PartnerFactory()
    sales = _own(olive_garden, "SALES")
    by_partner = _own(olive_garden, "PARTNER", rep=None, partner=partner, reason="DEAL_REGISTRATION")
    _own(darden, "ACCOUNT_MANAGER")
    owners = current_owners(olive_garden)
    assert owners == [by_partner, sales]  # by role
    assert owners[0].partner == partner


def test_roll_up_reads_two_queries_whatever_the_depth(darden, django_assert_num_queries):
    account = darden
    for level in range(6):
        account = AccountFactory(name=f"Level {level}", parent=account)
    _own(darden)
    with django_assert_num_queries(2):
        ownership, source = effective_owner(account, "SALES")
        assert ownership is not None
        assert ownership.rep.name  # loaded with the ownership, no extra query
        assert source.name == darden.name


# ---------------------------------------------------------------------------- lookup_owner


def test_lookup_by_email_finds_the_account_and_its_owners(darden):
    owner = _own(darden)
    found = lookup_owner(domain="ceo@darden.com")
    assert found.account == darden
    assert found.match.method == "DOMAIN"
    assert found.owners == [owner]
    assert found.rolled_up_from is None


@pytest.mark.parametrize("domain", ["mail.darden.com", "https://www.darden.com/about", "bob@eu.mail.darden.com"])
def test_lookup_by_host_or_url_finds_the_account(darden, domain):
    assert lookup_owner(domain=domain).account == darden


def test_lookup_by_company_name_goes_through_matching(darden):
    found = lookup_owner(company="Darden Restaurants")
    assert found.account == darden
    assert found.match.method == "NAME"


def test_lookup_of_olive_garden_shows_dardens_owner_rolled_up(darden, olive_garden):
    owner = _own(darden)
    found = lookup_owner(domain="manager@olivegarden.com")
    assert found.account == olive_garden
    assert found.owners == [owner]
    assert found.owners[0].account == darden
    assert found.rolled_up_from == darden


def test_lookup_rolls_up_only_the_roles_the_account_lacks(darden, olive_garden):
    own_sales = _own(olive_garden, "SALES")
    parent_am = _own(darden, "ACCOUNT_MANAGER")
    _own(darden, "SALES")  # hidden by the subsidiary's own SALES owner
    found = lookup_owner(company="Olive Garden")
    assert found.owners == [parent_am, own_sales]
    assert found.rolled_up_from == darden


def test_lookup_by_account_id(olive_garden):
    owner = _own(olive_garden, rep=RepFactory(name="Ada"))
    found = lookup_owner(account_id=olive_garden.pk)
    assert found.account == olive_garden
    assert (found.match.method, found.match.score) == ("ID", 1.0)
    assert found.owners == [owner]


def test_lookup_of_an_unknown_account_id_finds_nothing():
    found = lookup_owner(account_id=987654)
    assert found.account is None
    assert found.owners == []
    assert found.match.method == "NONE"
    assert "987654" in found.match.explanation


def test_an_ambiguous_lookup_has_no_account_and_no_owners():
    first = AccountFactory(name="Summit Partners LLC")
    second = AccountFactory(name="Summit Partners Ltd")
    _own(first)
    found = lookup_owner(company="Summit Partners")
    assert found.account is None
    assert found.owners == []
    assert set(found.match.ambiguous_ids) == {first.pk, second.pk}


def test_a_free_mail_lookup_without_a_company_finds_nothing(darden):
    found = lookup_owner(domain="someone@gmail.com")
    assert found.account is None
    assert "free-mail" in found.match.explanation


def test_a_lookup_with_nothing_to_look_up_is_invalid():
    with pytest.raises(ServiceError) as caught:
        lookup_owner(domain="  ", company=None)
    assert caught.value.code == ErrorCode.INVALID


def test_a_lookup_reads_a_handful_of_queries(darden, olive_garden, django_assert_num_queries):
    _own(darden)
    with django_assert_num_queries(3):  # the domain with its account, the family chain, the owners
        found = lookup_owner(domain="x@olivegarden.com")
        assert [o.rep.email for o in found.owners]
    assert Ownership.objects.count() == 1
