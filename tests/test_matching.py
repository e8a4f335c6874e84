"""Lead-to-account matching: domain, alias, name, fuzzy name; precision before recall."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadowner.errors import ErrorCode, ServiceError
from routing import matching
from routing.matching import BatchMatchReads, compare_names
from routing.models import Account, AccountAlias, AccountDomain
from routing.normalize import normalize_company
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one lead", "a batch"], autouse=True)
def reads(request):
    """Every test here runs twice: matching one lead (each read a statement when asked), and
    matching through BatchMatchReads, which reads a batch's facts up front (here, a batch of
    the one lead the test matches): both must answer alike."""
    return request.param


def match_account(*, domain: str = "", company: str = "", **kwargs):
    if _READS == ["a batch"]:
        kwargs["reads"] = BatchMatchReads([(domain, company)])
    return matching.match_account(domain=domain, company=company, **kwargs)


_READS: list[str] = []


@pytest.fixture(autouse=True)
def _which_reads(reads):
    _READS[:] = [reads]
    yield
    _READS.clear()


@pytest.fixture
def ibm():
    return AccountFactory(
        name="International Business Machines Corporation", domains=["ibm.com"], aliases=["IBM", "Big Blue"]
    )


@pytest.fixture
def meta():
    return AccountFactory(name="Meta Platforms, Inc.", domains=["meta.com"])


@pytest.fixture
def hp_inc():
    return AccountFactory(name="HP Inc.", domains=["hp.com"])


@pytest.fixture
def hpe():
    return AccountFactory(name="Hewlett Packard Enterprise", domains=["hpe.com"])


# ---------------------------------------------------------------------------- domain


def test_lead_email_domain_matches_the_account_with_that_domain(ibm):
    result = match_account(domain="ann@ibm.com")
    assert (result.account_id, result.method, result.score) == (ibm.pk, "DOMAIN", 1.0)
    assert result.explanation == "email domain ibm.com is a domain of International Business Machines Corporation"


def test_lead_at_a_sub_domain_matches_the_parent_domain_account(ibm):
    result = match_account(domain="bob@mail.ibm.com")
    assert (result.account_id, result.method, result.score) == (ibm.pk, "DOMAIN", 1.0)
    assert "mail.ibm.com is a sub-domain of ibm.com, a domain of International Business Machines" in (
        result.explanation
    )


def test_an_account_that_registered_a_sub_domain_wins_over_the_parent_domain():
    acme = AccountFactory(name="Acme", domains=["acme.com"])
    acme_emea = AccountFactory(name="Acme EMEA", domains=["emea.acme.com"], parent=acme)
    assert match_account(domain="x@emea.acme.com").account_id == acme_emea.pk
    assert match_account(domain="x@sales.emea.acme.com").account_id == acme_emea.pk
    assert match_account(domain="x@acme.com").account_id == acme.pk
    assert match_account(domain="x@us.acme.com").account_id == acme.pk


def test_a_domain_can_be_given_as_a_host_or_a_url(ibm):
    assert match_account(domain="mail.ibm.com").account_id == ibm.pk
    assert match_account(domain="https://www.ibm.com/products").account_id == ibm.pk


def test_a_look_alike_domain_is_not_a_sub_domain(ibm):
    # notibm.com ends with "ibm.com" as text, but it is another registered domain.
    result = match_account(domain="eve@notibm.com")
    assert result.account_id is None
    assert result.method == "NONE"


def test_free_mail_lead_matches_by_company_only(ibm):
    # Bad data: an account that registered gmail.com must not collect every gmail lead.
    AccountFactory(name="Gmail Fans Club", domains=["gmail.com"])
    result = match_account(domain="bob@gmail.com", company="IBM")
    assert (result.account_id, result.method) == (ibm.pk, "ALIAS")
    assert result.explanation.startswith("gmail.com is a free-mail provider, so it names no company")


def test_a_free_mail_lead_without_company_matches_nothing(ibm):
    result = match_account(domain="bob@gmail.com")
    assert result.account_id is None
    assert "free-mail" in result.explanation


def test_domain_beats_company_text_when_they_disagree(ibm, hp_inc):
    result = match_account(domain="bob@ibm.com", company="HP Inc.")
    assert (result.account_id, result.method) == (ibm.pk, "DOMAIN")
    assert "company 'HP Inc.' names HP Inc." in result.explanation
    assert "the domain decides" in result.explanation


def test_company_text_that_names_no_account_does_not_overrule_the_domain(ibm):
    result = match_account(domain="bob@ibm.com", company="Blue Consulting")
    assert result.account_id == ibm.pk
    assert "is not a name of International Business Machines Corporation" in result.explanation


def test_company_text_that_agrees_with_the_domain_is_noted(ibm):
    result = match_account(domain="bob@ibm.com", company="I.B.M.")
    assert result.account_id == ibm.pk
    assert result.explanation.endswith("company 'I.B.M.' agrees")


def test_an_unknown_domain_falls_back_to_the_company_name(ibm):
    result = match_account(domain="bob@ibm-partner.example", company="International Business Machines")
    assert (result.account_id, result.method) == (ibm.pk, "NAME")
    assert result.explanation.startswith("no account has the email domain ibm-partner.example")


# ---------------------------------------------------------------------------- alias and name


def test_alias_matches_the_account(ibm):
    result = match_account(company="IBM")
    assert (result.account_id, result.method, result.score) == (ibm.pk, "ALIAS", 1.0)
    assert "alias of International Business Machines Corporation" in result.explanation


def test_acme_corporation_matches_acme_corp_exactly_after_normalisation():
    acme = AccountFactory(name="Acme Corporation")
    result = match_account(company="Acme Corp")
    assert (result.account_id, result.method, result.score) == (acme.pk, "NAME", 1.0)


@pytest.mark.parametrize(
    ("account_name", "typed"),
    [
        ("Siemens AG", "Siemens GmbH"),
        ("Nestlé S.A.", "Nestle"),
        ("BHP Group Pty Ltd", "BHP Group Limited"),
        ("Toyota Motor K.K.", "Toyota Motor Corporation"),
        ("Volvo AB", "Volvo"),
        ("Stora Enso Oyj", "Stora Enso Oy"),
        ("Fiat S.p.A.", "FIAT SpA"),
        ("Procter & Gamble Co.", "Procter and Gamble"),
        ("Société Générale S.A.", "Societe Generale"),
        ("Hewlett-Packard Enterprise", "Hewlett Packard Enterprise"),
        ("AT&T Inc.", "AT and T"),
    ],
)
def test_names_match_across_legal_forms_punctuation_accents_and_ampersands(account_name, typed):
    account = AccountFactory(name=account_name)
    result = match_account(company=typed)
    assert (result.account_id, result.method) == (account.pk, "NAME")


def test_a_name_shared_by_two_accounts_is_ambiguous():
    first = AccountFactory(name="Summit Partners LLC")
    second = AccountFactory(name="Summit Partners Ltd")
    result = match_account(company="Summit Partners")
    assert result.account_id is None
    assert result.method == "NONE"
    assert result.ambiguous_ids == tuple(sorted([first.pk, second.pk]))
    assert result.explanation.startswith("ambiguous:")


def test_an_alias_of_one_account_and_the_name_of_another_are_ambiguous():
    meta = AccountFactory(name="Meta Platforms", aliases=["Meta"])
    other = AccountFactory(name="Meta Inc.")  # a different, smaller company called Meta
    result = match_account(company="Meta")
    assert result.account_id is None
    assert set(result.ambiguous_ids) == {meta.pk, other.pk}


def test_a_name_shared_by_a_parent_and_its_subsidiaries_picks_the_parent():
    group = AccountFactory(name="Nordlys AS")
    norway = AccountFactory(name="Nordlys", parent=group)
    AccountFactory(name="Nordlys ASA", parent=norway)
    result = match_account(company="Nordlys")
    assert result.account_id == group.pk
    assert "the parent Nordlys AS is chosen" in result.explanation


def test_a_name_shared_by_two_sister_companies_stays_ambiguous():
    group = AccountFactory(name="Nordlys Holding")
    first = AccountFactory(name="Nordlys Energi AS", parent=group)
    second = AccountFactory(name="Nordlys Energi AB", parent=group)
    result = match_account(company="Nordlys Energi")
    assert result.account_id is None
    assert set(result.ambiguous_ids) == {first.pk, second.pk}


# ---------------------------------------------------------------------------- fuzzy: precision


def test_meta_financial_group_does_not_match_meta_platforms(meta):
    result = match_account(company="Meta Financial Group")
    assert result.account_id is None
    assert result.method == "NONE"
    assert "financial" in result.explanation


def test_hewlett_packard_enterprise_does_not_match_hp_inc(hp_inc):
    assert match_account(company="Hewlett Packard Enterprise").account_id is None


def test_hp_inc_does_not_match_hewlett_packard_enterprise(hpe):
    assert match_account(company="HP Inc.").account_id is None
    assert match_account(company="Hewlett Packard").account_id is None


@pytest.mark.parametrize(
    ("account_name", "typed"),
    [
        ("Meta Platforms, Inc.", "Meta Financial Group"),
        ("Meta Platforms, Inc.", "Meta"),
        ("Meta Platforms, Inc.", "Beta Platforms"),
        ("HP Inc.", "Hewlett Packard Enterprise"),
        ("Hewlett Packard Enterprise", "Hewlett Packard"),
        ("Acme", "Acme UK"),
        ("Acme UK Ltd", "Acme"),
        ("Acme Holdings", "Acme"),
        ("General Motors", "General Mills"),
        ("General Electric", "General Electric Capital"),
        ("American Express", "American Airlines"),
        ("United Airlines", "United Utilities"),
        ("Delta Air Lines", "Delta Dental"),
        ("Goldman Sachs", "Goldman Sachs Bank"),
        ("Bank of America", "Bank of American Samoa"),
        ("Acme 2 Holdings", "Acme 3 Holdings"),
        ("Sony Group", "Sony"),
        ("Apex Systems", "Apex Systemz Labs"),
        ("Citi Bank", "Citizens Bank"),
        ("Nokia", "Nokian Tyres"),
        ("Rio Tinto", "Rio Grande"),
        ("Wells Fargo", "Wells Fargo Advisors"),
    ],
)
def test_fuzzy_matching_refuses_a_different_company(account_name, typed):
    AccountFactory(name=account_name)
    result = match_account(company=typed)
    assert result.account_id is None, result.explanation
    assert result.method == "NONE"


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        ("meta financial group", "meta platforms"),
        ("hewlett packard enterprise", "hp"),
        ("acme uk", "acme"),
        ("ibm", "ibn"),
        ("meta", "beta"),
        ("acme 2", "acme 3"),
        ("general motors", "general mills"),
    ],
)
def test_names_whose_words_do_not_pair_up_never_agree(query, candidate):
    comparison = compare_names(query, candidate)
    assert not comparison.agrees


# ---------------------------------------------------------------------------- fuzzy: recall


@pytest.mark.parametrize(
    ("account_name", "typed"),
    [
        ("International Business Machines Corporation", "International Business Machine"),
        ("International Business Machines Corporation", "International Busness Machines"),
        ("Goldman Sachs Group", "Goldmann Sachs Group"),
        ("Accenture plc", "Accentur"),
        ("Procter & Gamble", "Gamble Procter"),
        ("Bank of America", "Bank America"),
        ("Hewlett Packard Enterprise", "HewlettPackard Enterprise"),
        ("Schneider Electric SE", "Schnieder Electric"),
        ("Deutsche Telekom AG", "Deutsche Telekon"),
        ("Mitsubishi Heavy Industries", "Mitsubishi Heavy Industry"),
    ],
)
def test_fuzzy_matching_finds_typos_plurals_word_order_and_spacing(account_name, typed):
    account = AccountFactory(name=account_name)
    AccountFactory(name="Unrelated Holdings")
    result = match_account(company=typed)
    assert (result.account_id, result.method) == (account.pk, "FUZZY"), result.explanation
    assert 0.9 <= result.score <= 1.0
    assert "every word agrees" in result.explanation


def test_fuzzy_matching_also_searches_aliases():
    account = AccountFactory(name="Alphabet Inc.", aliases=["Google"])
    result = match_account(company="Googel")
    assert result.account_id is None  # "googel" is one edit of a 6-letter word: 0.83 < 0.90
    result = match_account(company="Googel", threshold=80)
    assert (result.account_id, result.method) == (account.pk, "FUZZY")
    assert "the alias 'google' of Alphabet Inc." in result.explanation


def test_the_fuzzy_threshold_is_configurable():
    nokia = AccountFactory(name="Nokia Oyj")
    assert match_account(company="Nokla").account_id is None  # 0.80 is below the default 0.90
    assert match_account(company="Nokla", threshold=80).account_id == nokia.pk


def test_a_threshold_outside_1_to_100_is_invalid():
    for bad in (0, 101, -5):
        with pytest.raises(ServiceError) as caught:
            match_account(company="Acme", threshold=bad)
        assert caught.value.code == ErrorCode.INVALID
        assert caught.value.field == "threshold"


def test_two_equally_close_names_are_ambiguous():
    first = AccountFactory(name="Harbor Freight Lines")
    second = AccountFactory(name="Harbor Freight Lanes")
    # "linez" is one edit from "lines" and two from "lanes": not a tie, the closer one wins.
    result = match_account(company="Harbor Freight Linez")
    assert result.account_id == first.pk
    result = match_account(company="Harbor Freight Lxnes")  # one edit from each
    assert result.account_id is None
    assert set(result.ambiguous_ids) == {first.pk, second.pk}


def test_a_typo_of_a_name_two_accounts_share_is_ambiguous_even_beyond_the_window(monkeypatch):
    from routing import matching

    first = AccountFactory(name="Harbor Freight Lines")
    second = AccountFactory(name="Harbor Freight Lines Inc.")
    # Read a single neighbour on each side: one of the two namesakes is left outside.
    monkeypatch.setattr(matching, "NEIGHBOURS", 1)
    result = match_account(company="Harbor Freight Linez")
    assert result.account_id is None
    assert set(result.ambiguous_ids) == {first.pk, second.pk}


@pytest.mark.postgres
@pytest.mark.parametrize("typed", ["Intenational Business Machines", "Internatinal Business Machines"])
def test_a_typo_within_the_first_letters_is_found_on_postgresql(ibm, typed):
    # SQLite blocks candidates by their first letters only; PostgreSQL also by their last
    # letters (an index on the reversed name), so a typo near the start is found there.
    result = match_account(company=typed)
    assert (result.account_id, result.method) == (ibm.pk, "FUZZY")


@pytest.mark.postgres
def test_a_dropped_letter_near_the_start_is_found_on_postgresql():
    account = AccountFactory(name="Accenture plc")
    assert match_account(company="Acenture").account_id == account.pk


def test_nothing_to_match_says_so():
    result = match_account()
    assert result.account_id is None
    assert result.explanation == "nothing to match: no domain and no company were given"


# ---------------------------------------------------------------------------- indexes, not scans


_TABLES = ("routing_account", "routing_accountalias", "routing_accountdomain")


def _plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _full_scans(sql: str) -> list[str]:
    """The steps of the query's plan that read a whole table or a whole index."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Make reading a whole table hopeless, and testing a condition on every row of an
            # index costly (as it is with a million rows), so the plan shows whether an index
            # answers the query itself.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL cpu_operator_cost = 0.25")
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            raw = cursor.fetchone()[0]
            plan = json.loads(raw) if isinstance(raw, str) else raw
            full = []
            for node in _plan_nodes(plan[0]["Plan"]):
                kind = node["Node Type"]
                if kind == "Seq Scan" and node.get("Relation Name") in _TABLES:
                    full.append(f"{kind} on {node['Relation Name']}")
                if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan") and "Index Cond" not in node:
                    full.append(f"{kind} of all of {node['Index Name']}")
            return full
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        # SQLite: "SEARCH <table> USING INDEX ..." is a lookup, "SCAN <table> ..." reads it all.
        details = [str(row[-1]) for row in cursor.fetchall()]
        return [d for d in details if d.startswith("SCAN ") and d.split()[1] in _TABLES]


@pytest.mark.parametrize(
    "company", ["International Busness Machines", "Meta Financial Group", "IBM", "Nordlys Energi AS"]
)
def test_matching_reads_indexes_and_never_scans_the_accounts(ibm, meta, company):
    group = AccountFactory(name="Nordlys Holding")
    AccountFactory(name="Nordlys Energi AS", parent=group)
    AccountFactory(name="Nordlys Energi AB", parent=group)
    # Enough accounts that the planners weigh their indexes as they would in production.
    accounts = Account.objects.bulk_create(
        Account(name=f"Filler {n} Inc", normalized_name=f"filler {n}", country="US") for n in range(3000)
    )
    AccountAlias.objects.bulk_create(
        AccountAlias(account=a, alias=f"F{a.pk}", normalized_alias=f"f{a.pk}") for a in accounts
    )
    AccountDomain.objects.bulk_create(AccountDomain(account=a, domain=f"filler{a.pk}.example") for a in accounts)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as queries:
        match_account(domain="someone@mail.example.org", company=company)
    selects = [q["sql"] for q in queries.captured_queries if " FROM " in q["sql"].upper()]
    assert 2 <= len(selects) <= 6
    for sql in selects:
        assert _full_scans(sql) == [], sql
    # The detector itself sees a scan: `industry` has no index.
    assert _full_scans("SELECT id FROM routing_account WHERE industry = 'Filler industry'") != []


def test_stored_names_are_normalised_the_way_matching_normalises_them():
    # The factory (and every writer) stores normalize_company(name); matching reads only that.
    account = AccountFactory(name="The Home Depot, Inc.")
    assert account.normalized_name == normalize_company("Home Depot") == "home depot"


# ---------------------------------------------------------------------------- a batch


def test_a_batch_matches_each_lead_as_one_by_one_would_with_a_few_statements_for_all(ibm, meta, hp_inc, hpe):
    group = AccountFactory(name="Nordlys Holding", domains=["nordlys.no"])
    AccountFactory(name="Nordlys Energi AS", parent=group, domains=["energi.nordlys.no"])
    AccountFactory(name="Nordlys Energi AS", parent=group)
    AccountFactory(name="Twin Peaks Ltd")
    AccountFactory(name="Twin Peaks Ltd")
    queries = [
        ("ann@ibm.com", ""),
        ("bob@mail.ibm.com", "IBM"),
        ("cy@ibm.com", "HP Inc"),
        ("di@ibm.com", "Totally Different Co"),
        ("ed@gmail.com", "Big Blue"),
        ("fay@unknown.example", "Meta Platforms"),
        ("gus@gmail.com", "Hewlett-Packard Enterprise"),
        ("hal@gmail.com", "Meta Financial Group"),
        ("ivy@gmail.com", "Internatonal Business Machines"),
        ("jo@energi.nordlys.no", ""),
        ("kim@gmail.com", "Nordlys Energi AS"),
        ("lu@gmail.com", "Twin Peaks"),
        ("mo@gmail.com", ""),
        ("not an email", ""),
        ("", "hp"),
    ]
    one_by_one = [matching.match_account(domain=d, company=c) for d, c in queries]
    with CaptureQueriesContext(connection) as read_up_front:
        batch = BatchMatchReads(queries)
    with CaptureQueriesContext(connection) as while_matching:
        batched = [matching.match_account(domain=d, company=c, reads=batch) for d, c in queries]
    assert batched == one_by_one
    assert len(read_up_front) <= 4  # domains, their accounts' aliases, exact names and aliases, names
    # Left to one-lead reads: the fuzzy neighbours (and the exact rows of their best texts)
    # of the two typed names that match nothing exactly, and the ambiguous names' family.
    fuzzy = [m for m in one_by_one if m.method in ("FUZZY", "NONE")]
    assert len(while_matching) <= 2 * len(fuzzy) + 2, [q["sql"][:80] for q in while_matching.captured_queries]


def test_an_exact_name_match_names_the_account_without_reading_its_name_again(reads: str) -> None:
    acme = AccountFactory(name="Acme Rockets Ltd")
    with CaptureQueriesContext(connection) as queries:
        result = match_account(company="ACME ROCKETS")
    assert (result.account_id, result.method) == (acme.pk, "NAME")
    assert "the name of Acme Rockets Ltd" in result.explanation
    name_reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT id, name FROM")]
    assert len(name_reads) == (1 if reads == "a batch" else 0)  # a batch reads its names once, up front


@pytest.mark.parametrize(
    ("prefix", "successor"),
    [("abc", "abd"), ("ab_", "ab`"), ("a\ud7ff", "a\ue000"), ("a\U0010ffff", "b"), ("\U0010ffff", None)],
)
def test_the_end_of_a_prefix_range_is_the_next_text_in_code_point_order(reads: str, prefix: str, successor) -> None:
    assert matching._successor(prefix) == successor
    if successor is not None:
        assert prefix < successor and prefix + "\U0010ffff" < successor  # every text with the prefix sorts below


def test_neighbours_are_bounded_on_both_sides_by_the_queries_first_letters(reads: str) -> None:
    """The range of each probe is [prefix, next prefix): texts just below and just above it
    in sorted order are not read, those sharing the prefix are."""
    inside = [AccountFactory(name=f"Ab Widgets {n}") for n in range(3)]
    below = AccountFactory(name="Aaz Widgetry")  # nor sharing the last letters (the reversed probe)
    above = AccountFactory(name="Abz Widgetry")
    assert [normalize_company(a.name)[:3] for a in (below, *inside, above)] == ["aaz", "ab ", "ab ", "ab ", "abz"]
    found = {pk for pk, _text, _alias in matching._neighbour_candidates("ab widgets")}
    assert found == {a.pk for a in inside}


@pytest.mark.postgres
def test_the_neighbours_answer_the_same_from_a_generic_plan_kept_prepared(reads: str, ibm, meta) -> None:
    """The neighbour read runs prepared (leadowner.prepared): whichever plan PostgreSQL keeps,
    a generic one included, reads the same neighbours in index order."""
    from django.conf import settings

    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        pytest.skip("PostgreSQL's plan cache, with the statements kept prepared")
    AccountFactory(name="International Business Machinery")
    queries = ["international busness machines", "meta financal group", "machines business international"]
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        for _ in range(2):  # the second run prepares each statement
            custom = [matching._neighbour_candidates(q) for q in queries]
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        generic = [matching._neighbour_candidates(q) for q in queries]
        cursor.execute("RESET plan_cache_mode")
        cursor.execute(
            "SELECT coalesce(sum(generic_plans), 0) FROM pg_prepared_statements WHERE statement LIKE %s", ["%~>=~%"]
        )
        generic_runs = cursor.fetchone()[0]
    assert generic == custom
    assert all(custom)
    assert generic_runs >= len(queries)


def test_a_domain_match_carries_its_account_whole_and_never_stores_it(ibm) -> None:
    """The account comes with its domain in one statement (routing and ownerOf do not read it
    again); it is the row as the ORM reads it, and neither compared nor stored with the decision."""
    ibm.industry = "Technology"
    ibm.save()
    with_company = match_account(domain="ann@mail.ibm.com", company="IBM")
    alone = match_account(domain="ann@ibm.com")
    stored = Account.objects.get(pk=ibm.pk)
    for result in (with_company, alone):
        assert result.method == "DOMAIN" and result.account is not None
        assert result.account.pk == result.account_id == ibm.pk
        fields = [f.attname for f in Account._meta.concrete_fields]
        assert [getattr(result.account, f) for f in fields] == [getattr(stored, f) for f in fields]
        assert "account" not in result.to_json()
        rebuilt = type(result).from_json(json.loads(json.dumps(result.to_json())))
        assert rebuilt == result and rebuilt.account is None


def test_a_company_match_of_one_lead_carries_its_account_and_a_batch_names_it(ibm, reads: str) -> None:
    """One lead: the account the company names is read whole, once (an alias hit is named from
    it, no read of names), and the caller does not read it again. A batch reads its names up
    front and its accounts together afterwards (routing.reads.BatchReads): none is carried."""
    with CaptureQueriesContext(connection) as queries:
        result = match_account(company="Big Blue")
    assert (result.account_id, result.method) == (ibm.pk, "ALIAS")
    assert "an alias of International Business Machines Corporation" in result.explanation
    name_reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT id, name FROM")]
    if reads == "one lead":
        assert result.account is not None and result.account.name == "International Business Machines Corporation"
        assert name_reads == []
    else:
        assert result.account is None
    by_name = match_account(company="International Business Machines Corp.")
    assert by_name.method == "NAME" and (by_name.account is not None) == (reads == "one lead")
    # A free-mail address says why the company decided; the account still comes along.
    free_mail = match_account(domain="ann@gmail.com", company="Big Blue")
    assert free_mail.explanation.startswith("gmail.com is a free-mail provider")
    assert free_mail.account_id == ibm.pk and (free_mail.account is not None) == (reads == "one lead")
