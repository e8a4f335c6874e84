"""Who owns this? The owner lookup behind GraphQL `ownerOf` and the console lookup screen.

Anyone signed in may ask (transparency); this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadowner.errors import ErrorCode, ServiceError
from routing.decision import MatchResult
from routing.matching import DEFAULT_THRESHOLD, match_account
from routing.models import Account, Ownership
from routing.selectors.accounts import owners_up_the_chain


@dataclass
class OwnerLookup:
    """The account found, how it was found, and its owners per role.

    `owners`: one current Ownership per role. For a role in which the account has no owner
    of its own, the nearest ancestor's owner stands in (a subsidiary rolls up to its
    parent); each Ownership's `account` is the account it belongs to. `rolled_up_from`:
    the ancestor whose owners stand in (the nearest, when several do), else None.
    """

    account: Account | None
    match: MatchResult
    owners: list[Ownership]
    rolled_up_from: Account | None


def lookup_owner(
    *,
    domain: str | None = None,
    company: str | None = None,
    account_id: int | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> OwnerLookup:
    """Find an account by id, by domain (an email, a host or a URL) or by company name, and its owners.

    `account_id` wins when given; otherwise the domain and the company go through
    routing.matching.match_account exactly as a lead's would (the domain decides when both
    match). No match, an ambiguous match or an unknown id give an OwnerLookup with no
    account and a match that says why; giving nothing at all is INVALID.
    """
    domain = (domain or "").strip()
    company = (company or "").strip()
    if account_id is None and not domain and not company:
        raise ServiceError(ErrorCode.INVALID, "give a domain, a company name or an account id to look up", "domain")
    if account_id is not None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            return OwnerLookup(None, MatchResult.none(f"no account has the id {account_id}"), [], None)
        match = MatchResult(account.pk, "ID", 1.0, f"account {account.pk} ({account.name}) was asked for by its id")
    else:
        match = match_account(domain=domain, company=company, threshold=threshold)
        if match.account_id is None:
            return OwnerLookup(None, match, [], None)
        account = Account.objects.get(pk=match.account_id)
    by_role, chain = owners_up_the_chain(account)
    owners = list(by_role.values())
    sources = {o.account_id for o in owners} - {account.pk}
    rolled_up_from = None
    if sources:
        nearest = min(sources, key=lambda pk: chain.index(pk) if pk in chain else len(chain))
        rolled_up_from = next(o.account for o in owners if o.account_id == nearest)
    return OwnerLookup(account, match, owners, rolled_up_from)
