"""The permission matrix: every Query field and every Mutation of the contract, for every kind of caller.

One world, one table. Each cell is what the caller gets back, written out in full: the
rows of a list (so a leak of someone else's row fails, and so does a list that is
silently empty), the object or null, a payload's UserError code, or a GraphQL error
code. A refused mutation must also leave every table as it was; an allowed one must do
what it says. The read and write rules live in leadowner.permissions (the services ask
it for the writes); this table is where they are read together.

Callers: anonymous; Rita (a rep in Mia's team); Oscar (a rep in Olga's team); Mia (a
manager); Olga (another manager); Rex (RevOps); a user of partner Alpha; a user of
partner Beta; and Mia's READ_ONLY token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from graphql import build_schema

from disputes.models import Dispute
from leadowner.models import Notification
from leadowner.schema import schema
from routing.models import Activity, DealRegistration, Lead, Ownership, OwnershipChange, RebalancePlan
from territories.models import Rep
from tests.factories import (
    AccountFactory,
    DealRegistrationFactory,
    DisputeFactory,
    LeadFactory,
    ManagerFactory,
    OwnershipFactory,
    PartnerFactory,
    PartnerUserFactory,
    RepFactory,
    RuleSetFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
)
from tests.graphql_support import gql, token_for

pytestmark = pytest.mark.django_db

ACTORS = (
    "anonymous",
    "rep",
    "other_rep",
    "manager",
    "other_manager",
    "revops",
    "partner_a",
    "partner_b",
    "read_only",
)
STAFF = ("rep", "other_rep", "manager", "other_manager", "revops", "read_only")
MANAGERS = ("manager", "other_manager", "revops", "read_only")  # read_only is Mia's token: her reads
PARTNER_MISS = (None, "NONE", "no account of your partner matches")


# The world ----------------------------------------------------------------------------------------------


class World:
    def __init__(self) -> None:
        now = timezone.now()
        self.revops = RepFactory(name="Rex RevOps", role="REVOPS")
        self.manager = ManagerFactory(name="Mia Manager", manager=self.revops)
        self.rep = RepFactory(name="Rita Rep", manager=self.manager)
        self.teammate = RepFactory(name="Tom Teammate", manager=self.manager)
        self.other_manager = ManagerFactory(name="Olga Other", manager=self.revops)
        self.other_rep = RepFactory(name="Oscar Other", manager=self.other_manager)
        self.alpha = PartnerFactory(name="Alpha Partners")
        self.beta = PartnerFactory(name="Beta Partners")
        self.alpha_user = PartnerUserFactory(partner=self.alpha)
        self.beta_user = PartnerUserFactory(partner=self.beta)

        published = RuleSetFactory(version=1, status="PUBLISHED")
        us = TerritoryFactory(rule_set=published, name="US", criteria={"countries": ["US"]})
        for i, member in enumerate((self.rep, self.teammate)):
            TerritoryMemberFactory(territory=us, rep=member, position=i)
        # A rebalancing plan for the published rule set, not yet applied: for managers and RevOps only.
        self.plan = RebalancePlan.objects.create(
            rule_set=published, trigger="ON_DEMAND", created_at=now, created_by="Mia Manager", summary={"moves": 0}
        )
        draft = RuleSetFactory(version=2, status="DRAFT", published_at=None)
        TerritoryMemberFactory(
            territory=TerritoryFactory(rule_set=draft, name="US draft", criteria={"countries": ["US"]}),
            rep=self.other_rep,
        )

        self.rep_co = AccountFactory(name="Rep Co", domains=["rep-co.com"])
        OwnershipFactory(account=self.rep_co, rep=self.rep)
        self.other_co = AccountFactory(name="Other Co", domains=["other-co.com"])
        OwnershipFactory(account=self.other_co, rep=self.other_rep)
        self.free_co = AccountFactory(name="Free Co", domains=["free-co.com"])

        # Alpha's approved registration on an account Rita owns, where Beta's once expired.
        self.alpha_co = AccountFactory(name="Alpha Deal Co", domains=["alpha-deal.com"])
        OwnershipFactory(account=self.alpha_co, rep=self.rep)
        self.reg_alpha = DealRegistrationFactory(
            partner=self.alpha, account=self.alpha_co, status="APPROVED", expires_at=now + timedelta(days=60)
        )
        self.reg_beta_old = DealRegistrationFactory(partner=self.beta, account=self.alpha_co, status="EXPIRED")
        Ownership.objects.create(
            account=self.alpha_co, role="PARTNER", partner=self.alpha, reason="DEAL_REGISTRATION", since=now
        )
        for days, row in (
            (4, {"role": "SALES", "to_rep": self.rep, "reason": "rita by territory"}),
            (3, {"role": "PARTNER", "to_partner": self.beta, "reason": "beta approved"}),
            (2, {"role": "PARTNER", "from_partner": self.beta, "reason": "beta expired"}),
            (1, {"role": "PARTNER", "to_partner": self.alpha, "reason": "alpha approved"}),
        ):
            OwnershipChange.objects.create(at=now - timedelta(days=days), account=self.alpha_co, actor="x", **row)

        # Alpha's pending registration on an unowned account: what a manager reviews.
        self.alpha_pending_co = AccountFactory(name="Alpha Pending Co", domains=["alpha-pending.com"])
        self.reg_alpha_pending = DealRegistrationFactory(
            partner=self.alpha, account=self.alpha_pending_co, status="PENDING", expires_at=now + timedelta(days=60)
        )

        # Beta's approved registration and ownership.
        self.beta_co = AccountFactory(name="Beta Deal Co", domains=["beta-deal.com"])
        self.reg_beta = DealRegistrationFactory(
            partner=self.beta, account=self.beta_co, status="APPROVED", expires_at=now + timedelta(days=60)
        )
        Ownership.objects.create(
            account=self.beta_co, role="PARTNER", partner=self.beta, reason="DEAL_REGISTRATION", since=now
        )
        OwnershipChange.objects.create(
            at=now, account=self.beta_co, role="PARTNER", to_partner=self.beta, reason="beta won", actor="x"
        )

        self.rita_lead = self._lead("rita.lead@prospect.com", self.rep)
        self.oscar_lead = self._lead("oscar.lead@prospect.com", self.other_rep)
        self.queue_lead = LeadFactory(email="queue.lead@prospect.com")

        # Tom contests Rita's account: both in Mia's team.
        self.dispute = DisputeFactory(
            account=self.rep_co, claimant=self.teammate, current_owner=self.rep, status="OPEN", due_at=now
        )

        # Everyone was told something: each reads and marks only their own.
        self.notifications = {
            who: Notification.objects.create(
                created_at=now, kind="REASSIGNMENT", subject=f"{who} told", **{field: getattr(self, who)}
            )
            for who, field in (
                ("rep", "recipient_rep"),
                ("other_rep", "recipient_rep"),
                ("manager", "recipient_rep"),
                ("other_manager", "recipient_rep"),
                ("revops", "recipient_rep"),
                ("alpha_user", "recipient_partner_user"),
                ("beta_user", "recipient_partner_user"),
            )
        }

    @staticmethod
    def _lead(email: str, rep: Rep) -> Lead:
        lead = LeadFactory(email=email)
        Ownership.objects.create(lead=lead, role="SALES", rep=rep, reason="TERRITORY", since=lead.received_at)
        return lead

    def token(self, actor: str) -> str | None:
        if actor == "anonymous":
            return None
        if actor == "partner_a":
            return token_for(partner_user=self.alpha_user)
        if actor == "partner_b":
            return token_for(partner_user=self.beta_user)
        if actor == "read_only":
            return token_for(rep=self.manager, scope="READ_ONLY")
        return token_for(rep=self.rep_of(actor))

    def rep_of(self, actor: str) -> Rep:
        rep: Rep = getattr(self, actor)
        return rep

    def fingerprint(self) -> dict[str, list[tuple[Any, ...]]]:
        """Everything a mutation of this table could change."""
        return {
            "owners": sorted(
                Ownership.objects.filter(ended_at__isnull=True).values_list(
                    "account_id", "lead_id", "role", "rep_id", "partner_id", "expires_at"
                ),
                key=repr,
            ),
            "history": list(OwnershipChange.objects.order_by("pk").values_list("pk")),
            "leads": list(Lead.objects.order_by("pk").values_list("pk", "stage", "first_touch_at")),
            "activity": list(Activity.objects.order_by("pk").values_list("pk")),
            "registrations": list(DealRegistration.objects.order_by("pk").values_list("pk", "status", "expires_at")),
            "disputes": list(Dispute.objects.order_by("pk").values_list("pk", "status")),
            "reps": list(Rep.objects.order_by("pk").values_list("pk", "status", "departed_at")),
            "notifications": list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
            "plans": list(RebalancePlan.objects.order_by("pk").values_list("pk", "status")),
        }


@pytest.fixture
def world() -> World:
    return World()


# Outcomes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphQLError:
    """A top-level GraphQL error with this extensions.code (and no data for the field)."""

    code: str


@dataclass(frozen=True)
class Refused:
    """A mutation payload with exactly one UserError of this code."""

    code: str


OK = "ok"  # a mutation did what it says (its `done` check) with no UserError
UNAUTHENTICATED = GraphQLError("UNAUTHENTICATED")
READ_ONLY = GraphQLError("FORBIDDEN")


@dataclass(frozen=True)
class Op:
    root: str  # the contract's root field
    kind: str  # "query" or "mutation"
    document: str
    variables: Callable[[World], dict[str, Any]]
    read: Callable[[Any], Any] = lambda value: value  # the root field's value, made comparable
    done: Callable[[World, str], None] | None = None  # a mutation's effect for this caller, checked when OK


def _names(connection: dict[str, Any], *path: str) -> list[Any]:
    assert connection["totalCount"] == len(connection["edges"])
    values = []
    for edge in connection["edges"]:
        value = edge["node"]
        for key in path:
            value = value[key]
        values.append(value)
    return sorted(values)


def _owners(owners: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(o["role"], (o["rep"] or {}).get("name"), (o["partner"] or {}).get("name")) for o in owners]


def _lookup(value: dict[str, Any]) -> tuple[Any, ...]:
    if value["account"] is None:
        assert value["owners"] == [] and value["match"]["account"] is None
        return (None, value["match"]["method"], value["match"]["explanation"])
    assert value["match"]["account"] == value["account"]
    return (value["account"]["name"], value["match"]["method"], _owners(value["owners"]))


def _history_names(connection: dict[str, Any]) -> list[str]:
    names: set[str] = set()
    for edge in connection["edges"]:
        for account in edge["node"]["history"]["edges"]:
            node = account["node"]
            for key in ("fromRep", "toRep", "fromPartner", "toPartner"):
                if node[key] is not None:
                    names.add(node[key]["name"])
    return sorted(names)


OWNER_OF = """query($domain: String, $id: ID) { ownerOf(domain: $domain, accountId: $id) {
    account { name } match { method explanation account { name } } owners { role rep { name } partner { name } } } }"""
OWNERS = "owners { role rep { name } partner { name } }"
HISTORY_NODE = "node { reason fromRep { name } toRep { name } fromPartner { name } toPartner { name } }"
SIMULATE = """query($version: Int) { simulateRouting(leads: [{email: "new@newprospect.com", country: "US"}],
    ruleSetVersion: $version) { step ruleSetVersion territory { name } } }"""


def _simulated(decisions: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(d["step"], d["territory"]["name"], d["ruleSetVersion"]) for d in decisions]


def _id(obj: Any) -> str:
    return str(obj.pk)


def _claimed_by(account_attr: str) -> Callable[[World, str], None]:
    def done(w: World, actor: str) -> None:
        owner = Ownership.objects.get(account=getattr(w, account_attr), role="SALES", ended_at__isnull=True)
        assert (owner.rep, owner.reason) == (w.rep_of(actor), "ACCOUNT_CLAIM")

    return done


OPS: dict[str, Op] = {
    # Queries ---------------------------------------------------------------------------------------
    "health": Op("health", "query", "{ health }", lambda w: {}),
    "me": Op("me", "query", "{ me { name } }", lambda w: {}, lambda v: v and v["name"]),
    "ownerOf(Rita's account)": Op("ownerOf", "query", OWNER_OF, lambda w: {"domain": "rep-co.com"}, _lookup),
    "ownerOf(Alpha's account, Rita owns it too)": Op(
        "ownerOf", "query", OWNER_OF, lambda w: {"domain": "mail.alpha-deal.com"}, _lookup
    ),
    "ownerOf(Beta's account by domain)": Op(
        "ownerOf", "query", OWNER_OF, lambda w: {"domain": "beta-deal.com"}, _lookup
    ),
    "ownerOf(Beta's account by id)": Op("ownerOf", "query", OWNER_OF, lambda w: {"id": _id(w.beta_co)}, _lookup),
    "ownerOf(no such account)": Op("ownerOf", "query", OWNER_OF, lambda w: {"domain": "nobody-at-all.com"}, _lookup),
    "account(Rita's account)": Op(
        "account",
        "query",
        "query($id: ID!) { account(id: $id) { name } }",
        lambda w: {"id": _id(w.rep_co)},
        lambda v: v and v["name"],
    ),
    "account(Beta's account)": Op(
        "account",
        "query",
        "query($id: ID!) { account(id: $id) { name } }",
        lambda w: {"id": _id(w.beta_co)},
        lambda v: v and v["name"],
    ),
    "account(Alpha's account) { owners history }": Op(
        "account",
        "query",
        f"""query($id: ID!) {{ account(id: $id) {{
            name {OWNERS} history {{ totalCount edges {{ {HISTORY_NODE} }} }} }} }}""",
        lambda w: {"id": _id(w.alpha_co)},
        lambda v: (
            v
            and (
                _owners(v["owners"]),
                [e["node"]["reason"] for e in v["history"]["edges"]],
                v["history"]["totalCount"],
            )
        ),
    ),
    "accounts": Op(
        "accounts",
        "query",
        "{ accounts { totalCount edges { node { name } } } }",
        lambda w: {},
        lambda v: _names(v, "name"),
    ),
    "accounts { history: who it names }": Op(
        "accounts",
        "query",
        f"{{ accounts {{ totalCount edges {{ node {{ history {{ edges {{ {HISTORY_NODE} }} }} }} }} }} }}",
        lambda w: {},
        _history_names,
    ),
    "lead(Rita's lead)": Op(
        "lead",
        "query",
        "query($id: ID!) { lead(id: $id) { email } }",
        lambda w: {"id": _id(w.rita_lead)},
        lambda v: v and v["email"],
    ),
    "leads": Op(
        "leads",
        "query",
        "{ leads { totalCount edges { node { email } } } }",
        lambda w: {},
        lambda v: _names(v, "email"),
    ),
    "territories": Op(
        "territories", "query", "{ territories { name } }", lambda w: {}, lambda v: [t["name"] for t in v]
    ),
    "reps": Op("reps", "query", "{ reps { name } }", lambda w: {}, lambda v: sorted(r["name"] for r in v)),
    "dealRegistrations": Op(
        "dealRegistrations",
        "query",
        "{ dealRegistrations { totalCount edges { node { status partner { name } account { name } } } } }",
        lambda w: {},
        lambda v: sorted(
            (e["node"]["partner"]["name"], e["node"]["account"]["name"], e["node"]["status"]) for e in v["edges"]
        ),
    ),
    "dealRegistrations { account { owners } }": Op(
        "dealRegistrations",
        "query",
        f"{{ dealRegistrations {{ edges {{ node {{ account {{ name {OWNERS} }} }} }} }} }}",
        lambda w: {},
        lambda v: sorted((e["node"]["account"]["name"], _owners(e["node"]["account"]["owners"])) for e in v["edges"]),
    ),
    "disputes": Op(
        "disputes",
        "query",
        "{ disputes { totalCount edges { node { status account { name } claimant { name } } } } }",
        lambda w: {},
        lambda v: [
            (e["node"]["account"]["name"], e["node"]["claimant"]["name"], e["node"]["status"]) for e in v["edges"]
        ],
    ),
    "simulateRouting(published)": Op("simulateRouting", "query", SIMULATE, lambda w: {}, _simulated),
    "simulateRouting(draft v2)": Op("simulateRouting", "query", SIMULATE, lambda w: {"version": 2}, _simulated),
    "notifications": Op(
        "notifications",
        "query",
        "{ notifications { totalCount edges { node { subject read } } } }",
        lambda w: {},
        lambda v: _names(v, "subject"),
    ),
    "unreadNotificationCount": Op("unreadNotificationCount", "query", "{ unreadNotificationCount }", lambda w: {}),
    "rebalancePlans": Op(
        "rebalancePlans",
        "query",
        "{ rebalancePlans { totalCount edges { node { status ruleSetVersion } } } }",
        lambda w: {},
        lambda v: [(e["node"]["status"], e["node"]["ruleSetVersion"]) for e in v["edges"]],
    ),
    "rebalancePlan": Op(
        "rebalancePlan",
        "query",
        "query($id: ID!) { rebalancePlan(id: $id) { status createdBy } }",
        lambda w: {"id": _id(w.plan)},
        lambda v: v and (v["status"], v["createdBy"]),
    ),
    # Mutations ---------------------------------------------------------------------------------------
    "submitLead": Op(
        "submitLead",
        "mutation",
        """mutation { submitLead(input: {email: "brand.new@newprospect.com", country: "US"}) {
            decision { step } errors { code } } }""",
        lambda w: {},
        done=lambda w, actor: _assert(Lead.objects.filter(email="brand.new@newprospect.com").count() == 1),
    ),
    "submitLeads": Op(
        "submitLeads",
        "mutation",
        """mutation { submitLeads(leads: [{email: "batch.one@newprospect.com", country: "US"},
            {email: "batch.two@newprospect.com", country: "US"}]) { results { attached } errors { code } } }""",
        lambda w: {},
        done=lambda w, actor: _assert(Lead.objects.filter(email__startswith="batch.").count() == 2),
    ),
    "claimAccount(an unowned account)": Op(
        "claimAccount",
        "mutation",
        "mutation($id: ID!) { claimAccount(accountId: $id) { owner { role } errors { code } } }",
        lambda w: {"id": _id(w.free_co)},
        done=_claimed_by("free_co"),
    ),
    "claimAccount(Alpha's pending account)": Op(
        "claimAccount",
        "mutation",
        "mutation($id: ID!) { claimAccount(accountId: $id) { owner { role } errors { code } } }",
        lambda w: {"id": _id(w.alpha_pending_co)},
        done=_claimed_by("alpha_pending_co"),
    ),
    "registerDeal": Op(
        "registerDeal",
        "mutation",
        """mutation { registerDeal(input: {company: "Gamma Co", domain: "gamma-co.com"}) {
            registration { status } errors { code } } }""",
        lambda w: {},
        done=lambda w, actor: _assert(
            DealRegistration.objects.filter(
                account__name="Gamma Co", partner=w.alpha if actor == "partner_a" else w.beta, status="PENDING"
            ).exists()
        ),
    ),
    "reviewDealRegistration(Alpha's pending one)": Op(
        "reviewDealRegistration",
        "mutation",
        """mutation($id: ID!) { reviewDealRegistration(id: $id, approve: true) {
            registration { status } errors { code } } }""",
        lambda w: {"id": _id(w.reg_alpha_pending)},
        done=lambda w, actor: _assert(DealRegistration.objects.get(pk=w.reg_alpha_pending.pk).status == "APPROVED"),
    ),
    "reviewDealRegistration(Alpha's approved one on Rita's account)": Op(
        "reviewDealRegistration",
        "mutation",
        """mutation($id: ID!) { reviewDealRegistration(id: $id, approve: false, reason: "no") {
            registration { status } errors { code } } }""",
        lambda w: {"id": _id(w.reg_alpha)},
    ),
    "logActivity(Rita's lead)": Op(
        "logActivity",
        "mutation",
        """mutation($id: ID!) { logActivity(input: {leadId: $id, kind: CALL}) { ok errors { code } } }""",
        lambda w: {"id": _id(w.rita_lead)},
        done=lambda w, actor: _assert(Activity.objects.filter(lead=w.rita_lead, rep=w.rep_of(actor)).exists()),
    ),
    "updateLeadStage(Rita's lead)": Op(
        "updateLeadStage",
        "mutation",
        """mutation($id: ID!) { updateLeadStage(leadId: $id, stage: CONTACTED) { lead { stage } errors { code } } }""",
        lambda w: {"id": _id(w.rita_lead)},
        done=lambda w, actor: _assert(Lead.objects.get(pk=w.rita_lead.pk).stage == "CONTACTED"),
    ),
    "openDispute(Oscar's account)": Op(
        "openDispute",
        "mutation",
        """mutation($id: ID!) { openDispute(input: {accountId: $id, reason: "mine"}) {
            dispute { status } errors { code } } }""",
        lambda w: {"id": _id(w.other_co)},
        done=lambda w, actor: _assert(
            Dispute.objects.filter(account=w.other_co, claimant=w.rep_of(actor), status="OPEN").exists()
        ),
    ),
    "resolveDispute(Tom v Rita)": Op(
        "resolveDispute",
        "mutation",
        """mutation($id: ID!, $winner: ID!) {
            resolveDispute(id: $id, winnerRepId: $winner, resolution: "Rita keeps it") {
            dispute { status } errors { code } } }""",
        lambda w: {"id": _id(w.dispute), "winner": _id(w.rep)},
        done=lambda w, actor: _assert(Dispute.objects.get(pk=w.dispute.pk).status == "RESOLVED"),
    ),
    "transferOwnership(Rita's account to Tom)": Op(
        "transferOwnership",
        "mutation",
        """mutation($id: ID!, $to: ID!) { transferOwnership(accountId: $id, toRepId: $to, reason: "cover") {
            account { name } errors { code } } }""",
        lambda w: {"id": _id(w.rep_co), "to": _id(w.teammate)},
        done=lambda w, actor: _assert(
            Ownership.objects.get(account=w.rep_co, role="SALES", ended_at__isnull=True).rep_id == w.teammate.pk
        ),
    ),
    "markNotificationsRead(all of one's own)": Op(
        "markNotificationsRead",
        "mutation",
        "mutation { markNotificationsRead { notifications { subject } unreadCount errors { code } } }",
        lambda w: {},
        done=lambda w, actor: _assert(
            sorted(Notification.objects.filter(read_at__isnull=False).values_list("subject", flat=True))
            == [f"{NOTIFIED[actor]} told"]
        ),
    ),
    "markNotificationsRead(Rita's)": Op(
        "markNotificationsRead",
        "mutation",
        "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) { unreadCount errors { code } } }",
        lambda w: {"ids": [_id(w.notifications["rep"])]},
        done=lambda w, actor: _assert(
            list(Notification.objects.filter(read_at__isnull=False).values_list("subject", flat=True)) == ["rep told"]
        ),
    ),
    "buildRebalancePlan": Op(
        "buildRebalancePlan",
        "mutation",
        "mutation { buildRebalancePlan { plan { status } errors { code } } }",
        lambda w: {},
        done=lambda w, actor: _assert(RebalancePlan.objects.filter(status="DRAFT").count() == 2),
    ),
    "applyRebalancePlan": Op(
        "applyRebalancePlan",
        "mutation",
        "mutation($id: ID!) { applyRebalancePlan(planId: $id) { plan { status } errors { code } } }",
        lambda w: {"id": _id(w.plan)},
        done=lambda w, actor: _assert(RebalancePlan.objects.get(pk=w.plan.pk).status == "APPLYING"),
    ),
    "discardRebalancePlan": Op(
        "discardRebalancePlan",
        "mutation",
        "mutation($id: ID!) { discardRebalancePlan(planId: $id) { plan { status } errors { code } } }",
        lambda w: {"id": _id(w.plan)},
        done=lambda w, actor: _assert(RebalancePlan.objects.get(pk=w.plan.pk).status == "DISCARDED"),
    ),
    "markRepDeparted(Tom)": Op(
        "markRepDeparted",
        "mutation",
        "mutation($id: ID!) { markRepDeparted(repId: $id) { rep { status } reassignmentDueAt errors { code } } }",
        lambda w: {"id": _id(w.teammate)},
        done=lambda w, actor: _assert(Rep.objects.get(pk=w.teammate.pk).status == "DEPARTED"),
    ),
}


def _assert(condition: bool) -> None:
    assert condition


def _all(value: Any, *, anonymous: Any = UNAUTHENTICATED, **cells: Any) -> dict[str, Any]:
    """A row where every caller gets `value` unless named; anonymous gets UNAUTHENTICATED."""
    row = {actor: value for actor in ACTORS}
    row["anonymous"] = anonymous
    row.update(cells)
    return row


def _staff(value: Any, *, partners: Any, **cells: Any) -> dict[str, Any]:
    """Staff get `value`, both partners `partners`, unless named."""
    return _all(value, **{"partner_a": partners, "partner_b": partners, **cells})


def _mutation(**cells: Any) -> dict[str, Any]:
    """A mutation row: anonymous UNAUTHENTICATED, the READ_ONLY token FORBIDDEN, the rest as named."""
    row = {"anonymous": UNAUTHENTICATED, "read_only": READ_ONLY, **cells}
    assert set(row) == set(ACTORS), set(ACTORS) ^ set(row)
    return row


ALL_ACCOUNTS = sorted(["Rep Co", "Other Co", "Free Co", "Alpha Deal Co", "Alpha Pending Co", "Beta Deal Co"])
ALL_REPS = sorted(["Rex RevOps", "Mia Manager", "Rita Rep", "Tom Teammate", "Olga Other", "Oscar Other"])
ALL_LEADS = sorted(["rita.lead@prospect.com", "oscar.lead@prospect.com", "queue.lead@prospect.com"])
ALL_REGISTRATIONS = sorted(
    [
        ("Alpha Partners", "Alpha Deal Co", "APPROVED"),
        ("Beta Partners", "Alpha Deal Co", "EXPIRED"),
        ("Alpha Partners", "Alpha Pending Co", "PENDING"),
        ("Beta Partners", "Beta Deal Co", "APPROVED"),
    ]
)
ALPHA_OWNERS_FOR_STAFF = [("SALES", "Rita Rep", None), ("PARTNER", None, "Alpha Partners")]
ALPHA_HISTORY = ["alpha approved", "beta expired", "beta approved", "rita by territory"]
DISPUTE = [("Rep Co", "Tom Teammate", "OPEN")]
NOT_FOUND = Refused("NOT_FOUND")
FORBIDDEN = Refused("FORBIDDEN")
# Whose notifications each caller reads: their own (the READ_ONLY token is Mia's).
NOTIFIED = {
    "rep": "rep",
    "other_rep": "other_rep",
    "manager": "manager",
    "other_manager": "other_manager",
    "revops": "revops",
    "read_only": "manager",
    "partner_a": "alpha_user",
    "partner_b": "beta_user",
}

MATRIX: dict[str, dict[str, Any]] = {
    "health": _all("ok", anonymous="ok"),
    "me": _staff(
        None,
        partners=None,
        rep="Rita Rep",
        other_rep="Oscar Other",
        manager="Mia Manager",
        other_manager="Olga Other",
        revops="Rex RevOps",
        read_only="Mia Manager",
    ),
    # Transparency: anyone on staff sees who owns an account; partners see nothing of the direct pipeline.
    "ownerOf(Rita's account)": _staff(("Rep Co", "DOMAIN", [("SALES", "Rita Rep", None)]), partners=PARTNER_MISS),
    "ownerOf(Alpha's account, Rita owns it too)": _staff(
        ("Alpha Deal Co", "DOMAIN", ALPHA_OWNERS_FOR_STAFF),
        partners=None,
        partner_a=("Alpha Deal Co", "DOMAIN", [("PARTNER", None, "Alpha Partners")]),
        partner_b=("Alpha Deal Co", "DOMAIN", []),  # Beta registered it once: the account, no owner of Alpha's
    ),
    "ownerOf(Beta's account by domain)": _staff(
        ("Beta Deal Co", "DOMAIN", [("PARTNER", None, "Beta Partners")]),
        partners=None,
        partner_a=PARTNER_MISS,
        partner_b=("Beta Deal Co", "DOMAIN", [("PARTNER", None, "Beta Partners")]),
    ),
    "ownerOf(Beta's account by id)": _staff(
        ("Beta Deal Co", "ID", [("PARTNER", None, "Beta Partners")]),
        partners=None,
        partner_a=PARTNER_MISS,
        partner_b=("Beta Deal Co", "ID", [("PARTNER", None, "Beta Partners")]),
    ),
    # ... and a partner's miss on an account that exists reads exactly like one that does not.
    "ownerOf(no such account)": _staff(
        (None, "NONE", "no account has the domain nobody-at-all.com or a domain it belongs to"), partners=PARTNER_MISS
    ),
    "account(Rita's account)": _staff("Rep Co", partners=None),
    "account(Beta's account)": _staff("Beta Deal Co", partners=None, partner_b="Beta Deal Co"),
    "account(Alpha's account) { owners history }": _staff(
        (ALPHA_OWNERS_FOR_STAFF, ALPHA_HISTORY, 4),
        partners=None,
        partner_a=([("PARTNER", None, "Alpha Partners")], ["alpha approved"], 1),
        partner_b=([], ["beta expired", "beta approved"], 2),
    ),
    "accounts": _staff(
        ALL_ACCOUNTS,
        partners=None,
        partner_a=["Alpha Deal Co", "Alpha Pending Co"],
        partner_b=["Alpha Deal Co", "Beta Deal Co"],
    ),
    "accounts { history: who it names }": _staff(
        ["Alpha Partners", "Beta Partners", "Rita Rep"],
        partners=None,
        partner_a=["Alpha Partners"],
        partner_b=["Beta Partners"],
    ),
    # Reps read the leads they own, the unowned queue, and leads on their accounts; managers the same for
    # their team (Olga's is Oscar: not Rita's lead); RevOps every lead.
    "lead(Rita's lead)": _staff("rita.lead@prospect.com", partners=None, other_rep=None, other_manager=None),
    "leads": _staff(
        ["queue.lead@prospect.com", "rita.lead@prospect.com"],
        partners=[],
        other_rep=["oscar.lead@prospect.com", "queue.lead@prospect.com"],
        other_manager=["oscar.lead@prospect.com", "queue.lead@prospect.com"],
        revops=ALL_LEADS,
    ),
    "territories": _staff(["US"], partners=[]),
    "reps": _staff(ALL_REPS, partners=[]),
    # Reps read the registrations on accounts they own; each partner its own.
    "dealRegistrations": _staff(
        ALL_REGISTRATIONS,
        partners=None,
        rep=[("Alpha Partners", "Alpha Deal Co", "APPROVED"), ("Beta Partners", "Alpha Deal Co", "EXPIRED")],
        other_rep=[],
        partner_a=[("Alpha Partners", "Alpha Deal Co", "APPROVED"), ("Alpha Partners", "Alpha Pending Co", "PENDING")],
        partner_b=[("Beta Partners", "Alpha Deal Co", "EXPIRED"), ("Beta Partners", "Beta Deal Co", "APPROVED")],
    ),
    "dealRegistrations { account { owners } }": _staff(
        sorted(
            [
                ("Alpha Deal Co", ALPHA_OWNERS_FOR_STAFF),
                ("Alpha Deal Co", ALPHA_OWNERS_FOR_STAFF),
                ("Alpha Pending Co", []),
                ("Beta Deal Co", [("PARTNER", None, "Beta Partners")]),
            ]
        ),
        partners=None,
        rep=[("Alpha Deal Co", ALPHA_OWNERS_FOR_STAFF), ("Alpha Deal Co", ALPHA_OWNERS_FOR_STAFF)],
        other_rep=[],
        partner_a=[("Alpha Deal Co", [("PARTNER", None, "Alpha Partners")]), ("Alpha Pending Co", [])],
        partner_b=[("Alpha Deal Co", []), ("Beta Deal Co", [("PARTNER", None, "Beta Partners")])],
    ),
    # Reps read the disputes they are party to (Rita is the contested owner); managers their team's (Tom
    # and Rita are Mia's, not Olga's); partners none.
    "disputes": _staff(DISPUTE, partners=[], other_rep=[], other_manager=[]),
    # Anyone on staff may simulate the published rules; drafts are for managers (to a rep, a missing version).
    "simulateRouting(published)": _staff([("TERRITORY", "US", 1)], partners=GraphQLError("FORBIDDEN")),
    "simulateRouting(draft v2)": _staff(
        [("TERRITORY", "US draft", 2)],
        partners=GraphQLError("FORBIDDEN"),
        rep=GraphQLError("NOT_FOUND"),
        other_rep=GraphQLError("NOT_FOUND"),
    ),
    # Everyone reads only their own notifications: a partner never another partner's nor a rep's.
    "notifications": {
        "anonymous": UNAUTHENTICATED,
        **{actor: [f"{who} told"] for actor, who in NOTIFIED.items()},
    },
    "unreadNotificationCount": _all(1),
    # Rebalancing plans are for managers and RevOps: anyone else is refused, never shown an empty list.
    "rebalancePlans": _staff(
        [("DRAFT", 1)],
        partners=GraphQLError("FORBIDDEN"),
        rep=GraphQLError("FORBIDDEN"),
        other_rep=GraphQLError("FORBIDDEN"),
    ),
    "rebalancePlan": _staff(
        ("DRAFT", "Mia Manager"),
        partners=GraphQLError("FORBIDDEN"),
        rep=GraphQLError("FORBIDDEN"),
        other_rep=GraphQLError("FORBIDDEN"),
    ),
    # Mutations ------------------------------------------------------------------------------------------
    "submitLead": _mutation(
        rep=OK, other_rep=OK, manager=OK, other_manager=OK, revops=OK, partner_a=FORBIDDEN, partner_b=FORBIDDEN
    ),
    "submitLeads": _mutation(
        rep=OK, other_rep=OK, manager=OK, other_manager=OK, revops=OK, partner_a=FORBIDDEN, partner_b=FORBIDDEN
    ),
    "claimAccount(an unowned account)": _mutation(
        rep=OK, other_rep=OK, manager=OK, other_manager=OK, revops=OK, partner_a=NOT_FOUND, partner_b=NOT_FOUND
    ),
    "claimAccount(Alpha's pending account)": _mutation(
        rep=OK, other_rep=OK, manager=OK, other_manager=OK, revops=OK, partner_a=FORBIDDEN, partner_b=NOT_FOUND
    ),
    "registerDeal": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=FORBIDDEN,
        other_manager=FORBIDDEN,
        revops=FORBIDDEN,
        partner_a=OK,
        partner_b=OK,
    ),
    "reviewDealRegistration(Alpha's pending one)": _mutation(
        rep=NOT_FOUND,
        other_rep=NOT_FOUND,
        manager=OK,
        other_manager=OK,
        revops=OK,
        partner_a=FORBIDDEN,
        partner_b=NOT_FOUND,
    ),
    # Who may review is asked before what state it is in.
    "reviewDealRegistration(Alpha's approved one on Rita's account)": _mutation(
        rep=FORBIDDEN,
        other_rep=NOT_FOUND,
        manager=Refused("INVALID_TRANSITION"),
        other_manager=Refused("INVALID_TRANSITION"),
        revops=Refused("INVALID_TRANSITION"),
        partner_a=FORBIDDEN,
        partner_b=NOT_FOUND,
    ),
    # Olga may not read Rita's lead nor Tom v Rita (not her team): NOT_FOUND before the service's FORBIDDEN.
    "logActivity(Rita's lead)": _mutation(
        rep=OK,
        other_rep=NOT_FOUND,
        manager=OK,
        other_manager=NOT_FOUND,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "updateLeadStage(Rita's lead)": _mutation(
        rep=OK,
        other_rep=NOT_FOUND,
        manager=OK,
        other_manager=NOT_FOUND,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "openDispute(Oscar's account)": _mutation(
        rep=OK,
        other_rep=Refused("INVALID"),  # his own account
        manager=OK,
        other_manager=OK,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "resolveDispute(Tom v Rita)": _mutation(
        rep=FORBIDDEN,
        other_rep=NOT_FOUND,
        manager=OK,
        other_manager=NOT_FOUND,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "transferOwnership(Rita's account to Tom)": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=OK,
        other_manager=FORBIDDEN,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "markNotificationsRead(all of one's own)": _mutation(
        rep=OK, other_rep=OK, manager=OK, other_manager=OK, revops=OK, partner_a=OK, partner_b=OK
    ),
    # Only Rita may mark Rita's: to anyone else her notification is missing.
    "markNotificationsRead(Rita's)": _mutation(
        rep=OK,
        other_rep=NOT_FOUND,
        manager=NOT_FOUND,
        other_manager=NOT_FOUND,
        revops=NOT_FOUND,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
    "buildRebalancePlan": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=OK,
        other_manager=OK,
        revops=OK,
        partner_a=FORBIDDEN,
        partner_b=FORBIDDEN,
    ),
    "applyRebalancePlan": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=OK,
        other_manager=OK,
        revops=OK,
        partner_a=FORBIDDEN,
        partner_b=FORBIDDEN,
    ),
    "discardRebalancePlan": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=OK,
        other_manager=OK,
        revops=OK,
        partner_a=FORBIDDEN,
        partner_b=FORBIDDEN,
    ),
    "markRepDeparted(Tom)": _mutation(
        rep=FORBIDDEN,
        other_rep=FORBIDDEN,
        manager=OK,
        other_manager=FORBIDDEN,
        revops=OK,
        partner_a=NOT_FOUND,
        partner_b=NOT_FOUND,
    ),
}

CELLS = [(op, actor) for op in MATRIX for actor in ACTORS]


@pytest.mark.parametrize(("op_name", "actor"), CELLS, ids=[f"{op} as {actor}" for op, actor in CELLS])
def test_permission_matrix(world, op_name, actor):
    op, expected = OPS[op_name], MATRIX[op_name][actor]
    before = world.fingerprint() if op.kind == "mutation" else None
    body = gql(op.document, op.variables(world), token=world.token(actor))
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]

    if isinstance(expected, GraphQLError):
        assert codes == [expected.code], body
        assert (body.get("data") or {}).get(op.root) is None
    else:
        assert codes == [], body
        value = body["data"][op.root]
        if op.kind == "query":
            assert op.read(value) == expected
        elif expected == OK:
            assert value["errors"] == [], value
            assert op.done is not None
            op.done(world, actor)
        else:
            assert [e["code"] for e in value["errors"]] == [expected.code], value
    if op.kind == "mutation" and expected != OK:
        assert world.fingerprint() == before, "a refused mutation changed something"


CONTRACT = Path(settings.BASE_DIR) / "docs" / "api-contract.graphql"


def test_the_matrix_covers_every_query_and_mutation_of_the_contract_for_every_caller():
    contract = build_schema(CONTRACT.read_text(encoding="utf-8"))
    assert contract.query_type is not None and contract.mutation_type is not None
    covered = {(op.kind, op.root) for op in OPS.values()}
    assert {("query", name) for name in contract.query_type.fields} <= covered
    assert {("mutation", name) for name in contract.mutation_type.fields} <= covered
    # ... and every root field we export beyond the contract too.
    assert {("query", name) for name in schema._schema.query_type.fields} <= covered
    assert {("mutation", name) for name in schema._schema.mutation_type.fields} <= covered
    assert set(OPS) == set(MATRIX)
    for name, row in MATRIX.items():
        assert set(row) == set(ACTORS), name


def test_a_denied_id_and_a_missing_id_read_alike(world):
    """No existence leak through ids: Beta's registration and a registration that never was, to Alpha."""
    document = """mutation($id: ID!) { reviewDealRegistration(id: $id, approve: true) {
        registration { id } errors { field code message } } }"""
    token = world.token("partner_a")
    answers = []
    for registration_id in (str(world.reg_beta.pk), "987654"):
        body = gql(document, {"id": registration_id}, token=token)
        [error] = body["data"]["reviewDealRegistration"]["errors"]
        answers.append({**error, "message": error["message"].replace(registration_id, "<id>")})
    assert answers[0] == answers[1] == {"field": "id", "code": "NOT_FOUND", "message": "no deal registration #<id>"}
