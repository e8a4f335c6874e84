"""factory-boy factories for every model, shared by all tests."""

from __future__ import annotations

import factory
from django.utils import timezone

from disputes.models import Dispute
from routing.models import (
    Account,
    AccountAlias,
    AccountDomain,
    Activity,
    DealRegistration,
    Lead,
    Opportunity,
    Ownership,
)
from routing.normalize import normalize_company
from territories.models import Partner, PartnerUser, Rep, RuleSet, Territory, TerritoryMember


class RepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rep

    email = factory.Sequence(lambda n: f"rep{n}@example.com")
    name = factory.Sequence(lambda n: f"Rep {n}")
    role = "AE"
    capacity = 100
    status = "ACTIVE"


class ManagerFactory(RepFactory):
    role = "MANAGER"
    email = factory.Sequence(lambda n: f"manager{n}@example.com")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")


class PartnerUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerUser

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"partner{n}@partner.example")
    name = factory.Sequence(lambda n: f"Partner User {n}")


class RuleSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleSet

    version = factory.Sequence(lambda n: n + 1)
    status = "PUBLISHED"
    calendar = "US"
    published_at = factory.LazyFunction(timezone.now)


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory

    rule_set = factory.SubFactory(RuleSetFactory)
    name = factory.Sequence(lambda n: f"Territory {n}")
    distribution = "ROUND_ROBIN"
    criteria = factory.LazyFunction(dict)


class TerritoryMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryMember

    territory = factory.SubFactory(TerritoryFactory)
    rep = factory.SubFactory(RepFactory)
    weight = 1


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Company {n} Inc")
    normalized_name = factory.LazyAttribute(lambda o: normalize_company(o.name))
    country = "US"
    type = "PROSPECT"

    @factory.post_generation
    def domains(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            for i, d in enumerate(extracted):
                AccountDomain.objects.create(account=self, domain=d, position=i)

    @factory.post_generation
    def aliases(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create and extracted:
            for i, a in enumerate(extracted):
                AccountAlias.objects.create(account=self, alias=a, normalized_alias=normalize_company(a), position=i)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"person{n}@lead.example")
    received_at = factory.LazyFunction(timezone.now)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.SubFactory(RepFactory)
    status = "OPEN"
    created_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    rep = factory.SubFactory(RepFactory)
    kind = "CALL"
    occurred_at = factory.LazyFunction(timezone.now)


class OwnershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ownership

    account = factory.SubFactory(AccountFactory)
    role = "SALES"
    rep = factory.SubFactory(RepFactory)
    reason = "NAMED_ACCOUNT"
    since = factory.LazyFunction(timezone.now)


class DealRegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealRegistration

    partner = factory.SubFactory(PartnerFactory)
    account = factory.SubFactory(AccountFactory)
    company = factory.LazyAttribute(lambda o: o.account.name)
    submitted_at = factory.LazyFunction(timezone.now)


class DisputeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispute

    account = factory.SubFactory(AccountFactory)
    claimant = factory.SubFactory(RepFactory)
    reason = "I worked this account first"
    opened_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyFunction(timezone.now)
