"""Lead-to-account matching: domain, alias, name, then fuzzy name; precise before complete.

Order, first that finds something wins:

1. DOMAIN: the lead's host or one of its parent domains is a registered account domain
   (`mail.ibm.com` -> `ibm.com`); the longest registered domain wins. One indexed
   `domain IN (...)` query. Free-mail hosts (gmail.com) name no company and are skipped.
2. ALIAS / NAME: the normalised company text equals an account's normalised alias or
   name. Both are exact, so they are one level: when they name different accounts the
   match is ambiguous. An alias hit is reported as ALIAS, as the issue orders them.
3. FUZZY: candidates come from an index, never a scan (PostgreSQL: pg_trgm similarity
   on names and aliases, LIMIT; SQLite: names starting with the query's words, LIMIT),
   then each is compared by `compare_names`, which refuses any pair whose words do not
   pair up one to one (`meta financial group` is not `meta platforms`) and scores the
   rest with rapidfuzz against the caller's threshold.

Two or more different accounts at the best level (or within TIE_MARGIN of the best
fuzzy score) make the match ambiguous: nobody is picked, `ambiguous_ids` lists them.
One exception: when one of them is the ancestor of all the others (a group and its
subsidiaries share the name), the ancestor is picked and the explanation says so.

When both a domain and a company are given and the domain matches, the domain decides;
the explanation says whether the company text agrees or names something else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from leadowner.errors import ErrorCode, ServiceError
from routing.decision import MatchResult
from routing.models import Account, AccountAlias, AccountDomain
from routing.normalize import domain_with_parents, host_of, is_free_mail, normalize_company, registered_domain
from routing.selectors.accounts import ancestor_ids

DEFAULT_THRESHOLD = 90
# At most this many accounts are read for one exact name or alias (and listed when ambiguous).
EXACT_LIMIT = 20
# Candidates read from each index (names, aliases) before fuzzy scoring.
FUZZY_CANDIDATES = 20
# Fuzzy scores closer than this to the best count as equally good: that is ambiguous.
TIE_MARGIN = 0.01
# SQLite blocking: names starting with the first letters of the query's first word are
# candidates too, this many letters and at most this many names.
SQLITE_PREFIX = 3
SQLITE_PREFIX_CANDIDATES = 200

# Words that carry no identity: `Bank of America` is `Bank America`.
_FILLER = frozenset({"and", "of", "the", "und", "et", "y", "de", "du", "des", "der", "la", "le"})


# ---------------------------------------------------------------------------- names


@dataclass(frozen=True)
class NameComparison:
    """How close two normalised names are, and whether they may name the same company."""

    score: float  # 0..1
    agrees: bool  # every word pairs up with a word of the other name
    why: str  # plain words, for explanations


def _words(normalized: str) -> list[str]:
    tokens = normalized.split()
    kept = [t for t in tokens if t not in _FILLER]
    return kept or tokens


def _words_agree(a: str, b: str) -> bool:
    """Two words are the same word, allowing a plural or a typo in a long enough word.

    Words with digits must be equal (`acme 2` is not `acme 3`); short words must be equal
    (`ibm` is not `ibn`, `meta` is not `beta`); words of 5-8 letters may differ by one
    edit, longer words by two (a transposition counts as one edit).
    """
    if a == b:
        return True
    if any(ch.isdigit() for ch in a + b):
        return False
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= 4 and longer in (shorter + "s", shorter + "es", shorter[:-1] + "ies"):
        return True
    if len(shorter) < 5:
        return False
    allowed = 1 if len(shorter) < 9 else 2
    return OSA.distance(a, b, score_cutoff=allowed) <= allowed


def _pair_up(left: list[str], right: list[str]) -> bool:
    """True when the words pair up one to one, each pair agreeing (order does not matter)."""
    if len(left) != len(right):
        return False
    common = Counter(left) & Counter(right)
    rest_left = list((Counter(left) - common).elements())
    rest_right = list((Counter(right) - common).elements())

    def match(i: int, free: list[str]) -> bool:
        if i == len(rest_left):
            return True
        for j, word in enumerate(free):
            if _words_agree(rest_left[i], word) and match(i + 1, free[:j] + free[j + 1 :]):
                return True
        return False

    return match(0, rest_right)


def _unpaired(left: list[str], right: list[str]) -> list[str]:
    return [w for w in left if not any(_words_agree(w, other) for other in right)]


def compare_names(query: str, candidate: str) -> NameComparison:
    """Compare two normalised company names (see normalize_company).

    The precision rule: every distinctive word must pair up with one of the other name
    (filler words such as `and`, `of` aside), so a name with a word more, a word less or
    a different word is refused whatever its score (`meta financial group` vs `meta
    platforms`, `hewlett packard enterprise` vs `hp`, `acme` vs `acme uk`). Names that
    differ only by spacing (`hewlettpackard`) agree. The score is the better of rapidfuzz's
    `ratio` on the whole names and `token_sort_ratio` on their words (word order and
    filler words ignored), 0..1.
    """
    left, right = _words(query), _words(candidate)
    ratio = max(fuzz.ratio(query, candidate), fuzz.token_sort_ratio(" ".join(left), " ".join(right))) / 100
    if "".join(left) == "".join(right):
        return NameComparison(1.0, True, "the same words, spaced differently")
    if _pair_up(left, right):
        return NameComparison(round(ratio, 4), True, "every word pairs up")
    extra_left, extra_right = _unpaired(left, right), _unpaired(right, left)
    if extra_left or extra_right:
        parts = []
        if extra_left:
            parts.append(f"'{' '.join(extra_left)}' has no counterpart in '{candidate}'")
        if extra_right:
            parts.append(f"'{' '.join(extra_right)}' has no counterpart in '{query}'")
        why = " and ".join(parts)
    else:
        why = "the names have different numbers of words"
    return NameComparison(round(ratio, 4), False, why)


# ---------------------------------------------------------------------------- hits


@dataclass(frozen=True)
class _Hit:
    account_id: int
    method: str  # ALIAS, NAME or FUZZY
    score: float
    text: str  # the alias or name as the account spells it
    via_alias: bool


def _threshold_fraction(threshold: int) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 100:
        raise ServiceError(ErrorCode.INVALID, "the match threshold is a whole number from 1 to 100", "threshold")
    return threshold / 100


def _names(account_ids: Iterable[int]) -> dict[int, str]:
    return dict(Account.objects.filter(pk__in=list(account_ids)).order_by().values_list("pk", "name"))


def _listing(ids: list[int], names: dict[int, str], limit: int = 5) -> str:
    shown = ", ".join(f"{names.get(pk, '?')} (id {pk})" for pk in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _decide(hits: list[_Hit], *, what: str, threshold: float) -> MatchResult:
    """One account -> matched; several equally good -> ambiguous, unless one is the ancestor of all."""
    best = max(h.score for h in hits)
    margin = TIE_MARGIN if hits[0].method == "FUZZY" else 0.0
    top: dict[int, _Hit] = {}
    for hit in sorted(hits, key=lambda h: (-h.score, not h.via_alias, h.account_id)):
        if hit.score >= best - margin - 1e-9 and hit.account_id not in top:
            top[hit.account_id] = hit
    ids = sorted(top)
    names = _names(ids)
    if len(ids) == 1:
        hit = top[ids[0]]
        return MatchResult(hit.account_id, hit.method, hit.score, _why(hit, names[hit.account_id], what, threshold))
    chains = ancestor_ids(ids)
    for candidate in ids:
        if all(candidate in chains[other] for other in ids if other != candidate):
            hit = top[candidate]
            others = [pk for pk in ids if pk != candidate]
            why = (
                f"{_why(hit, names[candidate], what, threshold)}; it also matches {len(others)} of its "
                f"subsidiaries ({_listing(others, names)}) equally, so the parent {names[candidate]} is chosen"
            )
            return MatchResult(candidate, hit.method, hit.score, why)
    kind = "is close to" if top[ids[0]].method == "FUZZY" else "names"
    return MatchResult(
        account_id=None,
        method="NONE",
        score=round(best, 4),
        explanation=f"ambiguous: {what} {kind} {len(ids)} different accounts equally well: "
        f"{_listing(ids, names)}; none is picked",
        ambiguous_ids=tuple(ids),
    )


def _why(hit: _Hit, account_name: str, what: str, threshold: float) -> str:
    if hit.method == "ALIAS":
        return f"{what} is an alias of {account_name} ('{hit.text}')"
    if hit.method == "NAME":
        return f"{what} is the name of {account_name} once legal forms and punctuation are set aside"
    target = f"the alias '{hit.text}' of {account_name}" if hit.via_alias else f"the name of {account_name}"
    return f"{what} is close to {target} (similarity {hit.score:.2f}, threshold {threshold:.2f}, every word agrees)"


# ---------------------------------------------------------------------------- domain


def _match_domain(host: str, said: str) -> tuple[MatchResult, str, str] | None:
    """The account of the longest registered domain among the host and its parents."""
    candidates = domain_with_parents(host)
    if not candidates:
        return None
    rows = list(
        AccountDomain.objects.filter(domain__in=candidates)
        .order_by()
        .values_list("domain", "account_id", "account__name", "account__normalized_name")
    )
    if not rows:
        return None
    domain, account_id, name, normalized_name = max(rows, key=lambda row: len(row[0]))
    if domain == host:
        why = f"{said} {host} is a domain of {name}"
    else:
        why = f"{said} {host} is a sub-domain of {domain}, a domain of {name}"
    return MatchResult(account_id, "DOMAIN", 1.0, why), name, normalized_name


def _company_against_domain(
    result: MatchResult, name: str, normalized_name: str, company: str, normalized: str, threshold: float
) -> MatchResult:
    """The domain decided; say whether the company text agrees with it or names another account."""
    assert result.account_id is not None
    own = [
        normalized_name,
        *AccountAlias.objects.filter(account_id=result.account_id).values_list("normalized_alias", flat=True),
    ]
    if normalized in own or any((c := compare_names(normalized, text)).agrees and c.score >= threshold for text in own):
        return MatchResult(result.account_id, "DOMAIN", 1.0, f"{result.explanation}; company '{company}' agrees")
    other_ids = sorted({h.account_id for h in _exact_hits(normalized)} - {result.account_id})
    if other_ids:
        names = _names(other_ids)
        said = f"company '{company}' names {_listing(other_ids, names)} instead"
    else:
        said = f"company '{company}' is not a name of {name}"
    return MatchResult(result.account_id, "DOMAIN", 1.0, f"{result.explanation}; {said}, and the domain decides")


# ---------------------------------------------------------------------------- company


def _exact_hits(normalized: str) -> list[_Hit]:
    aliases = AccountAlias.objects.filter(normalized_alias=normalized).order_by("account_id")
    names = Account.objects.filter(normalized_name=normalized).order_by("pk")
    hits = [
        _Hit(account_id, "ALIAS", 1.0, alias, True)
        for account_id, alias in aliases.values_list("account_id", "alias")[:EXACT_LIMIT]
    ]
    hits += [_Hit(pk, "NAME", 1.0, name, False) for pk, name in names.values_list("pk", "name")[:EXACT_LIMIT]]
    return hits


def _trigram_floor(threshold: float) -> float:
    """The pg_trgm similarity a candidate needs to be read at all, for a fuzzy threshold.

    Calibrated on random names with one or two typos, a transposition or swapped words:
    every pair compare_names accepts at 0.90 has trigram similarity above 0.37, at 0.85
    above 0.27, at 0.80 above 0.15. A higher floor is faster: GIN skips more of each
    posting list.
    """
    return round(max(0.15, min(0.35, 0.35 - (0.9 - threshold) * 2)), 2)


def _trigram_candidates(normalized: str, threshold: float) -> list[tuple[int, str, bool]]:
    account = connection.ops.quote_name(Account._meta.db_table)
    alias = connection.ops.quote_name(AccountAlias._meta.db_table)
    sql = f"""
        (SELECT id, normalized_name, false FROM {account}
          WHERE normalized_name %% %s ORDER BY normalized_name <-> %s LIMIT %s)
        UNION ALL
        (SELECT account_id, normalized_alias, true FROM {alias}
          WHERE normalized_alias %% %s ORDER BY normalized_alias <-> %s LIMIT %s)
    """  # noqa: S608 -- only table names are formatted in
    params: list[str | int] = [normalized, normalized, FUZZY_CANDIDATES] * 2
    # SET LOCAL needs a transaction; inside a caller's transaction it lasts until that ends,
    # which only changes what `%` means for this matcher.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(_trigram_floor(threshold))])
        cursor.execute(sql, params)
        return [(int(pk), str(text), bool(via_alias)) for pk, text, via_alias in cursor.fetchall()]


def _successor(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _prefix_candidates(normalized: str) -> list[tuple[int, str, bool]]:
    """SQLite: names and aliases whose first word is one of the query's words, or that start
    with the first letters of the query.

    Each block is a range on the column's b-tree index with a LIMIT: a few index probes,
    never a scan. A typo within the first SQLITE_PREFIX letters of every word is missed
    here; PostgreSQL's trigram index finds it.
    """
    words = list(dict.fromkeys(_words(normalized)))[:3]
    # "w" <= name < "w!" holds for "w" and for names whose first word is w (" " < "!").
    blocks = [(w, f"{w}!", FUZZY_CANDIDATES) for w in words]
    prefix = normalized[:SQLITE_PREFIX]
    blocks.append((prefix, _successor(prefix), SQLITE_PREFIX_CANDIDATES))
    parts: list[str] = []
    params: list[str | int] = []
    for model, key, column, via_alias in (
        (Account, "id", "normalized_name", 0),
        (AccountAlias, "account_id", "normalized_alias", 1),
    ):
        table = connection.ops.quote_name(model._meta.db_table)
        for low, high, limit in blocks:
            parts.append(
                f"SELECT * FROM (SELECT {key}, {column}, {via_alias} FROM {table} "  # noqa: S608 -- names only
                f"WHERE {column} >= %s AND {column} < %s ORDER BY {column} LIMIT %s)"
            )
            params += [low, high, limit]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return list(dict.fromkeys((int(pk), str(text), bool(via_alias)) for pk, text, via_alias in rows))


def _fuzzy_hits(normalized: str, threshold: float) -> tuple[list[_Hit], tuple[str, NameComparison] | None]:
    if connection.vendor == "postgresql":
        candidates = _trigram_candidates(normalized, threshold)
    else:
        candidates = _prefix_candidates(normalized)
    hits: list[_Hit] = []
    nearest_refused: tuple[str, NameComparison] | None = None
    for account_id, text, via_alias in candidates:
        comparison = compare_names(normalized, text)
        if comparison.agrees and comparison.score >= threshold - 1e-9:
            hits.append(_Hit(account_id, "FUZZY", comparison.score, text, via_alias))
        elif nearest_refused is None or comparison.score > nearest_refused[1].score:
            nearest_refused = (text, comparison)
    return hits, nearest_refused


def _match_company(company: str, normalized: str, threshold: float) -> MatchResult:
    what = f"company '{company}'"
    exact = _exact_hits(normalized)
    if exact:
        return _decide(exact, what=what, threshold=threshold)
    fuzzy, nearest_refused = _fuzzy_hits(normalized, threshold)
    if fuzzy:
        return _decide(fuzzy, what=what, threshold=threshold)
    why = f"no account is named '{normalized}' or has it as an alias, and no name is close enough"
    if nearest_refused is not None:
        text, comparison = nearest_refused
        reason = comparison.why if not comparison.agrees else f"similarity {comparison.score:.2f} < {threshold:.2f}"
        why += f" (nearest: '{text}', refused: {reason})"
    return MatchResult.none(why)


# ---------------------------------------------------------------------------- entry point


def match_account(*, domain: str = "", company: str = "", threshold: int = DEFAULT_THRESHOLD) -> MatchResult:
    """Match a lead (or a lookup) to one account, and say how and why.

    `domain`: an email address, a URL or a host (`bob@mail.ibm.com`, `mail.ibm.com`);
    free-mail hosts are ignored. `company`: the company text as typed. `threshold`: the
    fuzzy score (1-100) a name must reach; exact matches score 1.0.
    """
    fraction = _threshold_fraction(threshold)
    host = host_of(domain) if domain else ""
    normalized = normalize_company(company) if company else ""
    said = "email domain" if "@" in (domain or "") else "domain"
    prelude = ""
    if domain and not host:
        prelude = f"'{domain}' is not a domain"
    elif host and (is_free_mail(host) or is_free_mail(registered_domain(host))):
        prelude = f"{host} is a free-mail provider, so it names no company"
    elif host:
        found = _match_domain(host, said)
        if found is not None:
            result, name, normalized_name = found
            if normalized:
                return _company_against_domain(result, name, normalized_name, company, normalized, fraction)
            return result
        prelude = f"no account has the {said} {host} or a domain it belongs to"
    if not normalized:
        return MatchResult.none(prelude or "nothing to match: no domain and no company were given")
    result = _match_company(company, normalized, fraction)
    if not prelude:
        return result
    return MatchResult(
        result.account_id, result.method, result.score, f"{prelude}; {result.explanation}", result.ambiguous_ids
    )
