"""Who is acting: a rep (of any role), a partner user, or the system (a job, routing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from territories.models import PartnerUser, Rep


@dataclass(frozen=True)
class Actor:
    rep: Rep | None = None
    partner_user: PartnerUser | None = None
    system: str | None = None  # "routing", "forfeit job", "import" ...
    scope: str | None = None  # the token's scope, None for sessions and the system

    @classmethod
    def system_actor(cls, name: str) -> Actor:
        return cls(system=name)

    @property
    def is_authenticated(self) -> bool:
        return self.rep is not None or self.partner_user is not None or self.system is not None

    @property
    def is_system(self) -> bool:
        return self.system is not None

    @property
    def is_partner(self) -> bool:
        return self.partner_user is not None

    @property
    def is_revops(self) -> bool:
        return self.is_system or (self.rep is not None and self.rep.role == "REVOPS")

    @property
    def is_manager(self) -> bool:
        """Managers and RevOps (RevOps can do everything a manager can)."""
        return self.is_system or (self.rep is not None and self.rep.role in ("MANAGER", "REVOPS"))

    @property
    def partner_id(self) -> int | None:
        return self.partner_user.partner_id if self.partner_user is not None else None

    @property
    def label(self) -> str:
        """How history names the actor."""
        if self.system is not None:
            return self.system
        if self.rep is not None:
            return self.rep.email
        if self.partner_user is not None:
            return f"{self.partner_user.email} (partner)"
        return "anonymous"


ANONYMOUS = Actor()
