"""Per-request batch loaders for what the optimizer cannot prefetch.

strawberry's DataLoader batches across awaiting resolvers, which needs an async view;
our view is sync (the Django ORM is), and graphql-core resolves a list one item at a
time there. So these loaders batch by *announcement*: whoever produces a page of
records announces the ids its children will need (`want`), and the first `load` of any
of them fetches all announced ids in one query. A loader made per request is also a
per-request cache: each record is read at most once.

Most batching is done by the DjangoOptimizerExtension through prefetch hints on the
types; loaders serve records that come from JSON (a lead's stored routing decision:
rep, partner, territory and account ids) and walks of unknown depth (an account's
ultimate parent).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

from django.db.models import QuerySet

from leadowner.prepared import PreparedIn
from routing.models import Account
from routing.selectors.loads import open_load_counts
from territories.models import Partner, Rep, RuleSetStatus, Territory, TerritoryMember

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """Loads values by key, batching every key announced before the first miss."""

    def __init__(
        self,
        fetch: Callable[[list[K]], Mapping[K, V]],
        *,
        on_fetch: Callable[[Mapping[K, V]], None] | None = None,
        default: Callable[[], V | None] = lambda: None,
    ) -> None:
        self._fetch = fetch
        self._on_fetch = on_fetch
        self._default = default
        self._cache: dict[K, V | None] = {}
        self._pending: set[K] = set()
        self.batches = 0  # how many fetches ran: tests and debugging

    def want(self, keys: Iterable[K | None]) -> None:
        """Announce keys that will be loaded soon; nothing is read until a load needs it."""
        for key in keys:
            if key is not None and key not in self._cache:
                self._pending.add(key)

    def prime(self, key: K, value: V) -> None:
        self._cache[key] = value
        self._pending.discard(key)

    def load(self, key: K) -> V | None:
        if key not in self._cache:
            self._pending.add(key)
            keys = sorted(self._pending, key=repr)
            self._pending.clear()
            found = self._fetch(keys)
            self.batches += 1
            for k in keys:
                self._cache[k] = found.get(k, self._default())
            if self._on_fetch is not None:
                self._on_fetch(found)
        return self._cache[key]

    def load_many(self, keys: Iterable[K]) -> list[V | None]:
        keys = list(keys)
        self.want(keys)
        return [self.load(k) for k in keys]


def published_territories() -> QuerySet[Territory]:
    return Territory.objects.filter(rule_set__status=RuleSetStatus.PUBLISHED)


# A request's loaders mostly ask for a handful of ids (a decision's owner and territory, a
# lookup's reps): compiled once per count of ids, longer lists through the ORM (leadowner.prepared).
_ACCOUNTS = PreparedIn(lambda ids: Account.objects.filter(pk__in=ids))
_REPS = PreparedIn(lambda ids: Rep.objects.filter(pk__in=ids))
_PARTNERS = PreparedIn(lambda ids: Partner.objects.filter(pk__in=ids))
_TERRITORIES = PreparedIn(lambda ids: Territory.objects.filter(pk__in=ids))


class Loaders:
    """The loaders of one request."""

    def __init__(self) -> None:
        self.accounts: BatchLoader[int, Account] = BatchLoader(
            lambda ids: {a.pk: a for a in _ACCOUNTS(ids)},
            # Walking up to an ultimate parent: the next level is announced as one batch.
            on_fetch=lambda found: self.accounts.want(a.parent_id for a in found.values()),
        )
        self.reps: BatchLoader[int, Rep] = BatchLoader(
            lambda ids: {r.pk: r for r in _REPS(ids)},
            on_fetch=self._announce_rep_details,
        )
        self.partners: BatchLoader[int, Partner] = BatchLoader(lambda ids: {p.pk: p for p in _PARTNERS(ids)})
        self.territories: BatchLoader[int, Territory] = BatchLoader(lambda ids: {t.pk: t for t in _TERRITORIES(ids)})
        self.rep_open_load: BatchLoader[int, int] = BatchLoader(self._fetch_open_load, default=lambda: 0)
        self.rep_territories: BatchLoader[int, list[Territory]] = BatchLoader(self._fetch_rep_territories, default=list)

    def _announce_rep_details(self, found: Mapping[int, Rep]) -> None:
        self.rep_open_load.want(found)
        self.rep_territories.want(found)

    @staticmethod
    def _fetch_open_load(rep_ids: list[int]) -> dict[int, int]:
        return dict(open_load_counts().filter(rep_id__in=rep_ids))

    @staticmethod
    def _fetch_rep_territories(rep_ids: list[int]) -> dict[int, list[Territory]]:
        result: dict[int, list[Territory]] = {}
        members = (
            TerritoryMember.objects.filter(rep_id__in=rep_ids, territory__rule_set__status=RuleSetStatus.PUBLISHED)
            .select_related("territory")
            .order_by("territory__position", "territory__name")
        )
        for member in members:
            result.setdefault(member.rep_id, []).append(member.territory)
        return result
