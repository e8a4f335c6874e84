"""Normalisation rules: company names, email domains and hosts, ISO country and subdivision codes."""

from __future__ import annotations

import pytest

from routing.normalize import (
    company_domain,
    country_code,
    domain_with_parents,
    email_domain,
    host_of,
    normalize_company,
    subdivision_code,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme Corporation", "acme"),
        ("Acme Corp.", "acme"),
        ("ACME, INC.", "acme"),
        ("Acme LLC", "acme"),
        ("Siemens AG", "siemens"),
        ("Müller GmbH", "muller"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Nestlé S.A.", "nestle"),
        ("Acme S.A. de C.V.", "acme"),
        ("Tesco PLC", "tesco"),
        ("BHP Pty Ltd", "bhp"),
        ("Acme Pte. Ltd.", "acme"),
        ("Acme Pvt. Ltd.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Toyota K.K.", "toyota"),
        ("Kabushiki Kaisha Toshiba", "toshiba"),
        ("Volvo AB", "volvo"),
        ("Acme AB (publ)", "acme"),
        ("Nokia Oyj", "nokia"),
        ("Acme Oy", "acme"),
        ("Nordea Bank Abp", "nordea bank"),
        ("Fiat SpA", "fiat"),
        ("Fiat S.p.A.", "fiat"),
        ("Acme S.r.l.", "acme"),
        ("Acme B.V.", "acme"),
        ("Acme N.V.", "acme"),
        ("Acme A/S", "acme"),
        ("Acme Sp. z o.o.", "acme"),
        ("Acme s.r.o.", "acme"),
        ("Acme Ltda.", "acme"),
        ("PT Acme Tbk", "acme"),
        ("OOO Acme", "acme"),
        ("SAP SE", "sap"),
    ],
)
def test_legal_forms_in_many_languages_are_removed(name, expected):
    assert normalize_company(name) == expected


def test_a_country_word_is_part_of_the_name_not_a_legal_form():
    # "Acme UK" is often a subsidiary of "Acme": folding it into "acme" would merge them.
    assert normalize_company("Acme UK Ltd") == "acme uk"
    assert normalize_company("Acme Europe GmbH") == "acme europe"


def test_accents_and_case_are_folded():
    assert normalize_company("Société Générale S.A.") == "societe generale"
    assert normalize_company("SOCIETE GENERALE") == "societe generale"
    assert normalize_company("Straße AG") == "strasse"


def test_ampersand_and_the_word_and_agree():
    assert normalize_company("Procter & Gamble Co.") == normalize_company("Procter and Gamble Company")
    assert normalize_company("AT&T Inc.") == "at and t"


def test_punctuation_separates_words_but_dots_and_apostrophes_do_not():
    assert normalize_company("Hewlett-Packard") == "hewlett packard"
    assert normalize_company("McDonald's Corporation") == "mcdonalds"
    assert normalize_company("L'Oréal S.A.") == "loreal"
    assert normalize_company("E.ON SE") == "eon"
    assert normalize_company("U.S. Bancorp") == "us bancorp"


def test_a_leading_the_is_dropped():
    assert normalize_company("The Home Depot, Inc.") == "home depot"


def test_a_name_that_is_only_a_legal_form_is_kept_rather_than_emptied():
    assert normalize_company("Company") == "company"
    assert normalize_company("The Company") == "company"
    assert normalize_company("Inc") == "inc"
    assert normalize_company("") == ""


def test_a_web_suffix_is_not_part_of_the_name():
    assert normalize_company("Amazon.com, Inc.") == "amazon"


def test_common_abbreviations_are_spelled_out():
    assert normalize_company("Intl Business Machines") == "international business machines"
    assert normalize_company("Acme Mfg. Co.") == "acme manufacturing"
    assert normalize_company("Warner Bros.") == "warner brothers"


def test_email_domain_is_the_registered_domain():
    assert email_domain("bob@mail.ibm.com") == "ibm.com"
    assert email_domain("ann@shop.olivegarden.co.uk") == "olivegarden.co.uk"
    assert email_domain("not an email") == ""


def test_free_mail_names_no_company():
    assert company_domain("someone@gmail.com") == ""
    assert company_domain("someone@yahoo.co.jp") == ""
    assert company_domain("someone@ibm.com") == "ibm.com"


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("bob@Mail.IBM.com", "mail.ibm.com"),
        ("mail.ibm.com", "mail.ibm.com"),
        ("https://www.ibm.com/products?x=1", "ibm.com"),
        ("http://ibm.com:8080/", "ibm.com"),
        ("ibm.com.", "ibm.com"),
        ("two words", ""),
        ("", ""),
    ],
)
def test_host_is_read_from_an_email_a_url_or_a_bare_host(value, host):
    assert host_of(value) == host


def test_a_host_and_its_parents_stop_at_the_registered_domain():
    assert domain_with_parents("a.mail.ibm.com") == ["a.mail.ibm.com", "mail.ibm.com", "ibm.com"]
    assert domain_with_parents("shop.olivegarden.co.uk") == ["shop.olivegarden.co.uk", "olivegarden.co.uk"]
    assert domain_with_parents("co.uk") == []
    assert domain_with_parents("localhost") == ["localhost"]


def test_country_names_and_common_synonyms_become_iso_codes():
    assert country_code("Germany") == "DE"
    assert country_code("de") == "DE"
    assert country_code("UK") == "GB"
    assert country_code("United States of America") == "US"
    assert country_code("Puerto Rico") == "PR"
    assert country_code("Atlantis") is None
    assert country_code("") is None


def test_subdivisions_become_iso_3166_2_codes():
    assert subdivision_code("CA-QC") == "CA-QC"
    assert subdivision_code("QC", "CA") == "CA-QC"
    assert subdivision_code("Québec") == "CA-QC"
    assert subdivision_code("California", "US") == "US-CA"
    assert subdivision_code("Nowhere") is None


@pytest.mark.parametrize("code", ["XX", "ZZ", "QQQ", "UKX"])
def test_an_unknown_country_code_is_unknown_never_a_fuzzy_guess(code):
    assert country_code(code) is None


@pytest.mark.parametrize("name", ["Virginia", "Georgia State", "Amerika", "Bavaria"])
def test_a_name_that_is_no_country_is_unknown_not_guessed(name):
    assert country_code(name) is None
