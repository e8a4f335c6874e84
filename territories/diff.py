"""What changed between two rule sets, in plain words (the territory map's "what changed" and the
confirmation before publishing). A read: four queries, whatever the size of the map."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from territories.matching import criteria_in_words
from territories.models import RuleSet, Territory
from territories.selectors import CRITERIA_KEYS, territories_of

RANGE_CRITERIA = ("employees", "annual_revenue")


@dataclass(frozen=True)
class RuleSetChange:
    """One difference between two rule sets; `territory` is None for the calendar and the policy."""

    territory: str | None
    text: str

    def __str__(self) -> str:
        return f"{self.territory}: {self.text}" if self.territory else self.text


def _words(key: str) -> str:
    return key.replace("_", " ").lower()


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _range_text(value: Any) -> str:
    if not isinstance(value, dict) or (value.get("min") is None and value.get("max") is None):
        return "any"
    low, high = value.get("min"), value.get("max")
    if low is not None and high is not None:
        return f"{low:,} to {high:,}"
    return f"at least {low:,}" if low is not None else f"at most {high:,}"


def _criteria_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in CRITERIA_KEYS:
        before, after = old.get(key), new.get(key)
        if key in RANGE_CRITERIA:
            if _range_text(before) != _range_text(after):
                out.append(f"{_words(key)}: {_range_text(before)} → {_range_text(after)}")
            continue
        was, now = list(before or []), list(after or [])
        added = [v for v in now if v not in was]
        removed = [v for v in was if v not in now]
        if added:
            out.append(f"{_words(key)} added: {_listed(added)}")
        if removed:
            out.append(f"{_words(key)} removed: {_listed(removed)}")
    return out


def _members(territory: Territory) -> dict[str, int]:
    """email -> weight, in member order."""
    ordered = sorted(territory.memberships.all(), key=lambda m: (m.position, m.pk))
    return {m.rep.email: m.weight for m in ordered}


def _territory_changes(old: Territory, new: Territory) -> list[str]:
    out: list[str] = []
    old_parent = old.parent.name if old.parent else None
    new_parent = new.parent.name if new.parent else None
    if old_parent != new_parent:
        out.append(f"parent: {old_parent or 'none'} → {new_parent or 'none'}")
    if old.priority != new.priority:
        out.append(f"priority: {old.priority} → {new.priority}")
    if old.distribution != new.distribution:
        out.append(f"distribution: {_words(old.distribution)} → {_words(new.distribution)}")
    criteria = _criteria_changes(old.criteria or {}, new.criteria or {})
    if criteria:
        out.extend(criteria)
        out.append(f"now matches: {criteria_in_words(new.criteria or {})}")
    was, now = _members(old), _members(new)
    for email, weight in now.items():
        if email not in was:
            out.append(f"member added: {email}" + (f" (weight {weight})" if weight != 1 else ""))
    for email in was:
        if email not in now:
            out.append(f"member removed: {email}")
    for email, weight in now.items():
        if email in was and was[email] != weight:
            out.append(f"weight of {email}: {was[email]} → {weight}")
    return out


def rule_set_diff(a: RuleSet, b: RuleSet) -> list[RuleSetChange]:
    """What changes from rule set `a` to rule set `b`, in plain words (empty when they route alike).

    Calendar and policy first, then territories added, removed and changed. Territories
    are paired by name; their order in the file is not a change.
    """
    changes: list[RuleSetChange] = []
    if a.calendar != b.calendar:
        changes.append(RuleSetChange(None, f"calendar: {a.calendar} → {b.calendar}"))
    old_policy, new_policy = dict(a.policy or {}), dict(b.policy or {})
    for key in sorted(set(old_policy) | set(new_policy)):
        if old_policy.get(key) != new_policy.get(key):
            before, after = old_policy.get(key, "not set"), new_policy.get(key, "not set")
            changes.append(RuleSetChange(None, f"policy {_words(key)}: {before} → {after}"))
    old = {t.name: t for t in territories_of(a)}
    new = {t.name: t for t in territories_of(b)}
    for name, territory in new.items():
        if name not in old:
            members = _members(territory)
            who = _listed(members) if members else "no members"
            changes.append(
                RuleSetChange(
                    name,
                    f"added: {criteria_in_words(territory.criteria or {})}; "
                    f"{_words(territory.distribution)} among {who}",
                )
            )
    changes.extend(RuleSetChange(name, "removed") for name in old if name not in new)
    for name, territory in new.items():
        if name in old:
            changes.extend(RuleSetChange(name, text) for text in _territory_changes(old[name], territory))
    return changes
