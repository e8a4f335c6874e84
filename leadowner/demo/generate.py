"""The demo book as the five files a team brings: deterministic for a seed.

Real, well-known groups give the recognisable cases (Darden Restaurants -> Olive
Garden -> Olive Garden Canada, IBM = International Business Machines, JPMorgan =
Chase); a seeded generator adds a few hundred plausible companies around them. The
files are canonical (sorted and formatted as the exports write them), so importing
and exporting them gives back the same bytes. `leadowner/demo/files/` holds them for
the default seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from leadowner.csvio import csv_text
from routing.selectors.exports import (
    ACCOUNTS_COLUMNS,
    ACCOUNTS_NUMERIC,
    OPPORTUNITIES_COLUMNS,
    OPPORTUNITIES_NUMERIC,
    format_time,
)
from territories.policy import Policy
from territories.selectors import PARTNERS_COLUMNS, REPS_COLUMNS, REPS_NUMERIC, dump_territories_yaml

DEFAULT_SEED = 7
FICTIONAL_ACCOUNTS = 250
# Opportunities are dated before this (a fixed day, so the files never change with the clock).
OPPORTUNITIES_UNTIL = datetime(2025, 6, 30, tzinfo=UTC)
FILE_NAMES = ("reps.csv", "partners.csv", "territories.yaml", "accounts.csv", "opportunities.csv")

# --- the sales team ----------------------------------------------------------------------


@dataclass(frozen=True)
class DemoRep:
    email: str
    name: str
    role: str
    manager: str = ""
    capacity: int | None = None
    status: str = "ACTIVE"
    territories: tuple[str, ...] = ()


REVOPS_EMAIL = "rita.ortiz@example.com"
REPS = (
    DemoRep(REVOPS_EMAIL, "Rita Ortiz", "REVOPS"),
    DemoRep("morgan.lee@example.com", "Morgan Lee", "MANAGER"),
    DemoRep("dana.kim@example.com", "Dana Kim", "MANAGER", "morgan.lee@example.com"),
    DemoRep("sam.patel@example.com", "Sam Patel", "MANAGER", "morgan.lee@example.com"),
    DemoRep("elena.rossi@example.com", "Elena Rossi", "MANAGER", "morgan.lee@example.com"),
    DemoRep("ada.lovelace@example.com", "Ada Lovelace", "AE", "dana.kim@example.com", 60, "ACTIVE", ("US East",)),
    DemoRep("ben.carter@example.com", "Ben Carter", "AE", "dana.kim@example.com", 50, "ACTIVE", ("US East",)),
    DemoRep("chloe.nguyen@example.com", "Chloe Nguyen", "AE", "dana.kim@example.com", 40, "ACTIVE", ("US East - NYC",)),
    DemoRep("diego.ramos@example.com", "Diego Ramos", "AE", "dana.kim@example.com", 40, "ACTIVE", ("Puerto Rico",)),
    DemoRep("farah.haddad@example.com", "Farah Haddad", "AE", "sam.patel@example.com", 60, "ACTIVE", ("US West",)),
    DemoRep("george.wu@example.com", "George Wu", "AE", "sam.patel@example.com", 45, "OUT_OF_OFFICE", ("US West",)),
    DemoRep("hana.sato@example.com", "Hana Sato", "AE", "sam.patel@example.com", 30, "ACTIVE", ("US West",)),
    DemoRep("ines.martin@example.com", "Inès Martin", "AE", "sam.patel@example.com", 40, "ACTIVE", ("Canada Quebec",)),
    DemoRep("noa.levi@example.com", "Noa Levi", "AE", "elena.rossi@example.com", 40, "ACTIVE", ("EMEA - Israel",)),
    DemoRep("oliver.brown@example.com", "Oliver Brown", "AE", "elena.rossi@example.com", 50, "ACTIVE", ("EMEA",)),
    DemoRep("lena.vogel@example.com", "Lena Vogel", "AE", "elena.rossi@example.com", 50, "ACTIVE", ("EMEA",)),
    DemoRep("priya.shah@example.com", "Priya Shah", "SDR", "dana.kim@example.com", 80, "ACTIVE", ("US Central",)),
    DemoRep("quinn.murphy@example.com", "Quinn Murphy", "SDR", "sam.patel@example.com", 80, "ACTIVE", ("US Central",)),
    DemoRep("maya.cohen@example.com", "Maya Cohen", "ACCOUNT_MANAGER", "dana.kim@example.com", 120),
    DemoRep("tom.fischer@example.com", "Tom Fischer", "ACCOUNT_MANAGER", "elena.rossi@example.com", 120),
    DemoRep("zoe.adams@example.com", "Zoe Adams", "CUSTOMER_SUCCESS", "morgan.lee@example.com", 150),
)
ACCOUNT_MANAGERS = {"US": "maya.cohen@example.com", "other": "tom.fischer@example.com"}
CUSTOMER_SUCCESS = "zoe.adams@example.com"
PARTNER_NAME = "Northwind Partners"
PARTNER_USERS = (
    ("jo.bauer@northwind-partners.com", "Jo Bauer"),
    ("sam.osei@northwind-partners.com", "Sam Osei"),
)

# --- the territory map -------------------------------------------------------------------

US_EAST = ["US-NY", "US-NJ", "US-CT", "US-MA", "US-PA", "US-MD", "US-DC", "US-VA", "US-NC", "US-GA", "US-FL"]
US_WEST = ["US-CA", "US-WA", "US-OR", "US-NV", "US-AZ", "US-CO", "US-UT"]
EMEA = ["GB", "IE", "FR", "DE", "NL", "ES", "IT", "SE", "CH", "IL", "AE"]


def territories_document() -> dict[str, object]:
    """territories.yaml as a document (canonical order: see territories.selectors)."""
    territories: list[dict[str, object]] = [
        {
            "name": "US East",
            "priority": 0,
            "distribution": "round_robin",
            "members": ["ada.lovelace@example.com", "ben.carter@example.com"],
            "match": {"countries": ["US"], "subdivisions": US_EAST},
        },
        {
            "name": "US East - NYC",
            "parent": "US East",
            "priority": 0,
            "distribution": "round_robin",
            "members": [{"email": "chloe.nguyen@example.com", "weight": 2}, "ada.lovelace@example.com"],
            "match": {"cities": ["New York"]},
        },
        {
            "name": "US West",
            "priority": 0,
            "distribution": "load_balanced",
            "members": ["farah.haddad@example.com", "george.wu@example.com", "hana.sato@example.com"],
            "match": {"countries": ["US"], "subdivisions": US_WEST},
        },
        {
            "name": "US Central",
            "priority": 0,
            "distribution": "claim_queue",
            "members": ["priya.shah@example.com", "quinn.murphy@example.com"],
            "match": {"countries": ["US"]},
        },
        {
            "name": "Puerto Rico",
            "priority": 0,
            "distribution": "round_robin",
            "members": ["diego.ramos@example.com"],
            "match": {"countries": ["PR"]},
        },
        {
            "name": "Canada Quebec",
            "priority": 0,
            "distribution": "round_robin",
            "members": ["ines.martin@example.com"],
            "match": {"countries": ["CA"], "subdivisions": ["CA-QC"]},
        },
        {
            "name": "EMEA",
            "priority": 0,
            "distribution": "round_robin",
            "members": ["oliver.brown@example.com", "lena.vogel@example.com"],
            "match": {"countries": EMEA},
        },
        {
            "name": "EMEA - Israel",
            "parent": "EMEA",
            "priority": 0,
            "distribution": "round_robin",
            "members": ["noa.levi@example.com"],
            "match": {"countries": ["IL"]},
        },
        {
            "name": "EMEA Enterprise Financial Services",
            "parent": "EMEA",
            "priority": 10,
            "distribution": "round_robin",
            "members": ["oliver.brown@example.com"],
            "match": {"industries": ["Financial Services"], "employees": {"min": 2000}},
        },
    ]
    return {"calendar": "US", "policy": Policy().as_dict(), "territories": territories}


# --- places and the reps who sell there ----------------------------------------------------


@dataclass(frozen=True)
class Place:
    country: str
    subdivision: str
    city: str
    postal_code: str
    sellers: tuple[str, ...]  # AEs of the territory the place falls in (empty: unassigned)


_EAST = ("ada.lovelace@example.com", "ben.carter@example.com")
_NYC = ("chloe.nguyen@example.com", "ada.lovelace@example.com")
_WEST = ("farah.haddad@example.com", "hana.sato@example.com", "george.wu@example.com")
_CENTRAL = ("priya.shah@example.com", "quinn.murphy@example.com")
_EMEA = ("oliver.brown@example.com", "lena.vogel@example.com")
PLACES = {
    "new_york": Place("US", "US-NY", "New York", "10017", _NYC),
    "armonk": Place("US", "US-NY", "Armonk", "10504", _EAST),
    "boston": Place("US", "US-MA", "Boston", "02110", _EAST),
    "bristol_ct": Place("US", "US-CT", "Bristol", "06010", _EAST),
    "philadelphia": Place("US", "US-PA", "Philadelphia", "19103", _EAST),
    "chevy_chase": Place("US", "US-MD", "Chevy Chase", "20815", _EAST),
    "raleigh": Place("US", "US-NC", "Raleigh", "27601", _EAST),
    "atlanta": Place("US", "US-GA", "Atlanta", "30303", _EAST),
    "orlando": Place("US", "US-FL", "Orlando", "32837", _EAST),
    "miami": Place("US", "US-FL", "Miami", "33131", _EAST),
    "san_francisco": Place("US", "US-CA", "San Francisco", "94105", _WEST),
    "mountain_view": Place("US", "US-CA", "Mountain View", "94043", _WEST),
    "burbank": Place("US", "US-CA", "Burbank", "91521", _WEST),
    "seattle": Place("US", "US-WA", "Seattle", "98101", _WEST),
    "redmond": Place("US", "US-WA", "Redmond", "98052", _WEST),
    "beaverton": Place("US", "US-OR", "Beaverton", "97005", _WEST),
    "denver": Place("US", "US-CO", "Denver", "80202", _WEST),
    "austin": Place("US", "US-TX", "Austin", "78701", _CENTRAL),
    "chicago": Place("US", "US-IL", "Chicago", "60601", _CENTRAL),
    "omaha": Place("US", "US-NE", "Omaha", "68131", _CENTRAL),
    "cincinnati": Place("US", "US-OH", "Cincinnati", "45202", _CENTRAL),
    "san_juan": Place("PR", "", "San Juan", "00918", ("diego.ramos@example.com",)),
    "montreal": Place("CA", "CA-QC", "Montréal", "H3B 4W8", ("ines.martin@example.com",)),
    "quebec_city": Place("CA", "CA-QC", "Québec", "G1R 4P5", ("ines.martin@example.com",)),
    "laval": Place("CA", "CA-QC", "Laval", "H7T 2P5", ("ines.martin@example.com",)),
    "toronto": Place("CA", "CA-ON", "Toronto", "M5V 2T6", ()),
    "ottawa": Place("CA", "CA-ON", "Ottawa", "K2P 1L4", ()),
    "london": Place("GB", "", "London", "EC2N 2DL", _EMEA),
    "dublin": Place("IE", "", "Dublin", "D02 P820", _EMEA),
    "frankfurt": Place("DE", "DE-HE", "Frankfurt", "60311", _EMEA),
    "munich": Place("DE", "DE-BY", "Munich", "80333", _EMEA),
    "walldorf": Place("DE", "DE-BW", "Walldorf", "69190", _EMEA),
    "paris": Place("FR", "", "Paris", "75009", _EMEA),
    "amsterdam": Place("NL", "", "Amsterdam", "1012 JS", _EMEA),
    "tel_aviv": Place("IL", "", "Tel Aviv", "6789141", ("noa.levi@example.com",)),
    "tokyo": Place("JP", "", "Tokyo", "100-0005", ()),
    "sydney": Place("AU", "AU-NSW", "Sydney", "2000", ()),
}

# --- accounts ----------------------------------------------------------------------------


@dataclass
class DemoAccount:
    name: str
    domains: list[str]
    place: str
    industry: str
    employees: int | None
    revenue: int | None
    customer: bool
    aliases: list[str] = field(default_factory=list)
    parent: str = ""  # the parent's first domain
    named: bool = False
    sales_owner: str = ""
    account_manager: str = ""
    customer_success: str = ""


def _real(
    name: str,
    domains: str,
    aliases: str,
    parent: str,
    place: str,
    industry: str,
    employees: int | None,
    revenue: int | None,
    customer: bool,
) -> DemoAccount:
    return DemoAccount(
        name=name,
        domains=domains.split(";"),
        aliases=[a for a in aliases.split(";") if a],
        parent=parent,
        place=place,
        industry=industry,
        employees=employees,
        revenue=revenue,
        customer=customer,
    )


B = 1_000_000_000
M = 1_000_000
REAL_ACCOUNTS = (
    _real("Darden Restaurants, Inc.", "darden.com", "Darden", "", "orlando", "Restaurants", 187_384, 11_390 * M, True),
    _real("Olive Garden", "olivegarden.com", "", "darden.com", "orlando", "Restaurants", 100_000, 5_200 * M, True),
    _real("Olive Garden Canada", "olivegarden.ca", "", "olivegarden.com", "toronto", "Restaurants", 2_000, None, False),
    _real(
        "LongHorn Steakhouse",
        "longhornsteakhouse.com",
        "LongHorn",
        "darden.com",
        "atlanta",
        "Restaurants",
        40_000,
        2_600 * M,
        False,
    ),
    _real(
        "International Business Machines Corporation",
        "ibm.com;ibm.co.uk",
        "IBM;Big Blue",
        "",
        "armonk",
        "Technology",
        288_300,
        61_900 * M,
        True,
    ),
    _real("Red Hat, Inc.", "redhat.com", "Red Hat", "ibm.com", "raleigh", "Software", 19_000, 6_500 * M, True),
    _real("Ansible", "ansible.com", "", "redhat.com", "raleigh", "Software", 300, None, False),
    _real(
        "The Walt Disney Company",
        "thewaltdisneycompany.com;disney.com",
        "Disney",
        "",
        "burbank",
        "Media",
        220_000,
        88_900 * M,
        False,
    ),
    _real(
        "Pixar Animation Studios",
        "pixar.com",
        "Pixar",
        "thewaltdisneycompany.com",
        "san_francisco",
        "Media",
        1_300,
        None,
        False,
    ),
    _real("ESPN Inc.", "espn.com", "ESPN", "thewaltdisneycompany.com", "bristol_ct", "Media", 4_000, None, False),
    _real(
        "Marvel Entertainment, LLC",
        "marvel.com",
        "Marvel",
        "thewaltdisneycompany.com",
        "new_york",
        "Media",
        1_500,
        None,
        False,
    ),
    _real(
        "The Procter & Gamble Company",
        "pg.com",
        "P&G;Procter and Gamble",
        "",
        "cincinnati",
        "Consumer Goods",
        107_000,
        84_000 * M,
        True,
    ),
    _real("Gillette", "gillette.com", "", "pg.com", "boston", "Consumer Goods", 6_000, None, True),
    _real("Alphabet Inc.", "abc.xyz", "Alphabet", "", "mountain_view", "Technology", 182_000, 307 * B, False),
    _real("Google LLC", "google.com", "Google", "abc.xyz", "mountain_view", "Technology", 140_000, None, False),
    _real("YouTube, LLC", "youtube.com", "YouTube", "google.com", "san_francisco", "Media", 3_000, None, False),
    _real(
        "Microsoft Corporation",
        "microsoft.com",
        "Microsoft;MSFT",
        "",
        "redmond",
        "Technology",
        221_000,
        211_900 * M,
        True,
    ),
    _real(
        "LinkedIn Corporation",
        "linkedin.com",
        "LinkedIn",
        "microsoft.com",
        "san_francisco",
        "Technology",
        19_000,
        None,
        True,
    ),
    _real("GitHub, Inc.", "github.com", "GitHub", "microsoft.com", "san_francisco", "Software", 3_000, None, False),
    _real(
        "Salesforce, Inc.",
        "salesforce.com",
        "Salesforce;SFDC",
        "",
        "san_francisco",
        "Software",
        79_390,
        34_900 * M,
        True,
    ),
    _real(
        "Slack Technologies, LLC",
        "slack.com",
        "Slack",
        "salesforce.com",
        "san_francisco",
        "Software",
        2_500,
        None,
        True,
    ),
    _real(
        "Tableau Software, LLC", "tableau.com", "Tableau", "salesforce.com", "seattle", "Software", 4_000, None, False
    ),
    _real("Nike, Inc.", "nike.com", "Nike", "", "beaverton", "Retail", 83_700, 51_200 * M, False),
    _real("Starbucks Corporation", "starbucks.com", "Starbucks", "", "seattle", "Restaurants", 381_000, 36 * B, True),
    _real(
        "JPMorgan Chase & Co.",
        "jpmorganchase.com;jpmorgan.com;chase.com",
        "JPMorgan;JPMC;Chase",
        "",
        "new_york",
        "Financial Services",
        309_926,
        158_100 * M,
        True,
    ),
    _real(
        "The Goldman Sachs Group, Inc.",
        "goldmansachs.com;gs.com",
        "Goldman Sachs;GS",
        "",
        "new_york",
        "Financial Services",
        45_300,
        46_250 * M,
        False,
    ),
    _real(
        "Bloomberg L.P.", "bloomberg.com;bloomberg.net", "Bloomberg", "", "new_york", "Media", 21_000, 12_900 * M, False
    ),
    _real(
        "The New York Times Company",
        "nytimes.com",
        "New York Times;NYT",
        "",
        "new_york",
        "Media",
        5_900,
        2_400 * M,
        True,
    ),
    _real("Pfizer Inc.", "pfizer.com", "Pfizer", "", "new_york", "Pharmaceuticals", 88_000, 58_500 * M, False),
    _real(
        "Verizon Communications Inc.",
        "verizon.com",
        "Verizon",
        "",
        "new_york",
        "Telecommunications",
        105_400,
        134 * B,
        False,
    ),
    _real(
        "Comcast Corporation",
        "comcast.com",
        "Comcast",
        "",
        "philadelphia",
        "Telecommunications",
        186_000,
        121_600 * M,
        True,
    ),
    _real(
        "NBCUniversal Media, LLC",
        "nbcuniversal.com",
        "NBCUniversal;NBCU",
        "comcast.com",
        "new_york",
        "Media",
        35_000,
        None,
        True,
    ),
    _real(
        "Berkshire Hathaway Inc.",
        "berkshirehathaway.com",
        "Berkshire",
        "",
        "omaha",
        "Financial Services",
        396_500,
        364_500 * M,
        False,
    ),
    _real(
        "GEICO",
        "geico.com",
        "Government Employees Insurance Company",
        "berkshirehathaway.com",
        "chevy_chase",
        "Insurance",
        30_000,
        None,
        False,
    ),
    _real("Duracell", "duracell.com", "", "berkshirehathaway.com", "bristol_ct", "Consumer Goods", 3_000, None, False),
    _real(
        "Dell Technologies Inc.",
        "delltechnologies.com;dell.com",
        "Dell",
        "",
        "austin",
        "Technology",
        120_000,
        88_400 * M,
        False,
    ),
    _real(
        "Popular, Inc.",
        "popular.com",
        "Banco Popular;BPPR",
        "",
        "san_juan",
        "Financial Services",
        8_900,
        3_900 * M,
        True,
    ),
    _real("EVERTEC, Inc.", "evertecinc.com", "Evertec", "", "san_juan", "Financial Services", 5_000, 690 * M, False),
    _real(
        "Triple-S Management Corporation",
        "triplesmanagement.com",
        "Triple-S",
        "",
        "san_juan",
        "Insurance",
        4_000,
        4_000 * M,
        False,
    ),
    _real("Bombardier Inc.", "bombardier.com", "Bombardier", "", "montreal", "Aerospace", 18_100, 8 * B, False),
    _real("CGI Inc.", "cgi.com", "CGI", "", "montreal", "Technology", 90_250, 14_300 * M, True),
    _real(
        "Desjardins Group",
        "desjardins.com",
        "Mouvement Desjardins;Desjardins",
        "",
        "quebec_city",
        "Financial Services",
        56_000,
        22 * B,
        False,
    ),
    _real("Cirque du Soleil", "cirquedusoleil.com", "Cirque", "", "montreal", "Entertainment", 4_000, None, False),
    _real(
        "Alimentation Couche-Tard Inc.",
        "couche-tard.com",
        "Couche-Tard;Circle K",
        "",
        "laval",
        "Retail",
        150_000,
        69 * B,
        False,
    ),
    _real("Shopify Inc.", "shopify.com", "Shopify", "", "ottawa", "Software", 8_100, 7_100 * M, False),
    _real(
        "Barclays PLC",
        "barclays.com;barclays.co.uk",
        "Barclays",
        "",
        "london",
        "Financial Services",
        92_400,
        25 * B,
        True,
    ),
    _real(
        "HSBC Holdings plc", "hsbc.com;hsbc.co.uk", "HSBC", "", "london", "Financial Services", 220_000, 66 * B, False
    ),
    _real(
        "Deutsche Bank AG",
        "db.com;deutsche-bank.de",
        "Deutsche Bank",
        "",
        "frankfurt",
        "Financial Services",
        90_000,
        30 * B,
        False,
    ),
    _real("Siemens AG", "siemens.com", "Siemens", "", "munich", "Manufacturing", 320_000, 84 * B, True),
    _real(
        "Siemens Healthineers AG",
        "siemens-healthineers.com",
        "Healthineers",
        "siemens.com",
        "munich",
        "Healthcare",
        71_000,
        23 * B,
        False,
    ),
    _real("SAP SE", "sap.com", "SAP", "", "walldorf", "Software", 107_000, 34 * B, True),
    _real(
        "Société Générale S.A.",
        "societegenerale.com",
        "SocGen",
        "",
        "paris",
        "Financial Services",
        117_000,
        27 * B,
        False,
    ),
    _real(
        "Bank Leumi le-Israel B.M.",
        "leumi.co.il",
        "Bank Leumi;Leumi",
        "",
        "tel_aviv",
        "Financial Services",
        8_000,
        5 * B,
        True,
    ),
    _real(
        "Check Point Software Technologies Ltd.",
        "checkpoint.com",
        "Check Point",
        "",
        "tel_aviv",
        "Software",
        6_500,
        2_400 * M,
        False,
    ),
    _real(
        "Teva Pharmaceutical Industries Ltd.",
        "tevapharm.com",
        "Teva",
        "",
        "tel_aviv",
        "Pharmaceuticals",
        37_000,
        15_800 * M,
        False,
    ),
    _real("Wix.com Ltd.", "wix.com", "Wix", "", "tel_aviv", "Software", 5_000, 1_600 * M, False),
    _real("Adyen N.V.", "adyen.com", "Adyen", "", "amsterdam", "Financial Services", 3_900, 1_600 * M, False),
    _real("Accenture plc", "accenture.com", "Accenture", "", "dublin", "Consulting", 774_000, 64 * B, False),
    _real(
        "Toyota Motor Corporation", "toyota-global.com", "Toyota", "", "tokyo", "Automotive", 380_000, 274 * B, False
    ),
    _real("Atlassian Corporation", "atlassian.com", "Atlassian", "", "sydney", "Software", 12_000, 4_400 * M, False),
)

# Fictional companies: word lists, and each country's legal forms and web suffixes.
_FIRST = (
    "Harbor", "Summit", "Bluefin", "Granite", "Northwind", "Cedar", "Ironwood", "Lakeshore", "Redwood", "Silverline",
    "Brightwater", "Copperleaf", "Evergreen", "Falcon", "Foxglove", "Highland", "Juniper", "Keystone", "Lumen",
    "Meridian", "Northstar", "Oakridge", "Pinecrest", "Quarry", "Riverbend", "Sagebrush", "Tidewater", "Vantage",
    "Westbrook", "Yellowstone", "Aurora", "Beacon", "Crescent", "Driftwood", "Emberly", "Fairview",
)  # fmt: skip
_SECOND = {
    "Financial Services": ("Capital", "Credit Union", "Bancorp", "Financial", "Payments", "Trust"),
    "Healthcare": ("Health", "Medical", "Clinics", "Diagnostics", "Care"),
    "Manufacturing": ("Manufacturing", "Industries", "Precision", "Machining", "Components"),
    "Retail": ("Outfitters", "Markets", "Goods", "Stores", "Supply"),
    "Software": ("Software", "Analytics", "Labs", "Cloud", "Data"),
    "Logistics": ("Logistics", "Freight", "Shipping", "Transport"),
    "Energy": ("Energy", "Power", "Solar", "Renewables"),
    "Insurance": ("Insurance", "Mutual", "Assurance"),
    "Hospitality": ("Hotels", "Hospitality", "Resorts"),
}
_LEGAL = {
    "US": ("Inc.", "LLC", "Corp.", "Inc."),
    "PR": ("LLC", "Inc."),
    "CA": ("Inc.", "Ltd.", "Inc."),
    "GB": ("Ltd", "PLC", "Ltd"),
    "IE": ("Ltd", "DAC"),
    "DE": ("GmbH", "AG", "GmbH"),
    "FR": ("SAS", "S.A."),
    "NL": ("B.V.", "N.V."),
    "IL": ("Ltd.",),
    "JP": ("K.K.",),
    "AU": ("Pty Ltd",),
}
_TLD = {"US": "com", "PR": "com", "CA": "ca", "GB": "co.uk", "IE": "ie", "DE": "de", "FR": "fr", "NL": "nl"}
_TLD.update({"IL": "co.il", "JP": "co.jp", "AU": "com.au"})
# Where fictional companies are: weights lean on the territories, a few are unassigned.
_PLACE_WEIGHTS = (
    ("new_york", 14), ("boston", 6), ("philadelphia", 4), ("atlanta", 4), ("miami", 5), ("raleigh", 3),
    ("san_francisco", 10), ("seattle", 6), ("denver", 4), ("austin", 6), ("chicago", 6), ("san_juan", 6),
    ("montreal", 6), ("quebec_city", 3), ("toronto", 3), ("london", 7), ("frankfurt", 3), ("munich", 3),
    ("paris", 3), ("amsterdam", 2), ("dublin", 2), ("tel_aviv", 6), ("tokyo", 1), ("sydney", 1),
)  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _fictional(rng: random.Random, count: int, taken: set[str]) -> list[DemoAccount]:
    places = [p for p, _ in _PLACE_WEIGHTS]
    weights = [w for _, w in _PLACE_WEIGHTS]
    out: list[DemoAccount] = []
    while len(out) < count:
        industry = rng.choice(sorted(_SECOND))
        place_key = rng.choices(places, weights)[0]
        place = PLACES[place_key]
        first, second = rng.choice(_FIRST), rng.choice(_SECOND[industry])
        domain = f"{_slug(first)}{_slug(second)}.{_TLD[place.country]}"
        if domain in taken:
            continue
        taken.add(domain)
        legal = rng.choice(_LEGAL[place.country])
        size = rng.choice((20, 60, 150, 400, 900, 2_500, 6_000, 15_000))
        employees = rng.randrange(size // 2, size * 2)
        revenue = round(employees * rng.randrange(80_000, 400_000), -5) if rng.random() < 0.8 else None
        account = DemoAccount(
            name=f"{first} {second} {legal}",
            domains=[domain],
            place=place_key,
            industry=industry,
            employees=employees,
            revenue=revenue,
            customer=rng.random() < 0.3,
        )
        if rng.random() < 0.25:  # people write the short name
            account.aliases.append(f"{first} {second}")
        if rng.random() < 0.1:
            alternate = f"{_slug(first)}-{_slug(second)}.com"
            if alternate not in taken:
                taken.add(alternate)
                account.domains.append(alternate)
        out.append(account)
    # Groups: some companies own others of their own country (up to three levels).
    for i, account in enumerate(out):
        if i < 20 or rng.random() > 0.18:
            continue
        country = PLACES[account.place].country
        parents = [p for p in out[:i] if PLACES[p.place].country == country and _depth(p, out) < 2]
        if parents:
            account.parent = rng.choice(parents).domains[0]
    return out


def _depth(account: DemoAccount, accounts: list[DemoAccount]) -> int:
    by_domain = {a.domains[0]: a for a in accounts}
    depth = 0
    while account.parent:
        account = by_domain[account.parent]
        depth += 1
    return depth


def _owners(rng: random.Random, accounts: list[DemoAccount]) -> None:
    """Sales owners (some named accounts), account managers and success managers of customers."""
    for account in accounts:
        place = PLACES[account.place]
        if place.sellers and (account.customer or rng.random() < 0.35):
            account.sales_owner = rng.choice(place.sellers)
            account.named = rng.random() < 0.3
        if account.customer:
            region = "US" if place.country == "US" else "other"
            account.account_manager = ACCOUNT_MANAGERS[region]
            if rng.random() < 0.5:
                account.customer_success = CUSTOMER_SUCCESS


def accounts(seed: int) -> list[DemoAccount]:
    rng = random.Random(seed)
    book = [
        DemoAccount(**{**a.__dict__, "aliases": list(a.aliases), "domains": list(a.domains)}) for a in REAL_ACCOUNTS
    ]
    taken = {d for a in book for d in a.domains}
    book.extend(_fictional(rng, FICTIONAL_ACCOUNTS, taken))
    _owners(rng, book)
    return sorted(book, key=lambda a: a.domains[0])


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def accounts_csv(book: list[DemoAccount]) -> str:
    rows = []
    for a in book:
        place = PLACES[a.place]
        rows.append(
            [
                a.name,
                ";".join(a.domains),
                ";".join(a.aliases),
                a.parent,
                place.country,
                place.subdivision,
                place.city,
                place.postal_code,
                a.industry,
                _number(a.employees),
                _number(a.revenue),
                "CUSTOMER" if a.customer else "PROSPECT",
                a.sales_owner,
                a.account_manager,
                a.customer_success,
                "true" if a.named else "false",
            ]
        )
    return csv_text(columns=ACCOUNTS_COLUMNS, rows=rows, numeric=ACCOUNTS_NUMERIC)


_DEALS = (
    "Platform expansion", "Pilot", "Renewal", "Enterprise licence", "Analytics add-on", "Security review",
    "Regional rollout", "Data migration", "Premium support", "Partner bundle",
)  # fmt: skip


def opportunities_csv(rng: random.Random, book: list[DemoAccount]) -> str:
    rows: list[tuple[str, str, str, str, str, datetime]] = []
    for a in book:
        owner = a.sales_owner or a.account_manager
        if not owner or rng.random() > 0.45:
            continue
        for deal in rng.sample(_DEALS, rng.choice((1, 1, 2))):
            created = OPPORTUNITIES_UNTIL - timedelta(days=rng.randrange(0, 420), minutes=rng.randrange(0, 24 * 60))
            created = created.replace(second=0)
            status = rng.choices(("open", "won", "lost"), (6, 3, 2))[0]
            amount = Decimal(rng.randrange(5, 900) * 1000) + Decimal(rng.choice((0, 0, 50, 99))) / 100
            name = f"{deal} {created.year}"
            rows.append((a.domains[0], name, owner, status, f"{amount:.2f}", created))
    rows.sort(key=lambda r: (r[0], r[1], r[5]))
    return csv_text(
        columns=OPPORTUNITIES_COLUMNS,
        rows=[[d, n, o, s, amount, format_time(t)] for d, n, o, s, amount, t in rows],
        numeric=OPPORTUNITIES_NUMERIC,
    )


def reps_csv() -> str:
    rows = [
        [r.email, r.name, r.role, r.manager, _number(r.capacity), r.status, ";".join(r.territories)]
        for r in sorted(REPS, key=lambda r: r.email)
    ]
    return csv_text(columns=REPS_COLUMNS, rows=rows, numeric=REPS_NUMERIC)


def partners_csv() -> str:
    return csv_text(columns=PARTNERS_COLUMNS, rows=[[PARTNER_NAME, e, n] for e, n in sorted(PARTNER_USERS)])


def generate(seed: int = DEFAULT_SEED) -> dict[str, str]:
    """The five files of the demo book, by file name."""
    book = accounts(seed)
    return {
        "reps.csv": reps_csv(),
        "partners.csv": partners_csv(),
        "territories.yaml": dump_territories_yaml(territories_document()),
        "accounts.csv": accounts_csv(book),
        "opportunities.csv": opportunities_csv(random.Random(seed * 7919 + 1), book),
    }
