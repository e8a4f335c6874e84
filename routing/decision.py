"""What routing decided and why: the shapes shared by the engine, the API and the console.

A decision is stored on the lead as JSON (Lead.decision) and rebuilt with
RoutingDecision.from_json, so the API shows exactly what was decided at the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing.models import Account

# ID: a lookup that named the account by its id (routing.selectors.lookup), no matching involved.
MATCH_METHODS = ("DOMAIN", "ALIAS", "NAME", "FUZZY", "PARENT", "ID", "NONE")


@dataclass(frozen=True)
class MatchResult:
    """How a lead (or a lookup) was matched to an account."""

    account_id: int | None
    method: str  # one of MATCH_METHODS
    score: float | None  # 0..1, 1.0 for exact
    explanation: str
    # Accounts that matched equally well when the match is ambiguous (then account_id is None).
    ambiguous_ids: tuple[int, ...] = ()
    # The account as the match read it, whole (a domain match reads the row with the domain),
    # so that the caller need not read it again. Never stored with the decision, nor compared.
    account: Account | None = field(default=None, compare=False, repr=False)

    @classmethod
    def none(cls, explanation: str) -> MatchResult:
        return cls(account_id=None, method="NONE", score=None, explanation=explanation)

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "method": self.method,
            "score": self.score,
            "explanation": self.explanation,
            "ambiguous_ids": list(self.ambiguous_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchResult:
        return cls(
            account_id=data.get("account_id"),
            method=data.get("method", "NONE"),
            score=data.get("score"),
            explanation=data.get("explanation", ""),
            ambiguous_ids=tuple(data.get("ambiguous_ids", ())),
        )


@dataclass(frozen=True)
class OwnerChoice:
    """The owner a decision picked: a rep or a partner, in a role."""

    role: str
    rep_id: int | None = None
    partner_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "rep_id": self.rep_id, "partner_id": self.partner_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OwnerChoice:
        return cls(role=data["role"], rep_id=data.get("rep_id"), partner_id=data.get("partner_id"))


@dataclass(frozen=True)
class RoutingDecision:
    step: str  # a DecisionStep value
    match: MatchResult
    rule_set_version: int
    owner: OwnerChoice | None = None
    territory_id: int | None = None
    trace: tuple[str, ...] = field(default_factory=tuple)

    @property
    def why(self) -> str:
        """What history records as the reason of the owner this decision gives: its last trace
        line (the step that decided, in words), else the step."""
        return self.trace[-1] if self.trace else str(self.step)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "match": self.match.to_json(),
            "rule_set_version": self.rule_set_version,
            "owner": self.owner.to_json() if self.owner else None,
            "territory_id": self.territory_id,
            "trace": list(self.trace),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoutingDecision:
        return cls(
            step=data["step"],
            match=MatchResult.from_json(data.get("match") or {}),
            rule_set_version=data.get("rule_set_version", 0),
            owner=OwnerChoice.from_json(data["owner"]) if data.get("owner") else None,
            territory_id=data.get("territory_id"),
            trace=tuple(data.get("trace", ())),
        )
