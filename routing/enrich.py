"""Step 1 of the routing decision: clean a lead's input and enrich it from its account.

`clean_lead` validates and normalises what was submitted (every problem at once, as
ServiceErrors); `enrich` fills the firmographics the lead left blank from the matched
account, so territory rules see the company's location and size. Each says what it
did in plain words, for the decision's trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leadowner.errors import ErrorCode, ServiceError, ServiceErrors
from routing.models import Account, LeadSource
from routing.normalize import company_domain, country_code, email_domain, normalize_company, subdivision_code
from territories.matching import Facts, fold_city

# ISO 3166-2:US lists these outlying areas, but each has its own ISO 3166-1 code, and
# that is how territories name them ("PR", not "US-PR").
US_OUTLYING_AREAS = frozenset({"AS", "GU", "MP", "PR", "UM", "VI"})

# Column sizes of routing.models.Lead, checked here so a long value is an INVALID, not a 500.
MAX_EMAIL = 254
# A receivedAt before this is a typo (and dates near year 1 overflow the duplicate window).
EARLIEST_YEAR = 1970
# How far ahead of the server's clock a receivedAt may be (a client's clock runs a little fast).
RECEIVED_AT_SLACK = timedelta(minutes=5)
_MAX_LENGTHS = {
    "name": 200,
    "title": 200,
    "company": 300,
    "city": 120,
    "postal_code": 20,
    "industry": 120,
    "product_interest": 200,
}


@dataclass(frozen=True)
class LeadData:
    """A lead as submitted: the contract's LeadInput (snake_case)."""

    email: str
    name: str | None = None
    title: str | None = None
    company: str | None = None
    country: str | None = None
    subdivision: str | None = None
    city: str | None = None
    postal_code: str | None = None
    industry: str | None = None
    employees: int | None = None
    source: str = LeadSource.INBOUND
    product_interest: str | None = None
    requested_rep_email: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class CleanLead:
    """A lead after validation and normalisation: what is stored and what routing reads."""

    email: str
    email_domain: str  # the registered domain, free mail included (Lead.email_domain)
    company_domain: str  # "" for free mail: it names no company
    name: str
    title: str
    company: str
    normalized_company: str
    country: str
    subdivision: str
    city: str
    postal_code: str
    industry: str
    employees: int | None
    source: str
    product_interest: str
    requested_rep_email: str
    received_at: datetime | None
    notes: tuple[str, ...] = field(default_factory=tuple)  # trace lines of the normalisation

    def facts(self) -> Facts:
        return Facts(
            country=self.country,
            subdivision=self.subdivision,
            city=self.city,
            postal_code=self.postal_code,
            industry=self.industry,
            employees=self.employees,
        )


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _exact_country(raw: str) -> bool:
    try:
        pycountry.countries.lookup(raw)
    except LookupError:
        return False
    return True


def resolve_location(country: str, subdivision: str) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """ISO codes for what was typed: (country, subdivision, notes, [(field, problem)])."""
    notes: list[str] = []
    problems: list[tuple[str, str]] = []
    code = ""
    sub = ""
    if country:
        found = country_code(country)
        # "Quebec" typed as a country: fuzzy country search says CA; keep the province too.
        if not _exact_country(country) and len(country) > 3:
            as_sub = subdivision_code(country)
            if as_sub and (found is None or as_sub.split("-")[0] == found):
                sub = as_sub
                found = as_sub.split("-")[0]
        if found is None:
            problems.append(("country", f"unknown country {country!r}; use an ISO 3166-1 code such as US or PR"))
        else:
            code = found
            if code != country.upper() or sub:
                notes.append(f"country {country!r} is {code}" + (f", subdivision {sub}" if sub else ""))
    if subdivision and not problems:
        found_sub = subdivision_code(subdivision, code or None)
        if found_sub is None:
            hint = "" if code else " (or give the country too)"
            problems.append(
                ("subdivision", f"unknown subdivision {subdivision!r}; use an ISO 3166-2 code such as CA-QC{hint}")
            )
        elif sub and found_sub != sub:
            problems.append(("subdivision", f"subdivision {found_sub} does not agree with country {country!r}"))
        else:
            sub_country = found_sub.split("-")[0]
            if code and sub_country != code and not (code in US_OUTLYING_AREAS and found_sub == f"US-{code}"):
                problems.append(("subdivision", f"subdivision {found_sub} is not in {code}"))
            else:
                if found_sub != subdivision.upper():
                    notes.append(f"subdivision {subdivision!r} is {found_sub}")
                if not code:
                    notes.append(f"subdivision {found_sub} implies country {sub_country}")
                    code = sub_country
                sub = found_sub
    area = sub.split("-", 1)[1] if sub.startswith("US-") else ""
    if area in US_OUTLYING_AREAS:
        notes.append(f"{sub} is the country {area} (ISO 3166-1), not a US subdivision")
        code, sub = area, ""
    return code, sub, notes, problems


def clean_lead(data: LeadData, *, now: datetime, field_prefix: str = "") -> CleanLead:
    """Validate and normalise a lead submitted at `now`; every problem at once (ServiceErrors, code INVALID)."""
    errors: list[ServiceError] = []

    def bad(name: str, message: str) -> None:
        errors.append(ServiceError(ErrorCode.INVALID, message, f"{field_prefix}{name}"))

    email = (data.email or "").strip().lower()
    if len(email) > MAX_EMAIL:  # the validator allows up to 320
        bad("email", f"email is longer than {MAX_EMAIL} characters")
    else:
        try:
            validate_email(email)
        except ValidationError:
            bad("email", f"{data.email!r} is not an email address")
    requested = (data.requested_rep_email or "").strip().lower()
    if len(requested) > MAX_EMAIL:
        bad("requestedRepEmail", f"requested rep email is longer than {MAX_EMAIL} characters")
    elif requested:
        try:
            validate_email(requested)
        except ValidationError:
            bad("requestedRepEmail", f"{data.requested_rep_email!r} is not an email address")
    texts = {key: _text(getattr(data, key)) for key in _MAX_LENGTHS}
    for key, limit in _MAX_LENGTHS.items():
        if len(texts[key]) > limit:
            bad(_camel(key), f"{key.replace('_', ' ')} is longer than {limit} characters")
    normalized = normalize_company(texts["company"]) if len(texts["company"]) <= _MAX_LENGTHS["company"] else ""
    if len(normalized) > _MAX_LENGTHS["company"]:  # normalising can lengthen it: "ß" -> "ss"
        bad("company", f"company is longer than {_MAX_LENGTHS['company']} characters once normalised")
    if data.employees is not None and (isinstance(data.employees, bool) or data.employees < 0):
        bad("employees", "employees must be zero or more")
    if data.source not in LeadSource.values:
        bad("source", f"unknown source {data.source!r}; one of {', '.join(LeadSource.values)}")
    if data.received_at is not None and data.received_at.tzinfo is None:
        bad("receivedAt", "receivedAt needs a time zone offset")
    elif data.received_at is not None and data.received_at.year < EARLIEST_YEAR:
        bad("receivedAt", f"receivedAt is before {EARLIEST_YEAR}")
    elif data.received_at is not None and data.received_at > now + RECEIVED_AT_SLACK:
        bad("receivedAt", "receivedAt is in the future")
    country, subdivision, notes, problems = resolve_location(_text(data.country), _text(data.subdivision))
    for name, message in problems:
        bad(name, message)
    if errors:
        raise ServiceErrors(errors)

    domain = email_domain(email)
    company_dom = company_domain(email)
    company = texts["company"]
    lines = [f"normalise: {line}" for line in notes]
    if domain and not company_dom:
        lines.insert(0, f"normalise: {domain} is a free-mail provider: the email names no company")
    if company and normalized != company.lower():
        lines.append(f"normalise: company {company!r} compares as {normalized!r}")
    return CleanLead(
        email=email,
        email_domain=domain,
        company_domain=company_dom,
        name=texts["name"],
        title=texts["title"],
        company=company,
        normalized_company=normalized,
        country=country,
        subdivision=subdivision,
        city=texts["city"],
        postal_code=texts["postal_code"].upper(),
        industry=texts["industry"],
        employees=data.employees,
        source=data.source,
        product_interest=texts["product_interest"],
        requested_rep_email=requested,
        received_at=data.received_at,
        notes=tuple(lines),
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def enrich(lead: CleanLead, account: Account | None) -> tuple[Facts, list[str]]:
    """The facts territory rules read: the lead's own, with blanks filled from its account.

    Location is only borrowed when it agrees: a lead in CA does not take the
    subdivision, city or postal code of an account headquartered in the US.
    """
    facts = lead.facts()
    if account is None:
        return facts, ["enrich: no account matched, routing on the lead's own details"]
    filled: list[str] = []
    values = {
        "country": facts.country,
        "subdivision": facts.subdivision,
        "city": facts.city,
        "postal_code": facts.postal_code,
        "industry": facts.industry,
        "employees": facts.employees,
        "annual_revenue": facts.annual_revenue,
    }
    kept: list[str] = []
    same_country = not facts.country or not account.country or facts.country == account.country
    same_subdivision = same_country and (
        not facts.subdivision or not account.subdivision or facts.subdivision == account.subdivision
    )
    for key, allowed in (
        ("country", True),
        ("subdivision", same_country),
        ("city", same_subdivision),
        ("postal_code", same_subdivision and (not facts.city or fold_city(facts.city) == fold_city(account.city))),
        ("industry", True),
        ("employees", True),
        ("annual_revenue", True),
    ):
        ours, theirs = values[key], getattr(account, key)
        if ours not in (None, "") or theirs in (None, ""):
            continue
        if not allowed:
            kept.append(key.replace("_", " "))
            continue
        values[key] = theirs
        shown = f"{theirs:,}" if isinstance(theirs, int) else theirs
        filled.append(f"{key.replace('_', ' ')} {shown}")
    lines = []
    if filled:
        lines.append(f"enrich: filled {', '.join(filled)} from {account.name}")
    else:
        lines.append(f"enrich: nothing to fill from {account.name}")
    if kept:
        what = " and ".join([", ".join(kept[:-1]), kept[-1]] if len(kept) > 1 else kept)
        verb = "were" if len(kept) > 1 else "was"
        lines.append(f"enrich: kept the lead's location; {account.name} is elsewhere, so its {what} {verb} not used")
    return Facts(**values), lines  # type: ignore[arg-type]
