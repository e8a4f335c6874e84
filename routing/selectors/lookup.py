"""Who owns this? The owner lookup behind GraphQL `ownerOf` and the console lookup screen.

Anyone signed in may ask (transparency); this module only reads. Both doors read a text
the same way: a domain that matches nothing is tried again as a company name (lookup_domain).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from leadowner.errors import ErrorCode, ServiceError
from routing.decision import MatchResult
from routing.matching import DEFAULT_THRESHOLD, match_account
from routing.models import Account, AccountAlias, AccountDomain, Ownership, OwnershipChange
from routing.selectors.accounts import account_by_id, ancestors, owners_up_the_chain

HISTORY_PAGE_SIZE = 25


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
        account = account_by_id(account_id)
        if account is None:
            return OwnerLookup(None, MatchResult.none(f"no account has the id {account_id}"), [], None)
        match = MatchResult(account.pk, "ID", 1.0, f"account {account.pk} ({account.name}) was asked for by its id")
    else:
        match = match_account(domain=domain, company=company, threshold=threshold)
        if match.account_id is None:
            return OwnerLookup(None, match, [], None)
        account = match.account if match.account is not None else account_by_id(match.account_id)
        if account is None:  # removed since it matched
            return OwnerLookup(None, MatchResult.none(f"account {match.account_id} no longer exists"), [], None)
    by_role, chain = owners_up_the_chain(account)
    owners = list(by_role.values())
    sources = {o.account_id for o in owners} - {account.pk}
    rolled_up_from = None
    if sources:
        nearest = min(sources, key=lambda pk: chain.index(pk) if pk in chain else len(chain))
        rolled_up_from = next(o.account for o in owners if o.account_id == nearest)
    return OwnerLookup(account, match, owners, rolled_up_from)


def parse_lookup_query(text: str) -> tuple[str, str]:
    """("domain", value) for an email, a host or a URL; ("company", value) for anything else.

    Something with a dot and no spaces (`ibm.com`, `jane@mail.ibm.com`, `https://ibm.com/x`)
    is a domain; `International Business Machines` or `IBM` is a company name.
    """
    text = text.strip()
    if "@" in text or ("." in text and " " not in text):
        return "domain", text
    return "company", text


def lookup_domain(domain: str) -> tuple[str, OwnerLookup]:
    """Look up by domain; when that finds nothing, not even an ambiguity, try the text as a company name.

    "J.P.Morgan" or "Amazon.com" may be a name rather than a domain we know. An email address
    is never retried: its host is all it says. Returns how the account was found ("domain" or
    "company") and the lookup; the domain's miss when the name finds nothing either.
    """
    domain = domain.strip()
    found = lookup_owner(domain=domain)
    if found.account is None and not found.match.ambiguous_ids and "@" not in domain:
        by_name = lookup_owner(company=domain)
        if by_name.account is not None or by_name.match.ambiguous_ids:
            return "company", by_name
    return "domain", found


def lookup_text(text: str) -> tuple[str, OwnerLookup]:
    """Look up what someone typed: a domain (with the company-name retry) or a company name.

    Returns how it was read ("domain" or "company") and the lookup; blank text is INVALID.
    """
    kind, value = parse_lookup_query(text)
    if kind == "company":
        return kind, lookup_owner(company=value)
    return lookup_domain(value)


def lookup_arguments(
    *, domain: str | None = None, company: str | None = None, account_id: int | None = None
) -> OwnerLookup:
    """lookup_owner for explicit arguments, with lookup_domain's retry when a domain is all there is.

    So `ownerOf(domain: "J.P.Morgan")` finds what the console finds for the same text; an id,
    a company, or a domain together with a company keep lookup_owner's meaning.
    """
    if account_id is None and (domain or "").strip() and not (company or "").strip():
        return lookup_domain(domain or "")[1]
    return lookup_owner(domain=domain, company=company, account_id=account_id)


@dataclass(frozen=True)
class Candidate:
    """One of the accounts an ambiguous lookup could mean, with its domains."""

    account: Account
    domains: list[str]


def candidates(ids: tuple[int, ...]) -> list[Candidate]:
    """The accounts of an ambiguous match, in its order, each with its parent and domains (two queries)."""
    accounts = Account.objects.select_related("parent").in_bulk(ids)
    domains: dict[int, list[str]] = {}
    for account_id, domain in AccountDomain.objects.filter(account_id__in=ids).values_list("account_id", "domain"):
        domains.setdefault(account_id, []).append(domain)
    return [Candidate(accounts[pk], domains.get(pk, [])) for pk in ids if pk in accounts]


@dataclass(frozen=True)
class AccountDetails:
    """What the lookup screen shows of a found account besides its owners."""

    chain: list[Account]  # its corporate family, top-level parent first; empty for a top-level account
    domains: list[str]
    aliases: list[str]
    history: Page[OwnershipChange]  # newest first, HISTORY_PAGE_SIZE to a page


def account_details(account: Account, *, page: str | None) -> AccountDetails:
    """The family, domains, aliases and one page of ownership history of a found account."""
    changes = (
        OwnershipChange.objects.filter(account=account)
        .select_related("from_rep", "to_rep", "from_partner", "to_partner")
        .order_by("-at", "-id")
    )
    return AccountDetails(
        chain=list(reversed(ancestors(account))) if account.parent_id else [],
        domains=list(AccountDomain.objects.filter(account=account).values_list("domain", flat=True)),
        aliases=list(AccountAlias.objects.filter(account=account).values_list("alias", flat=True)),
        history=Paginator(changes, HISTORY_PAGE_SIZE).get_page(page),
    )
