"""Reads of reps, partners and rule sets, and the exports of reps.csv, partners.csv and territories.yaml.

Exports write exactly the formats the imports read (see territories.services), in a
canonical order, so exporting what an import wrote gives back the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from leadowner.csvio import csv_text
from leadowner.prepared import Prepared
from territories.models import PartnerUser, Rep, RuleSet, RuleSetStatus, Territory
from territories.policy import Policy

REPS_COLUMNS = ("email", "name", "role", "manager_email", "capacity", "status", "territories")
REPS_NUMERIC = ("capacity",)
PARTNERS_COLUMNS = ("partner", "email", "name")
# territories.yaml: the order keys are written in (product.md's order).
CRITERIA_KEYS = (
    "countries",
    "subdivisions",
    "cities",
    "postal_prefixes",
    "industries",
    "employees",
    "annual_revenue",
)
RANGE_KEYS = ("min", "max")


# Every routed lead and most screens ask it: compiled once (leadowner.prepared).
_PUBLISHED = Prepared(lambda status: RuleSet.objects.filter(status=status).order_by("pk")[:1], (str,))


def published_rule_set() -> RuleSet | None:
    """The rule set that routes now (None before the first publish)."""
    found = _PUBLISHED(str(RuleSetStatus.PUBLISHED))
    return found[0] if found else None


def rule_set_by_version(version: int) -> RuleSet | None:
    return RuleSet.objects.filter(version=version).first()


def latest_rule_set() -> RuleSet | None:
    return RuleSet.objects.order_by("-version").first()


def policy_of(rule_set: RuleSet | None) -> Policy:
    """The typed policy of a rule set; the defaults when there is none yet."""
    if rule_set is None:
        return Policy()
    # Kept on the instance while its `policy` is the same object (Policy is immutable): routing
    # asks for it at every lead of a batch.
    cached = getattr(rule_set, "_typed_policy", None)
    if cached is not None and cached[0] is rule_set.policy:
        return cached[1]  # type: ignore[no-any-return]
    policy = Policy.from_dict(rule_set.policy)
    rule_set._typed_policy = (rule_set.policy, policy)  # type: ignore[attr-defined]
    return policy


def territories_of(rule_set: RuleSet) -> list[Territory]:
    """Territories in file order, with parent and members (by position) loaded."""
    return list(
        Territory.objects.filter(rule_set=rule_set)
        .select_related("parent")
        .prefetch_related("memberships__rep")
        .order_by("position", "name")
    )


# --- reps.csv and partners.csv ---------------------------------------------------------


def _rep_rows() -> Iterator[list[str]]:
    for rep in Rep.objects.select_related("manager").order_by("email"):
        yield [
            rep.email,
            rep.name,
            rep.role,
            rep.manager.email if rep.manager else "",
            "" if rep.capacity is None else str(rep.capacity),
            rep.status,
            ";".join(rep.territory_names or []),
        ]


def export_reps() -> str:
    """reps.csv of every rep, by email."""
    return csv_text(columns=REPS_COLUMNS, rows=_rep_rows(), numeric=REPS_NUMERIC)


def _partner_rows() -> Iterator[list[str]]:
    for user in PartnerUser.objects.select_related("partner").order_by("partner__name", "email"):
        yield [user.partner.name, user.email, user.name]


def export_partners() -> str:
    """partners.csv: one row per partner user, by partner name then email."""
    return csv_text(columns=PARTNERS_COLUMNS, rows=_partner_rows())


# --- territories.yaml --------------------------------------------------------------------


class _Flow(list[Any]):
    """A list written inline: `[a, b]`."""


class _FlowMap(dict[str, Any]):
    """A mapping written inline: `{min: 0, max: 10}`."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent block sequences under their key, as people write them by hand.
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


def _represent_flow_map(dumper: yaml.SafeDumper, data: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(_FlowMap, _represent_flow_map)


def _criteria_for_export(criteria: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in CRITERIA_KEYS:
        value = criteria.get(key)
        if not value:
            continue
        if isinstance(value, dict):
            out[key] = {k: value[k] for k in RANGE_KEYS if value.get(k) is not None}
        else:
            out[key] = list(value)
    return out


def rule_set_document(rule_set: RuleSet) -> dict[str, Any]:
    """The rule set as the plain structure territories.yaml holds, in canonical key order."""
    doc: dict[str, Any] = {"calendar": rule_set.calendar}
    if rule_set.note:
        doc["note"] = rule_set.note
    doc["policy"] = policy_of(rule_set).as_dict()
    territories: list[dict[str, Any]] = []
    for territory in territories_of(rule_set):
        item: dict[str, Any] = {"name": territory.name}
        if territory.parent is not None:
            item["parent"] = territory.parent.name
        item["priority"] = territory.priority
        item["distribution"] = territory.distribution.lower()
        members = sorted(territory.memberships.all(), key=lambda m: (m.position, m.pk))
        item["members"] = [
            m.rep.email if m.weight == 1 else {"email": m.rep.email, "weight": m.weight} for m in members
        ]
        item["match"] = _criteria_for_export(territory.criteria or {})
        territories.append(item)
    doc["territories"] = territories
    return doc


def _styled(doc: dict[str, Any]) -> dict[str, Any]:
    """Mark what is written inline: members (when all plain emails), criteria lists and ranges."""
    out = dict(doc)
    territories = []
    for territory in doc.get("territories", []):
        item = dict(territory)
        members = item.get("members", [])
        if all(isinstance(m, str) for m in members):
            item["members"] = _Flow(members)
        else:
            item["members"] = [_FlowMap(m) if isinstance(m, dict) else m for m in members]
        item["match"] = {
            key: _FlowMap(value) if isinstance(value, dict) else _Flow(value)
            for key, value in (item.get("match") or {}).items()
        }
        territories.append(item)
    out["territories"] = territories
    return out


def dump_territories_yaml(doc: dict[str, Any]) -> str:
    """territories.yaml text of a document shaped like `rule_set_document`'s, canonically styled."""
    return yaml.dump(
        _styled(doc),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )


def export_rule_set(rule_set: RuleSet) -> str:
    """territories.yaml of a rule set, canonical: product.md key order, empty criteria left out."""
    return dump_territories_yaml(rule_set_document(rule_set))
