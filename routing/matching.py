"""Lead-to-account matching: domain, alias, name, then fuzzy name; precise before complete.

Order, first that finds something wins:

1. DOMAIN: the lead's host or one of its parent domains is a registered account domain
   (`mail.ibm.com` -> `ibm.com`); the longest registered domain wins. One indexed
   `domain IN (...)` query. Free-mail hosts (gmail.com) name no company and are skipped.
2. ALIAS / NAME: the normalised company text equals an account's normalised alias or
   name. Both are exact, so they are one level: when they name different accounts the
   match is ambiguous. An alias hit is reported as ALIAS, as the issue orders them.
3. FUZZY: candidates are read from index ranges, never a scan: the names and aliases
   that sort next to the query, next to it read backwards (a typo cannot spoil both
   halves), or next to it reworded (swapped words); see _probes. Each is compared by
   `compare_names`, which refuses any pair whose words do not pair up one to one
   (`meta financial group` is not `meta platforms`) and scores the rest with rapidfuzz
   against the caller's threshold. (A pg_trgm similarity search over a GIN trigram index
   was measured first: p95 290 ms at a million accounts, see bench/bench_matching.py;
   the sorted neighbours answer in a few milliseconds.)

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
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from leadowner.errors import ErrorCode, ServiceError
from leadowner.lookups import SHORT_LIST, among
from leadowner.prepared import Prepared, statement_cursor
from routing.decision import MatchResult
from routing.models import Account, AccountAlias, AccountDomain
from routing.normalize import domain_with_parents, host_of, is_free_mail, normalize_company, registered_domain
from routing.selectors.accounts import account_by_id, ancestor_ids

DEFAULT_THRESHOLD = 90
# At most this many accounts are read for one exact name or alias (and listed when ambiguous).
EXACT_LIMIT = 20
# Fuzzy scores closer than this to the best count as equally good: that is ambiguous.
TIE_MARGIN = 0.01
# Fuzzy candidates (see _probes): names read on each side of each probe in sorted order,
# how many first characters they must share with the probe, and how much longer or
# shorter than the query they may be.
NEIGHBOURS = 30
MIN_SHARED = 3
LENGTH_SLACK = 4

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
    if not (a + b).isalpha():  # a digit (normalised words are letters and digits only)
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


def name_similarity(query: str, candidate: str) -> float:
    """How alike two normalised names read, 0..1, whatever their words (see compare_names).

    The better of rapidfuzz's `ratio` on the whole names and `token_sort_ratio` on their
    words (word order and filler words ignored); 1.0 for the same words spaced differently.
    """
    left, right = _words(query), _words(candidate)
    if "".join(left) == "".join(right):
        return 1.0
    ratio = max(fuzz.ratio(query, candidate), fuzz.token_sort_ratio(" ".join(left), " ".join(right)))
    return round(ratio / 100, 4)


def compare_names(query: str, candidate: str) -> NameComparison:
    """Compare two normalised company names (see normalize_company).

    The precision rule: every distinctive word must pair up with one of the other name
    (filler words such as `and`, `of` aside), so a name with a word more, a word less or
    a different word is refused whatever its score (`meta financial group` vs `meta
    platforms`, `hewlett packard enterprise` vs `hp`, `acme` vs `acme uk`). Names that
    differ only by spacing (`hewlettpackard`) agree. The score is name_similarity.
    """
    score = name_similarity(query, candidate)
    left, right = _words(query), _words(candidate)
    if "".join(left) == "".join(right):
        return NameComparison(score, True, "the same words, spaced differently")
    if _pair_up(left, right):
        return NameComparison(score, True, "every word pairs up")
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
    return NameComparison(score, False, why)


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


# A lead's own reads ask a few domains or names; a batch's ask hundreds, once each.
_PREPARED_PARAMS = SHORT_LIST


def _select(sql: str, params: list[Any], *, batch: bool = False) -> list[tuple[Any, ...]]:
    """The rows of a written-out statement: the matching reads every lead makes, whose `IN`
    lists vary in length (building and compiling them with the ORM cost more than running them).
    A lead's (few parameters, no LIKE) are kept prepared on PostgreSQL (leadowner.prepared);
    a batch's long lists (`batch`, sent as arrays: leadowner.lookups.among) are run once each
    and planned for their values."""
    use = connection.cursor() if batch or len(params) > _PREPARED_PARAMS else statement_cursor()
    with use as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _names(account_ids: Iterable[int]) -> dict[int, str]:
    """{account id: name}: written out, as every match by name asks it (see _select)."""
    ids = list(account_ids)
    if not ids:
        return {}
    table = connection.ops.quote_name(Account._meta.db_table)
    where, params = among("id", ids, "bigint", short=True)
    rows = _select(f"SELECT id, name FROM {table} WHERE {where}", params, batch=len(ids) > SHORT_LIST)  # noqa: S608 -- names only
    return {int(pk): str(name) for pk, name in rows}


def _listing(ids: list[int], names: dict[int, str], limit: int = 5) -> str:
    shown = ", ".join(f"{names.get(pk, '?')} (id {pk})" for pk in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _decide(hits: list[_Hit], *, what: str, threshold: float, reads: MatchReads) -> MatchResult:
    """One account -> matched; several equally good -> ambiguous, unless one is the ancestor of all."""
    best = max(h.score for h in hits)
    margin = TIE_MARGIN if hits[0].method == "FUZZY" else 0.0
    top: dict[int, _Hit] = {}
    for hit in sorted(hits, key=lambda h: (-h.score, not h.via_alias, h.account_id)):
        if hit.score >= best - margin - 1e-9 and hit.account_id not in top:
            top[hit.account_id] = hit
    ids = sorted(top)
    if len(ids) == 1:
        hit = top[ids[0]]
        # The account whole, which the caller reads next (one lead's reads; a batch reads its
        # accounts together afterwards). An exact NAME hit's text is the account's name as
        # stored (exact_rows reads it); an alias or a fuzzy hit names the account with it.
        account = reads.matched_account(hit.account_id)
        if hit.method == "NAME":
            name = hit.text
        elif account is not None:
            name = account.name
        else:
            name = reads.names(ids)[hit.account_id]
        why = _why(hit, name, what, threshold)
        return MatchResult(hit.account_id, hit.method, hit.score, why, account=account)
    names = reads.names(ids)
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


def _domain_query(domains: list[str]) -> QuerySet[AccountDomain]:
    return AccountDomain.objects.filter(domain__in=domains).select_related("account").order_by()


# A host and its parents are a handful of domains: one prepared statement per count (leadowner.prepared).
_DOMAIN_ACCOUNTS: dict[int, Prepared[AccountDomain]] = {}
_PREPARED_DOMAINS = 8


def _domain_rows(domains: list[str]) -> list[tuple[str, Account]]:
    """(domain, its account) of the registered domains among `domains`: one indexed statement.

    Every lead and every ownerOf by domain asks it. The account comes whole with its domain
    (MatchResult.account), so that routing and the lookup do not read it again; the
    statement is compiled once per number of domains.
    """
    n = len(domains)
    if n > _PREPARED_DOMAINS:  # a batch's: one array (leadowner.lookups)
        rows = list(AccountDomain.objects.filter(domain__any_of=domains).select_related("account").order_by())
    else:
        prepared = _DOMAIN_ACCOUNTS.get(n)
        if prepared is None:
            prepared = _DOMAIN_ACCOUNTS.setdefault(n, Prepared(lambda *ds: _domain_query(list(ds)), (str,) * n))
        rows = prepared(*domains)
    return [(row.domain, row.account) for row in rows]


def _match_domain(host: str, said: str, reads: MatchReads) -> MatchResult | None:
    """The account of the longest registered domain among the host and its parents."""
    candidates = domain_with_parents(host)
    if not candidates:
        return None
    rows = reads.domain_rows(candidates)
    if not rows:
        return None
    domain, account = max(rows, key=lambda row: len(row[0]))
    if domain == host:
        why = f"{said} {host} is a domain of {account.name}"
    else:
        why = f"{said} {host} is a sub-domain of {domain}, a domain of {account.name}"
    return MatchResult(account.pk, "DOMAIN", 1.0, why, account=account)


# Every lead with both a domain and a company asks it: compiled once (leadowner.prepared).
# Ordered by position alone: the model's ordering ("account", "position") would join every
# alias to its account to sort by the account's name, for rows of one account.
_NORMALIZED_ALIASES = Prepared(
    lambda account_id: (
        AccountAlias.objects.filter(account_id=account_id).order_by("position").values_list("normalized_alias")
    ),
    (int,),
)


def _company_against_domain(
    result: MatchResult,
    company: str,
    normalized: str,
    threshold: float,
    reads: MatchReads,
) -> MatchResult:
    """The domain decided; say whether the company text agrees with it or names another account."""
    account = result.account
    assert account is not None and result.account_id == account.pk
    own = [account.normalized_name, *reads.normalized_aliases(account.pk)]
    if normalized in own or any((c := compare_names(normalized, text)).agrees and c.score >= threshold for text in own):
        agrees = f"{result.explanation}; company '{company}' agrees"
        return MatchResult(account.pk, "DOMAIN", 1.0, agrees, account=account)
    other_ids = sorted({h.account_id for h in _exact_hits(normalized, reads)} - {result.account_id})
    if other_ids:
        names = reads.names(other_ids)
        said = f"company '{company}' names {_listing(other_ids, names)} instead"
    else:
        said = f"company '{company}' is not a name of {account.name}"
    decides = f"{result.explanation}; {said}, and the domain decides"
    return MatchResult(account.pk, "DOMAIN", 1.0, decides, account=account)


# ---------------------------------------------------------------------------- company


def _exact_rows(*texts: str) -> list[tuple[int, str, str, bool]]:
    """(account id, alias or name, its normalised form, is an alias) for each account whose
    normalised alias or name is one of `texts`: one indexed statement."""
    if not texts:
        return []
    alias = connection.ops.quote_name(AccountAlias._meta.db_table)
    account = connection.ops.quote_name(Account._meta.db_table)
    marks = ", ".join(["%s"] * len(texts))
    sql = (
        f"SELECT * FROM (SELECT account_id, alias, normalized_alias, 1 FROM {alias} "  # noqa: S608 -- names only
        f"WHERE normalized_alias IN ({marks}) ORDER BY account_id LIMIT {int(EXACT_LIMIT)}) AS aliases "
        f"UNION ALL SELECT * FROM (SELECT id, name, normalized_name, 0 FROM {account} "
        f"WHERE normalized_name IN ({marks}) ORDER BY id LIMIT {int(EXACT_LIMIT)}) AS names"
    )
    # The limits are written in the SQL, not bound: a kept generic plan would guess a bound
    # LIMIT at a tenth of the rows (here and in the neighbours).
    rows = _select(sql, [*texts, *texts])
    return [(int(pk), str(text), str(norm), bool(alias)) for pk, text, norm, alias in rows]


def _exact_hits(normalized: str, reads: MatchReads) -> list[_Hit]:
    return [
        _Hit(pk, "ALIAS" if via_alias else "NAME", 1.0, text, via_alias)
        for pk, text, _normalized, via_alias in reads.exact_rows(normalized)
    ]


@dataclass(frozen=True)
class _Probe:
    """A place in sorted order to read neighbours from: the query, reversed or reworded."""

    text: str
    from_end: bool  # sorted by the reversed text (PostgreSQL's reverse() index)
    tables: tuple[str, ...]  # which of "name", "alias" to probe


def _probes(normalized: str, *, reversed_index: bool) -> list[_Probe]:
    """Where names within an edit or two of the query sit in sorted order.

    A typo in the second half of the query leaves the first half intact, so the name
    sorts next to the query; a typo in the first half leaves the second half intact, so
    the name sorts next to the query when both are read backwards (PostgreSQL only: an
    index on reverse(name)). Swapped words keep their spelling: the query reworded to
    start with each of its next words sorts next to the name.
    """
    probes = [_Probe(normalized, False, ("name", "alias"))]
    if reversed_index:
        probes.append(_Probe(normalized[::-1], True, ("name", "alias")))
    words = list(dict.fromkeys(_words(normalized)))
    for word in words[1:3]:
        rest = [w for w in words if w != word]
        probes.append(_Probe(" ".join([word, *rest]), False, ("name",)))
    return probes


def _successor(prefix: str) -> str | None:
    """The least text above every text that starts with `prefix`, in code point order (which
    is UTF-8's byte order: PostgreSQL's pattern operators and SQLite's binary collation
    compare so); None when there is none (the prefix is all U+10FFFF)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code == 0xD800:  # surrogates are no characters: UTF-8 cannot carry them
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


_COLUMNS = {
    "name": (Account, "id", "normalized_name", 0),
    "alias": (AccountAlias, "account_id", "normalized_alias", 1),
}


# How each side of a probe is read: (at or above the probe, below the next prefix, in order;
# below the probe, at or above the prefix, in reverse order). PostgreSQL: the pattern
# operators, which its text_pattern_ops indexes serve; SQLite: its binary b-tree order.
_SIDES = {
    "postgresql": (("~>=~", "~<~", "USING ~<~"), ("~<~", "~>=~", "USING ~>~")),
    "sqlite": ((">=", "<", "ASC"), ("<", ">=", "DESC")),
}


def _neighbour_candidates(normalized: str) -> list[tuple[int, str, bool]]:
    """Fuzzy candidates: the NEIGHBOURS names and aliases on each side of each probe.

    Each read is an index range in index order with a LIMIT (PostgreSQL: the pattern
    indexes, `~>=~` and `ORDER BY ... USING ~<~`, so the order is the bytes' order whatever
    the database collation; SQLite: the b-tree in its binary order), kept to texts that
    share the probe's first MIN_SHARED characters by both bounds of the range (not by a
    `LIKE`, which only a plan made for its value turns into index bounds). One statement for
    all of them, kept prepared on PostgreSQL (leadowner.prepared): the planning had been half
    its time. Never a scan. (Candidates much longer or shorter than the query are dropped
    afterwards: as a condition in SQL it misled PostgreSQL's row estimates into sorting whole
    ranges.)
    """
    postgres = connection.vendor == "postgresql"
    ascending, descending = _SIDES["postgresql" if postgres else "sqlite"]
    parts: list[str] = []
    params: list[str | int] = []
    for probe in _probes(normalized, reversed_index=postgres):
        shared = probe.text[:MIN_SHARED]
        upper = _successor(shared)
        for table_key in probe.tables:
            model, key, column, via_alias = _COLUMNS[table_key]
            table = connection.ops.quote_name(model._meta.db_table)
            sort = f"reverse({column})" if probe.from_end else column
            for (start, bound, order), edge in ((ascending, upper), (descending, shared)):
                where = f"{sort} {start} %s"
                params.append(probe.text)
                if edge is not None:
                    where += f" AND {sort} {bound} %s"
                    params.append(edge)
                select = (
                    f"SELECT {key}, {column}, {via_alias} FROM {table} "  # noqa: S608 -- names only
                    f"WHERE {where} ORDER BY {sort} {order} LIMIT {int(NEIGHBOURS)}"
                )
                parts.append(f"({select})" if postgres else f"SELECT * FROM ({select})")  # noqa: S608
    with statement_cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    return list(dict.fromkeys((int(pk), str(text), bool(via_alias)) for pk, text, via_alias in rows))


def _fuzzy_hits(normalized: str, threshold: float) -> tuple[list[_Hit], tuple[str, NameComparison] | None]:
    hits: list[_Hit] = []
    nearest_refused: tuple[str, float] | None = None
    low, high = len(normalized) - LENGTH_SLACK, len(normalized) + LENGTH_SLACK
    for account_id, text, via_alias in _neighbour_candidates(normalized):
        if not low <= len(text) <= high:
            continue
        score = name_similarity(normalized, text)
        # The cheap score first: the word-by-word guard only for names that reach the threshold.
        if score >= threshold - 1e-9 and compare_names(normalized, text).agrees:
            hits.append(_Hit(account_id, "FUZZY", score, text, via_alias))
        elif nearest_refused is None or score > nearest_refused[1]:
            nearest_refused = (text, score)
    if hits:
        # The neighbours are a window: accounts spelled exactly like a winner may sit outside
        # it. Read them all, so that two accounts with the same name are seen as a tie.
        best = max(h.score for h in hits)
        tied = {h.text: h.score for h in hits if h.score >= best - TIE_MARGIN - 1e-9}
        for pk, _text, normalized_text, via_alias in _exact_rows(*tied):
            hits.append(_Hit(pk, "FUZZY", tied[normalized_text], normalized_text, via_alias))
    refused = (nearest_refused[0], compare_names(normalized, nearest_refused[0])) if nearest_refused else None
    return hits, refused


def _match_company(company: str, normalized: str, threshold: float, reads: MatchReads) -> MatchResult:
    what = f"company '{company}'"
    exact = _exact_hits(normalized, reads)
    if exact:
        return _decide(exact, what=what, threshold=threshold, reads=reads)
    fuzzy, nearest_refused = _fuzzy_hits(normalized, threshold)
    if fuzzy:
        return _decide(fuzzy, what=what, threshold=threshold, reads=reads)
    why = f"no account is named '{normalized}' or has it as an alias, and no name is close enough"
    if nearest_refused is not None:
        text, comparison = nearest_refused
        reason = comparison.why if not comparison.agrees else f"similarity {comparison.score:.2f} < {threshold:.2f}"
        why += f" (nearest: '{text}', refused: {reason})"
    return MatchResult.none(why)


# ---------------------------------------------------------------------------- reads


class MatchReads:
    """The reads matching makes, each a statement when asked: one lead (or lookup) at a time."""

    def domain_rows(self, domains: list[str]) -> list[tuple[str, Account]]:
        return _domain_rows(domains)

    def normalized_aliases(self, account_id: int) -> list[str]:
        return [alias for (alias,) in _NORMALIZED_ALIASES(account_id)]

    def exact_rows(self, normalized: str) -> list[tuple[int, str, str, bool]]:
        return _exact_rows(normalized)

    def matched_account(self, account_id: int) -> Account | None:
        """The account a company matched, whole (MatchResult.account): the caller needs it next."""
        return account_by_id(account_id)

    def names(self, account_ids: Iterable[int]) -> dict[int, str]:
        return _names(account_ids)


_ONE_BY_ONE = MatchReads()
# Longest IN list one statement of BatchMatchReads sends (SQLite binds at most 32,766 values).
_BATCH_IN = 5000


def _in_chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), _BATCH_IN):
        yield items[start : start + _BATCH_IN]


class BatchMatchReads(MatchReads):
    """What matching a batch of leads reads, read up front: a statement per kind for the batch.

    `queries`: each lead's (email or domain, company), as match_account gets them. The
    domains registered for every lead's host and its parents, the aliases of the accounts
    they name, the accounts whose normalised alias or name is some lead's company (at
    most EXACT_LIMIT per text, as one lead reads them) and those accounts' names. Answers
    are the rows one-lead reads return; anything not read up front (the fuzzy neighbours,
    an ambiguity's family, a lead outside the batch) is read as one lead reads it.
    """

    def __init__(self, queries: Iterable[tuple[str, str]]) -> None:
        hosts: set[str] = set()
        texts: set[str] = set()
        for domain, company in queries:
            host = host_of(domain) if domain else ""
            if host and not (is_free_mail(host) or is_free_mail(registered_domain(host))):
                hosts.update(domain_with_parents(host))
            normalized = normalize_company(company) if company else ""
            if normalized:
                texts.add(normalized)
        self._asked_domains = hosts
        self._domains: dict[str, list[tuple[str, Account]]] = {}
        for chunk in _in_chunks(hosts):
            for row in _domain_rows(chunk):
                self._domains.setdefault(row[0], []).append(row)
        matched = {account.pk for rows in self._domains.values() for _domain, account in rows}
        self._aliases: dict[int, list[str]] = {pk: [] for pk in matched}
        alias = connection.ops.quote_name(AccountAlias._meta.db_table)
        account = connection.ops.quote_name(Account._meta.db_table)
        for chunk in _in_chunks(matched):
            where, params = among("account_id", chunk, "bigint")
            sql = f"SELECT account_id, normalized_alias FROM {alias} WHERE {where}"  # noqa: S608
            for pk, text in _select(sql, params, batch=True):
                self._aliases[int(pk)].append(str(text))
        self._asked_texts = texts
        self._exact: dict[str, list[tuple[int, str, str, bool]]] = {}
        for chunk in _in_chunks(texts):
            by_alias, alias_params = among("normalized_alias", chunk, "varchar")
            by_name, name_params = among("normalized_name", chunk, "varchar")
            sql = (
                f"SELECT account_id, alias, normalized_alias, 1 FROM (SELECT account_id, alias, "  # noqa: S608
                f"normalized_alias, row_number() OVER (PARTITION BY normalized_alias ORDER BY account_id) AS n "
                f"FROM {alias} WHERE {by_alias}) AS aliases WHERE n <= %s "
                f"UNION ALL SELECT id, name, normalized_name, 0 FROM (SELECT id, name, normalized_name, "
                f"row_number() OVER (PARTITION BY normalized_name ORDER BY id) AS n "
                f"FROM {account} WHERE {by_name}) AS names WHERE n <= %s"
            )
            params = [*alias_params, EXACT_LIMIT, *name_params, EXACT_LIMIT]
            for pk, text, norm, via_alias in _select(sql, params, batch=True):
                self._exact.setdefault(str(norm), []).append((int(pk), str(text), str(norm), bool(via_alias)))
        for rows in self._exact.values():
            rows.sort(key=lambda row: (not row[3], row[0]))  # aliases, then names, each by account
        self._names: dict[int, str] = {}
        for chunk in _in_chunks(pk for rows in self._exact.values() for pk, *_rest in rows):
            self._names.update(_names(chunk))
        for domain_rows in self._domains.values():
            self._names.update((account.pk, account.name) for _domain, account in domain_rows)

    def domain_rows(self, domains: list[str]) -> list[tuple[str, Account]]:
        if not self._asked_domains.issuperset(domains):
            return super().domain_rows(domains)
        return [row for domain in domains for row in self._domains.get(domain, ())]

    def normalized_aliases(self, account_id: int) -> list[str]:
        if account_id not in self._aliases:
            return super().normalized_aliases(account_id)
        return list(self._aliases[account_id])

    def exact_rows(self, normalized: str) -> list[tuple[int, str, str, bool]]:
        if normalized not in self._asked_texts:
            return super().exact_rows(normalized)
        return list(self._exact.get(normalized, ()))

    def names(self, account_ids: Iterable[int]) -> dict[int, str]:
        ids = list(account_ids)
        missing = [pk for pk in ids if pk not in self._names]
        found = {pk: self._names[pk] for pk in ids if pk in self._names}
        if missing:
            found.update(super().names(missing))
        return found

    def matched_account(self, account_id: int) -> Account | None:
        """None: a batch reads its matched accounts together (routing.reads.BatchReads), and
        names them from the names read up front."""
        return None


# ---------------------------------------------------------------------------- entry point


def match_account(
    *, domain: str = "", company: str = "", threshold: int = DEFAULT_THRESHOLD, reads: MatchReads | None = None
) -> MatchResult:
    """Match a lead (or a lookup) to one account, and say how and why.

    `domain`: an email address, a URL or a host (`bob@mail.ibm.com`, `mail.ibm.com`);
    free-mail hosts are ignored. `company`: the company text as typed. `threshold`: the
    fuzzy score (1-100) a name must reach; exact matches score 1.0. `reads`: BatchMatchReads
    when a batch of leads is matched; each read is a statement otherwise.
    """
    reads = reads if reads is not None else _ONE_BY_ONE
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
        result = _match_domain(host, said, reads)
        if result is not None:
            if normalized:
                return _company_against_domain(result, company, normalized, fraction, reads)
            return result
        prelude = f"no account has the {said} {host} or a domain it belongs to"
    if not normalized:
        return MatchResult.none(prelude or "nothing to match: no domain and no company were given")
    result = _match_company(company, normalized, fraction, reads)
    if not prelude:
        return result
    return replace(result, explanation=f"{prelude}; {result.explanation}")  # the account it read comes along
