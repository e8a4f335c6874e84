"""Territory matching: which territory's hard criteria a lead meets, and which one wins.

Criteria are the `match` block of territories.yaml, stored on Territory.criteria:
`countries`, `subdivisions`, `cities`, `postal_prefixes`, `industries` (lists: any
value), `employees` and `annual_revenue` (`{min, max}`, both inclusive). Every key
given must hold. A child territory inherits its parent's criteria: it matches a lead
only when every territory up its chain matches too.

Specificity, highest wins (then priority, higher wins):

1. how many different keys constrain the lead (inherited keys count);
2. how narrow the geography is: city or postal prefix > subdivision > country > none;
3. how few values the narrowest geographic key allows (`[IL]` beats the 30 EMEA countries);
4. depth in the hierarchy.

Every component can only grow (or stay) from a parent to its child, and depth always
grows, so a child is always more specific than its parent.

Pure functions over already-loaded Territory rows: no query is made here beyond
what the caller prefetched (`parent` is looked up among the territories passed in).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from unidecode import unidecode

LIST_KEYS = ("countries", "subdivisions", "cities", "postal_prefixes", "industries")
RANGE_KEYS = ("employees", "annual_revenue")
KNOWN_KEYS = LIST_KEYS + RANGE_KEYS

# (keys constrained, geography level, -values in the narrowest geographic key, depth)
Specificity = tuple[int, int, int, int]

# Geography levels, narrowest highest.
_GEO_LEVEL = {"cities": 3, "postal_prefixes": 3, "subdivisions": 2, "countries": 1}

# What people type for a few big cities; compared after folding.
_CITY_SYNONYMS = {
    "nyc": "new york",
    "new york city": "new york",
    "ny city": "new york",
    "la": "los angeles",
    "sf": "san francisco",
    "frankfurt am main": "frankfurt",
    "munchen": "munich",
    "koln": "cologne",
}


class TerritoryLike(Protocol):
    """What matching needs of a territory (a territories.models.Territory row)."""

    pk: Any
    name: str
    priority: int
    criteria: Any
    parent_id: Any
    position: int


@dataclass(frozen=True)
class Facts:
    """What routing knows about a lead when territory rules run (after enrichment)."""

    country: str = ""
    subdivision: str = ""
    city: str = ""
    postal_code: str = ""
    industry: str = ""
    employees: int | None = None
    annual_revenue: int | None = None


@dataclass
class TerritoryChoice:
    territory: Any  # the winning Territory, or None
    considered: list[str] = field(default_factory=list)
    # Territories that tied with the winner on specificity and priority (reported, not hidden).
    tied: list[Any] = field(default_factory=list)
    matched_on: str = ""  # "city New York", in words, for the trace


@lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Case- and accent-insensitive form: `Montréal ` -> `montreal`.

    Cached: territory criteria and account facts repeat the same few hundred words (industries,
    cities) across every territory tried for every account of a bulk placement.
    """
    return " ".join(unidecode(text or "").casefold().split())


@lru_cache(maxsize=65_536)
def fold_city(text: str) -> str:
    folded = fold(text).replace(".", "")
    return _CITY_SYNONYMS.get(folded, folded)


def _values(criteria: dict[str, Any], key: str) -> list[str]:
    raw = criteria.get(key)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    return [str(v) for v in raw if str(v).strip()]


def _range(criteria: dict[str, Any], key: str) -> tuple[float | None, float | None] | None:
    raw = criteria.get(key)
    if not isinstance(raw, dict):
        return None
    low, high = raw.get("min"), raw.get("max")
    if low is None and high is None:
        return None
    return (None if low is None else float(low), None if high is None else float(high))


def constrained_keys(criteria: dict[str, Any]) -> list[str]:
    """The keys that actually constrain (an empty list or range constrains nothing)."""
    keys = [k for k in LIST_KEYS if _values(criteria, k)]
    keys += [k for k in RANGE_KEYS if _range(criteria, k) is not None]
    return keys


@dataclass(frozen=True)
class CompiledCriteria:
    """A territory's hard criteria, parsed and folded once: `match` is criteria_match's answer."""

    countries: frozenset[str]
    subdivisions: frozenset[str]
    cities: frozenset[str]
    prefixes: tuple[str, ...]
    industries: frozenset[str]
    ranges: tuple[tuple[str, float | None, float | None], ...]
    words: str = field(default="every lead", compare=False)  # criteria_in_words, for "does not match" lines

    def match(self, facts: Facts) -> bool:
        if self.countries and facts.country.upper() not in self.countries:
            return False
        if self.subdivisions and facts.subdivision.upper() not in self.subdivisions:
            return False
        if self.cities and (not facts.city or fold_city(facts.city) not in self.cities):
            return False
        if self.prefixes:
            postal = facts.postal_code.replace(" ", "").upper()
            if not postal or not any(postal.startswith(p) for p in self.prefixes):
                return False
        if self.industries and (not facts.industry or fold(facts.industry) not in self.industries):
            return False
        for key, low, high in self.ranges:
            value = facts.employees if key == "employees" else facts.annual_revenue
            if value is None:
                return False
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True


def compile_criteria(criteria: dict[str, Any] | None) -> CompiledCriteria:
    criteria = criteria or {}
    ranges = []
    for key in ("employees", "annual_revenue"):
        bounds = _range(criteria, key)
        if bounds is not None:
            ranges.append((key, bounds[0], bounds[1]))
    return CompiledCriteria(
        countries=frozenset(c.upper() for c in _values(criteria, "countries")),
        subdivisions=frozenset(s.upper() for s in _values(criteria, "subdivisions")),
        cities=frozenset(fold_city(c) for c in _values(criteria, "cities")),
        prefixes=tuple(p.replace(" ", "").upper() for p in _values(criteria, "postal_prefixes")),
        industries=frozenset(fold(i) for i in _values(criteria, "industries")),
        ranges=tuple(ranges),
        words=criteria_in_words(criteria),
    )


def compiled_criteria(territory: TerritoryLike) -> CompiledCriteria:
    """The territory's criteria compiled, kept on the instance for as long as its `criteria`
    is the same object (assigning new criteria compiles again; the dict is never edited in
    place). Routing one lead reads the same territories for every lead (routing.engine keeps
    their values per process): this saves compiling 100 territories per lead."""
    cached = getattr(territory, "_compiled_criteria", None)
    if cached is not None and cached[0] is territory.criteria:
        return cached[1]  # type: ignore[no-any-return]
    compiled = compile_criteria(territory.criteria)
    keep_compiled(territory, compiled)
    return compiled


def keep_compiled(territory: TerritoryLike, compiled: CompiledCriteria) -> None:
    """Keep `compiled` (the territory's criteria compiled elsewhere, e.g. once per process) for
    compiled_criteria, for as long as the territory's `criteria` is the same object."""
    with suppress(AttributeError):  # a frozen stand-in (tests, previews) is compiled every time
        territory._compiled_criteria = (territory.criteria, compiled)  # type: ignore[attr-defined]


def criteria_match(criteria: dict[str, Any], facts: Facts) -> bool:
    """Every key given must hold; within a key any value will do. A missing fact fails its key."""
    return compile_criteria(criteria).match(facts)


def territory_chains(territories: Iterable[TerritoryLike]) -> dict[Any, list[TerritoryLike]]:
    """Each territory's chain (itself, then its parents), by id: find_territory's `chains`."""
    items = list(territories)
    by_id = {t.pk: t for t in items}
    return {t.pk: _chain(t, by_id) for t in items}


def _chain(territory: TerritoryLike, by_id: Mapping[Any, TerritoryLike]) -> list[TerritoryLike]:
    """The territory and its ancestors (among those given), nearest first; cycles cut."""
    chain = [territory]
    seen = {territory.pk}
    parent_id = territory.parent_id
    while parent_id is not None and parent_id in by_id and parent_id not in seen:
        parent = by_id[parent_id]
        chain.append(parent)
        seen.add(parent_id)
        parent_id = parent.parent_id
    return chain


def specificity(criteria: dict[str, Any], *, inherited: Sequence[dict[str, Any]] = (), depth: int = 0) -> Specificity:
    """How specific a territory is (bigger is more specific); see the module docstring.

    `inherited`: the criteria of its ancestors, which also apply; `depth`: how many.
    """
    chain = [criteria or {}, *[c or {} for c in inherited]]
    keys: set[str] = set()
    for c in chain:
        keys.update(constrained_keys(c))
    geo_level = max((_GEO_LEVEL[k] for k in keys if k in _GEO_LEVEL), default=0)
    narrowest = [k for k in keys if _GEO_LEVEL.get(k) == geo_level]
    widths = [len(_values(c, k)) for c in chain for k in narrowest if _values(c, k)]
    width = min(widths) if widths else 0
    return (len(keys), geo_level, -width, depth)


def territory_specificity(territory: TerritoryLike, by_id: Mapping[Any, TerritoryLike]) -> Specificity:
    chain = _chain(territory, by_id)
    return specificity(chain[0].criteria, inherited=[t.criteria for t in chain[1:]], depth=len(chain) - 1)


def _matched_on(chain: list[TerritoryLike], facts: Facts) -> str:
    """The narrowest facts the chain checked, in words ("city New York")."""
    keys: set[str] = set()
    for t in chain:
        keys.update(constrained_keys(t.criteria or {}))
    parts = []
    if "cities" in keys:
        parts.append(f"city {facts.city}")
    if "postal_prefixes" in keys:
        parts.append(f"postal code {facts.postal_code}")
    if "subdivisions" in keys and not parts:
        parts.append(f"subdivision {facts.subdivision}")
    if "countries" in keys and not parts:
        parts.append(f"country {facts.country}")
    if "industries" in keys:
        parts.append(f"industry {facts.industry}")
    if "employees" in keys:
        parts.append(f"{facts.employees:,} employees")
    if "annual_revenue" in keys:
        parts.append(f"annual revenue {facts.annual_revenue:,}")
    return ", ".join(parts) if parts else "no criteria (matches every lead)"


def describe(territory: TerritoryLike, by_id: Mapping[Any, TerritoryLike]) -> str:
    """`'NYC' (child of 'US East')`."""
    parent = by_id.get(territory.parent_id) if territory.parent_id is not None else None
    return f"'{territory.name}' (child of '{parent.name}')" if parent is not None else f"'{territory.name}'"


class TerritoryIndex:
    """A territory map prepared for finding the territory of many leads or accounts: each
    territory's chain of parents and compiled criteria, worked out once, and for each country
    the territories whose whole chain admits it, so a lead from France is checked against
    the handful of territories that can take French leads, not every territory of the map."""

    def __init__(self, territories: Iterable[TerritoryLike]) -> None:
        self.items = list(territories)
        self.by_id = {t.pk: t for t in self.items}
        self.chains = {t.pk: _chain(t, self.by_id) for t in self.items}
        self.compiled = {t.pk: compiled_criteria(t) for t in self.items}
        self.specificity = {t.pk: territory_specificity(t, self.by_id) for t in self.items}
        anywhere: list[int] = []  # positions of territories no country constrains
        by_country: dict[str, list[int]] = {}
        for position, t in enumerate(self.items):
            sets = [self.compiled[c.pk].countries for c in self.chains[t.pk] if self.compiled[c.pk].countries]
            if not sets:
                anywhere.append(position)
                continue
            for country in frozenset.intersection(*sets):
                by_country.setdefault(country, []).append(position)
        self._anywhere = [self.items[i] for i in anywhere]
        self._by_country = {
            country: [self.items[i] for i in sorted({*positions, *anywhere})]
            for country, positions in by_country.items()
        }

    def candidates(self, facts: Facts) -> list[TerritoryLike]:
        """The territories (in map order) that can match these facts as far as the country goes:
        CompiledCriteria.match refuses the others whatever the other facts."""
        return self._by_country.get(facts.country.upper(), self._anywhere)


def find_territory(
    territories: Iterable[TerritoryLike],
    facts: Facts,
    *,
    explain: bool = True,
    misses: bool = True,
    chains: Mapping[Any, list[TerritoryLike]] | None = None,
    compiled: Mapping[Any, CompiledCriteria] | None = None,
    index: TerritoryIndex | None = None,
) -> TerritoryChoice:
    """The most specific matching territory, then the highest priority; ties are reported.

    `explain=False` (bulk placement, where nobody reads the words) leaves out what was
    considered and matched on: the same territory and ties, without the sentences.
    `misses=False` keeps the sentences about the territories that match (what routing's
    trace says) and leaves out one per territory that does not.
    `chains` (each territory's chain of parents, by id: territory_chains) and `compiled`
    (each territory's criteria parsed once, by id: compile_criteria) save working them out
    again for every lead or account of a bulk placement. `index` (a TerritoryIndex of these
    territories, which it then reads instead of `territories`) gives both, and unless every
    miss is to be explained, checks only the territories the facts' country admits.
    """
    if index is not None:
        items = index.candidates(facts) if not (explain and misses) else index.items
        by_id, chains, compiled = index.by_id, index.chains, index.compiled
    else:
        items = list(territories)
        by_id = {t.pk: t for t in items}
    if compiled is None:
        compiled = {t.pk: compiled_criteria(t) for t in items}
    matches: list[tuple[Specificity, int, TerritoryLike, list[TerritoryLike]]] = []
    considered: list[str] = []
    for t in items:
        chain = chains[t.pk] if chains is not None else _chain(t, by_id)
        failed = next((c for c in chain if not compiled[c.pk].match(facts)), None)
        if failed is None:
            spec = index.specificity[t.pk] if index is not None else territory_specificity(t, by_id)
            matches.append((spec, t.priority, t, chain))
        elif not (explain and misses):
            continue
        elif failed is t:
            considered.append(f"'{t.name}' does not match ({compiled[t.pk].words})")
        else:
            considered.append(f"'{t.name}' does not match: its parent '{failed.name}' does not")
    if not matches:
        return TerritoryChoice(territory=None, considered=considered)
    matches.sort(key=lambda m: (m[0], m[1], -m[2].position, -_pk_order(m[2])), reverse=True)
    best_spec, best_priority, best, chain = matches[0]
    tied = [m[2] for m in matches[1:] if m[0] == best_spec and m[1] == best_priority]
    if not explain:
        return TerritoryChoice(territory=best, considered=[], tied=tied)
    for spec, priority, t, _ in matches[1:]:
        if t in tied:
            continue
        why = "less specific" if spec < best_spec else f"lower priority ({priority} < {best_priority})"
        considered.append(f"{describe(t, by_id)} also matches but is {why}")
    return TerritoryChoice(territory=best, considered=considered, tied=tied, matched_on=_matched_on(chain, facts))


def _pk_order(t: TerritoryLike) -> int:
    return t.pk if isinstance(t.pk, int) else 0


# --- overlap between two territories, for find_ambiguities -------------------------------


def _merge_prefixes(a: list[str], b: list[str]) -> list[str]:
    """Postal codes that start with one of `a` and one of `b`: the longer of each compatible pair."""
    out = set()
    for x in a:
        for y in b:
            if x.startswith(y):
                out.add(x)
            elif y.startswith(x):
                out.add(y)
    return sorted(out)


def _overlap(chains: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The criteria a lead must meet to satisfy every criteria dict given; None when none can."""
    merged: dict[str, Any] = {}
    for c in chains:
        for key in ("countries", "subdivisions", "industries"):
            vals = _values(c, key)
            if not vals:
                continue
            norm = {fold(v) if key == "industries" else v.upper(): v for v in vals}
            if key in merged:
                norm = {k: v for k, v in merged[key].items() if k in norm}
            merged[key] = norm
        cities = _values(c, "cities")
        if cities:
            norm = {fold_city(v): v for v in cities}
            merged["cities"] = {k: v for k, v in merged["cities"].items() if k in norm} if "cities" in merged else norm
        prefixes = [p.replace(" ", "").upper() for p in _values(c, "postal_prefixes")]
        if prefixes:
            merged["postal_prefixes"] = (
                _merge_prefixes(merged["postal_prefixes"], prefixes) if "postal_prefixes" in merged else prefixes
            )
        for key in RANGE_KEYS:
            bounds = _range(c, key)
            if bounds is None:
                continue
            low, high = merged.get(key, (None, None))
            new_low = bounds[0] if low is None else (low if bounds[0] is None else max(low, bounds[0]))
            new_high = bounds[1] if high is None else (high if bounds[1] is None else min(high, bounds[1]))
            merged[key] = (new_low, new_high)
    # A subdivision implies its country (US-NY is in US).
    if "subdivisions" in merged and "countries" in merged:
        merged["subdivisions"] = {
            k: v for k, v in merged["subdivisions"].items() if k.split("-", 1)[0] in merged["countries"]
        }
    for key, value in merged.items():
        if key in RANGE_KEYS:
            low, high = value
            if low is not None and high is not None and low > high:
                return None
        elif not value:
            return None
    out: dict[str, Any] = {}
    for key, value in merged.items():
        if key in RANGE_KEYS:
            out[key] = {k: v for k, v in (("min", value[0]), ("max", value[1])) if v is not None}
        elif key == "postal_prefixes":
            out[key] = list(value)
        else:
            out[key] = list(value.values())
    if "subdivisions" in out:
        out.pop("countries", None)
    return out


def _region_in_words(region: dict[str, Any]) -> str:
    parts = []
    if region.get("cities"):
        parts.append("in " + _or(region["cities"]))
    elif region.get("subdivisions"):
        parts.append("in " + _or(region["subdivisions"]))
    elif region.get("countries"):
        parts.append("in " + _or(region["countries"]))
    if region.get("postal_prefixes"):
        parts.append("with postal codes starting " + _or(region["postal_prefixes"]))
    if region.get("industries"):
        parts.append("in " + _or(region["industries"]))
    if region.get("employees"):
        parts.append("with " + _range_words(region["employees"], "employees"))
    if region.get("annual_revenue"):
        parts.append("with " + _range_words(region["annual_revenue"], "annual revenue"))
    return " ".join(parts) if parts else "anywhere"


def find_ambiguities(territories: Iterable[TerritoryLike]) -> list[str]:
    """Pairs of territories a lead could match with nothing to choose between them.

    Two territories are ambiguous when they are equally specific, have the same
    priority, and their (inherited) criteria overlap: some lead meets both.
    """
    items = list(territories)
    by_id = {t.pk: t for t in items}
    info = []
    for t in items:
        chain = _chain(t, by_id)
        info.append((t, territory_specificity(t, by_id), [c.criteria or {} for c in chain]))
    problems = []
    for i, (a, spec_a, crit_a) in enumerate(info):
        for b, spec_b, crit_b in info[i + 1 :]:
            if spec_a != spec_b or a.priority != b.priority:
                continue
            region = _overlap(crit_a + crit_b)
            if region is None:
                continue
            problems.append(
                f"'{a.name}' and '{b.name}' are equally specific with priority {a.priority} and both match "
                f"leads {_region_in_words(region)}; give one a higher priority or narrow its criteria"
            )
    return problems


# --- criteria in words ----------------------------------------------------------------------


def _or(values: Sequence[Any]) -> str:
    values = [str(v) for v in values]
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _range_words(bounds: dict[str, Any], noun: str) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    if noun == "employees":
        if low is not None and high is not None:
            return f"{_num(low)}–{_num(high)} employees"
        if low is not None:
            return f"{_num(low)}+ employees"
        return f"up to {_num(high)} employees" if high is not None else "any number of employees"
    if low is not None and high is not None:
        return f"{noun} {_num(low)}–{_num(high)}"
    if low is not None:
        return f"{noun} {_num(low)} or more"
    return f"{noun} up to {_num(high)}" if high is not None else f"any {noun}"


def criteria_in_words(criteria: dict[str, Any]) -> str:
    """`country is US or CA; subdivision is CA-QC; 2,000+ employees`; `every lead` when empty."""
    criteria = criteria or {}
    parts = []
    labels = (
        ("countries", "country is "),
        ("subdivisions", "subdivision is "),
        ("cities", "city is "),
        ("postal_prefixes", "postal code starts with "),
        ("industries", "industry is "),
    )
    for key, label in labels:
        vals = _values(criteria, key)
        if vals:
            parts.append(label + _or(vals))
    for key, noun in (("employees", "employees"), ("annual_revenue", "annual revenue")):
        if _range(criteria, key) is not None:
            parts.append(_range_words(criteria[key], noun))
    return "; ".join(parts) if parts else "every lead"
