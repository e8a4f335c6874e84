"""Who manages whom: a manager's team is every rep whose chain of managers reaches them."""

from __future__ import annotations

from leadowner.actors import Actor
from territories.models import Rep


def team_rep_ids(manager: Rep) -> set[int]:
    """Ids of the reps below `manager`, at any depth (the manager is not in their own team).

    One query per level of the org chart; a cycle in bad data ends the walk instead of looping.
    """
    team: set[int] = set()
    frontier = {manager.pk}
    while frontier:
        below = set(Rep.objects.filter(manager_id__in=frontier).values_list("pk", flat=True))
        below -= team | {manager.pk}
        team |= below
        frontier = below
    return team


def manager_chain(rep: Rep) -> list[Rep]:
    """The managers above `rep`, nearest first; stops at the top or at a cycle."""
    chain: list[Rep] = []
    seen = {rep.pk}
    current = rep.manager
    while current is not None and current.pk not in seen:
        chain.append(current)
        seen.add(current.pk)
        current = current.manager
    return chain


def manages(manager: Rep, rep: Rep) -> bool:
    """True when `manager` is somewhere up `rep`'s chain of managers."""
    return any(m.pk == manager.pk for m in manager_chain(rep))


def actor_manages(actor: Actor, *reps: Rep | None) -> bool:
    """RevOps and the system manage everyone; a manager manages the reps in their chain."""
    if actor.is_revops:
        return True
    if not actor.is_manager or actor.rep is None:
        return False
    return any(rep is not None and manages(actor.rep, rep) for rep in reps)
