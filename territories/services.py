"""Writes of reps, partners and rule sets: the reps.csv / partners.csv imports and the
territories.yaml lifecycle (import as a draft -> validate -> publish).

Every import is all-or-nothing: the whole file is checked first and every problem is
reported with its place in the file; only a file without problems is written, in one
transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import holidays
import yaml
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max

from leadowner.csvio import (
    FORMULA_START,
    CsvRow,
    ImportFailed,
    ImportReport,
    Progress,
    RowError,
    check_refused,
    read_csv,
    split_list,
)
from leadowner.errors import ErrorCode, ServiceError
from routing.normalize import country_code, subdivision_code
from territories.models import (
    DistributionMethod,
    Partner,
    PartnerUser,
    Rep,
    RepRole,
    RepStatus,
    RuleSet,
    RuleSetStatus,
    Territory,
    TerritoryMember,
)
from territories.policy import Policy, PolicyValidationError
from territories.selectors import (
    CRITERIA_KEYS,
    PARTNERS_COLUMNS,
    RANGE_KEYS,
    REPS_COLUMNS,
    REPS_NUMERIC,
    export_rule_set,
    published_rule_set,
    territories_of,
)

__all__ = [
    "RuleSetInvalid",
    "RuleSetProblem",
    "export_rule_set",
    "import_partners",
    "import_reps",
    "import_rule_set",
    "publish_rule_set",
    "validate_rule_set",
]

MAX_INT = 2_147_483_647
MAX_BIGINT = 9_223_372_036_854_775_807
MAX_YAML_CHARS = 2_000_000
PROGRESS_EVERY = 500


# --- shared cell checks ----------------------------------------------------------------


def clean_email(value: str) -> str:
    """A lower-cased, valid email address, or ValueError with the reason."""
    email = value.strip().lower()
    if not email:
        raise ValueError("is required")
    if len(email) > 254:
        raise ValueError("is longer than 254 characters")
    try:
        validate_email(email)
    except ValidationError:
        raise ValueError(f"{value!r} is not an email address") from None
    return email


def _choice(value: str, choices: Iterable[str], *, default: str | None = None) -> str:
    options = list(choices)
    key = value.strip().upper()
    if not key:
        if default is not None:
            return default
        raise ValueError(f"is required (one of {', '.join(options)})")
    if key not in options:
        raise ValueError(f"{value!r} is not one of {', '.join(options)}")
    return key


def _whole_number(value: str, *, maximum: int = MAX_INT) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{value!r} is not a whole number of 0 or more")
    number = int(text)
    if number > maximum:
        raise ValueError(f"{number} is too large (at most {maximum})")
    return number


def _text(value: str, *, max_length: int, required: bool = False) -> str:
    text = value.strip()
    if required and not text:
        raise ValueError("is required")
    if len(text) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    return text


def _first_lines(rows: Iterable[CsvRow], column: str) -> dict[str, int]:
    """The first line each valid email of `column` appears on (bad rows count too)."""
    first: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r.line):
        try:
            email = clean_email(row.values.get(column, ""))
        except ValueError:
            continue
        first.setdefault(email, row.line)
    return first


def _report(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress(phase, done, total)


# --- reps.csv ------------------------------------------------------------------------------


@dataclass
class _RepRow:
    line: int
    email: str
    name: str
    role: str
    manager_email: str
    capacity: int | None
    status: str
    territory_names: list[str]


def _parse_rep(row: CsvRow, errors: list[RowError]) -> _RepRow | None:
    values: dict[str, Any] = {}
    ok = True
    checks: list[tuple[str, Any]] = [
        ("email", clean_email),
        ("name", lambda v: _text(v, max_length=200, required=True)),
        ("role", lambda v: _choice(v, RepRole.values)),
        ("manager_email", lambda v: clean_email(v) if v.strip() else ""),
        ("capacity", _whole_number),
        ("status", lambda v: _choice(v, RepStatus.values, default=RepStatus.ACTIVE)),
        ("territories", split_list),
    ]
    for column, check in checks:
        try:
            values[column] = check(row[column])
        except ValueError as exc:
            errors.append(RowError(row.line, column, str(exc)))
            ok = False
    if not ok:
        return None
    names: list[str] = []
    for name in values["territories"]:
        if len(name) > 200:
            errors.append(RowError(row.line, "territories", f"territory name {name[:40]!r}… is too long"))
            return None
        if name not in names:
            names.append(name)
    if values["manager_email"] == values["email"]:
        errors.append(RowError(row.line, "manager_email", "a rep cannot be their own manager"))
        return None
    return _RepRow(
        line=row.line,
        email=values["email"],
        name=values["name"],
        role=values["role"],
        manager_email=values["manager_email"],
        capacity=values["capacity"],
        status=values["status"],
        territory_names=names,
    )


def _manager_cycles(chain: dict[str, str], start_at: Iterable[str]) -> dict[str, list[str]]:
    """For each email in `start_at` that sits on a loop of `chain`, the loop (email -> manager)."""
    loops: dict[str, list[str]] = {}
    settled: set[str] = set()
    for start in start_at:
        path: list[str] = []
        where: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in settled:
            if node in where:
                loop = path[where[node] :]
                for member in loop:
                    loops[member] = [*loop[loop.index(member) :], *loop[: loop.index(member)], member]
                break
            where[node] = len(path)
            path.append(node)
            node = chain.get(node) or None
        settled.update(path)
    return loops


def import_reps(data: bytes | str, *, actor: str, now: datetime, progress: Progress | None = None) -> ImportReport:
    """Import reps.csv: upsert by email. Managers are reps in the database or in the file."""
    table = read_csv(data, columns=REPS_COLUMNS, numeric=REPS_NUMERIC)
    errors = list(table.errors)
    total = len(table.rows)
    check_refused(table.partial, _parse_rep, errors)
    parsed: list[_RepRow] = []
    first_line = _first_lines(table.rows + table.partial, "email")
    for done, row in enumerate(table.rows, 1):
        rep_row = _parse_rep(row, errors)
        _report(progress, "checking", done, total)
        if rep_row is None:
            continue
        if first_line[rep_row.email] != rep_row.line:
            errors.append(RowError(row.line, "email", f"{rep_row.email} is also on line {first_line[rep_row.email]}"))
            continue
        parsed.append(rep_row)

    existing = {rep.email: rep for rep in Rep.objects.select_related("manager")}
    chain = {email: (rep.manager.email if rep.manager else "") for email, rep in existing.items()}
    for rep_row in parsed:
        chain[rep_row.email] = rep_row.manager_email
        if rep_row.manager_email and rep_row.manager_email not in existing and rep_row.manager_email not in first_line:
            errors.append(
                RowError(rep_row.line, "manager_email", f"{rep_row.manager_email} is not a rep (here or already)")
            )
    in_file = {r.email for r in parsed}
    for email, loop in _manager_cycles(chain, [r.email for r in parsed]).items():
        if email in in_file:
            errors.append(RowError(first_line[email], "manager_email", "manager chain loops: " + " -> ".join(loop)))
    if errors:
        raise ImportFailed(errors, filename="reps.csv")

    report = ImportReport()
    with transaction.atomic():
        new = [
            Rep(
                email=r.email,
                name=r.name,
                role=r.role,
                capacity=r.capacity,
                status=r.status,
                territory_names=r.territory_names,
                departed_at=now if r.status == RepStatus.DEPARTED else None,
            )
            for r in parsed
            if r.email not in existing
        ]
        for rep in Rep.objects.bulk_create(new):
            existing[rep.email] = rep
        # Refresh ids of the new rows (SQLite may not return them on old versions).
        ids = dict(Rep.objects.filter(email__in=[r.email for r in parsed]).values_list("email", "id"))
        created = {rep.email for rep in new}
        changed: list[Rep] = []
        for r in parsed:
            rep = existing[r.email]
            rep.pk = ids[r.email]
            manager_id = ids.get(r.manager_email) or (existing[r.manager_email].pk if r.manager_email else None)
            wanted = {
                "name": r.name,
                "role": r.role,
                "manager_id": manager_id,
                "capacity": r.capacity,
                "status": r.status,
                "territory_names": r.territory_names,
            }
            diff: dict[str, Any] = {k: v for k, v in wanted.items() if getattr(rep, k) != v}
            if "status" in diff:
                if r.status == RepStatus.DEPARTED and rep.departed_at is None:
                    diff["departed_at"] = now
                elif r.status != RepStatus.DEPARTED:
                    diff["departed_at"] = None
            if diff:
                for key, value in diff.items():
                    setattr(rep, key, value)
                changed.append(rep)
            if r.email in created:
                report.created += 1
            elif diff:
                report.updated += 1
            else:
                report.unchanged += 1
        if changed:
            fields = ["name", "role", "manager", "capacity", "status", "territory_names", "departed_at"]
            Rep.objects.bulk_update(changed, fields, batch_size=1000)
    return report


# --- partners.csv --------------------------------------------------------------------------


def _parse_partner(row: CsvRow, errors: list[RowError]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    ok = True
    for column, check in (
        ("partner", lambda v: _text(v, max_length=200, required=True)),
        ("email", clean_email),
        ("name", lambda v: _text(v, max_length=200, required=True)),
    ):
        try:
            values[column] = check(row[column])
        except ValueError as exc:
            errors.append(RowError(row.line, column, str(exc)))
            ok = False
    return values if ok else None


def import_partners(data: bytes | str, *, actor: str, now: datetime, progress: Progress | None = None) -> ImportReport:
    """Import partners.csv (`partner,email,name`): partners by name, their users upserted by email."""
    table = read_csv(data, columns=PARTNERS_COLUMNS)
    errors = list(table.errors)
    first_line = _first_lines(table.rows + table.partial, "email")
    check_refused(table.partial, _parse_partner, errors)
    parsed: list[tuple[int, str, str, str]] = []
    total = len(table.rows)
    for done, row in enumerate(table.rows, 1):
        _report(progress, "checking", done, total)
        values = _parse_partner(row, errors)
        if values is None:
            continue
        email = values["email"]
        if first_line[email] != row.line:
            errors.append(RowError(row.line, "email", f"{email} is also on line {first_line[email]}"))
            continue
        parsed.append((row.line, values["partner"], email, values["name"]))
    if errors:
        raise ImportFailed(errors, filename="partners.csv")

    report = ImportReport()
    with transaction.atomic():
        partners = {p.name: p for p in Partner.objects.filter(name__in={p for _, p, _, _ in parsed})}
        for name in sorted({p for _, p, _, _ in parsed} - set(partners)):
            partners[name] = Partner.objects.create(name=name)
        users = {u.email: u for u in PartnerUser.objects.filter(email__in=[e for _, _, e, _ in parsed])}
        for _line, partner_name, email, name in parsed:
            partner = partners[partner_name]
            user = users.get(email)
            if user is None:
                PartnerUser.objects.create(partner=partner, email=email, name=name)
                report.created += 1
            elif user.partner_id != partner.pk or user.name != name:
                PartnerUser.objects.filter(pk=user.pk).update(partner=partner, name=name)
                report.updated += 1
            else:
                report.unchanged += 1
    return report


# --- territories.yaml: problems ------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetProblem:
    """Something wrong with a rule set, with its place in territories.yaml when known."""

    line: int | None
    territory: str | None
    field: str
    message: str

    def __str__(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.territory is not None:
            parts.append(f"territory {self.territory!r}")
        parts.append(f"{self.field}: {self.message}" if self.field else self.message)
        return ": ".join(parts)


class RuleSetInvalid(ServiceError):
    """The rule set (or file) has problems; nothing was written. Carries every problem."""

    def __init__(self, problems: list[RuleSetProblem], *, message: str | None = None) -> None:
        ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.territory or "", p.field))
        noun = "problem" if len(ordered) == 1 else "problems"
        super().__init__(ErrorCode.INVALID, message or f"territories.yaml: {len(ordered)} {noun}", "territories")
        self.problems = ordered

    def __str__(self) -> str:
        return "\n".join([self.message, *(str(p) for p in self.problems)])


DISTRIBUTIONS = {m.value.lower(): m.value for m in DistributionMethod}
TOP_KEYS = ("calendar", "note", "policy", "territories")
TERRITORY_KEYS = ("name", "parent", "priority", "distribution", "members", "match")
LIST_KEYS = ("countries", "subdivisions", "cities", "postal_prefixes", "industries")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")


def iso_country(value: str) -> str | None:
    """ISO 3166-1 alpha-2 of a code or a name (routing.normalize.country_code), but a
    two-letter value must be a real code: `XX` is not fuzzily read as some country."""
    text = value.strip()
    code = country_code(text)
    if code is not None and len(text) == 2 and text.upper() not in (code, "UK"):
        return None
    return code


def _calendar_problem(value: str) -> tuple[str | None, str | None]:
    """(ISO code, None) for a calendar the holidays package knows, else (None, reason)."""
    code = iso_country(value) if value else None
    if code is None:
        return None, f"unknown country {value!r} (use an ISO 3166-1 code such as US)"
    if code not in holidays.list_supported_countries():
        return None, f"no holiday calendar for {code}"
    return code, None


def _criteria_item(key: str, value: Any, countries: list[str]) -> tuple[Any, str | None]:
    """One value of a list criterion, normalised (ISO codes), or the reason it is wrong."""
    if isinstance(value, bool) or not isinstance(value, str):
        hint = ' (quote it: "100")' if key == "postal_prefixes" and isinstance(value, int) else ""
        return None, f"{value!r} must be text{hint}"
    text = value.strip()
    if not text:
        return None, "empty value"
    if key == "countries":
        code = iso_country(text)
        if code is None:
            return None, f"unknown country {text!r} (use an ISO 3166-1 code such as US)"
        return code, None
    if key == "subdivisions":
        sub = subdivision_code(text, countries[0] if len(countries) == 1 else None)
        if sub is None:
            return None, f"unknown subdivision {text!r} (use an ISO 3166-2 code such as CA-QC)"
        if countries and sub.split("-")[0] not in countries:
            return None, f"{sub} is not in any of the countries {', '.join(countries)}, so it can never match"
        return sub, None
    if key == "postal_prefixes":
        if not _POSTAL.match(text):
            return None, f"{text!r} is not a postal-code prefix"
        return text.upper(), None
    if len(text) > 120:
        return None, f"{text[:40]!r}… is longer than 120 characters"
    return text, None


def _range_problems(value: Any) -> tuple[dict[str, int] | None, list[tuple[str, str]]]:
    """A {min, max} range, or its problems as (sub-key, reason)."""
    if not isinstance(value, dict):
        return None, [("", "must be a mapping such as {min: 0, max: 500}")]
    problems: list[tuple[str, str]] = []
    out: dict[str, int] = {}
    for key, raw in value.items():
        if key not in RANGE_KEYS:
            problems.append((str(key), "unknown key (use min and max)"))
        elif raw is None:
            continue
        elif isinstance(raw, bool) or not isinstance(raw, int) or raw < 0 or raw > MAX_BIGINT:
            problems.append((key, f"{raw!r} must be a whole number of 0 or more"))
        else:
            out[key] = raw
    if not problems and not out:
        problems.append(("", "give min, max or both"))
    if "min" in out and "max" in out and out["min"] > out["max"]:
        problems.append(("", f"min {out['min']} is more than max {out['max']}"))
    return (None if problems else {k: out[k] for k in RANGE_KEYS if k in out}), problems


def _stored_criteria_problems(criteria: Any) -> list[tuple[str, str]]:
    """Problems of criteria as stored on a Territory, as (key, reason)."""
    if not isinstance(criteria, dict):
        return [("match", "must be a mapping")]
    problems: list[tuple[str, str]] = []
    countries = criteria.get("countries") or []
    for key, value in criteria.items():
        if key not in CRITERIA_KEYS:
            problems.append((key, f"unknown criterion (known: {', '.join(CRITERIA_KEYS)})"))
        elif key in LIST_KEYS:
            if not isinstance(value, list):
                problems.append((key, "must be a list"))
                continue
            for item in value:
                normal, reason = _criteria_item(key, item, countries if isinstance(countries, list) else [])
                if reason is None and normal != item:
                    reason = f"{item!r} is not stored in its canonical form {normal!r}"
                if reason:
                    problems.append((key, reason))
        else:
            _, range_problems = _range_problems(value)
            problems.extend((key + (f".{sub}" if sub else ""), reason) for sub, reason in range_problems)
    return problems


# --- territories.yaml: parsing ---------------------------------------------------------------


@dataclass
class _MemberSpec:
    email: str
    weight: int
    line: int


@dataclass
class _TerritorySpec:
    name: str
    line: int
    position: int
    parent: str | None = None
    parent_line: int | None = None
    priority: int = 0
    distribution: str = DistributionMethod.ROUND_ROBIN
    members: list[_MemberSpec] = field(default_factory=list)
    criteria: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RuleSetSpec:
    calendar: str = "US"
    note: str = ""
    policy: dict[str, Any] = field(default_factory=lambda: Policy().as_dict())
    territories: list[_TerritorySpec] = field(default_factory=list)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    """Walks the composed YAML nodes so every problem can name its line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[RuleSetProblem] = []
        try:
            self.loader = yaml.SafeLoader(text)
        except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control character)
            self.loader = yaml.SafeLoader("")
            line = text.count("\n", 0, exc.position) + 1
            self.problem(line, "", f"not valid YAML: character #x{exc.character:04x} is not allowed")

    def problem(self, node: yaml.Node | int | None, fld: str, message: str, territory: str | None = None) -> None:
        line = node if isinstance(node, int) or node is None else _line(node)
        self.problems.append(RuleSetProblem(line, territory, fld, message))

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except Exception as exc:  # only PyYAML's constructors run here, on the file's text
            # A tag the safe loader refuses (!!python/...), a value its type cannot hold (2025-13-45),
            # or an explicit tag on text it cannot parse (!!timestamp 'x' raises AttributeError).
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else str(exc)
            self.problem(node, "", f"not valid YAML: {problem}")
            return None

    def mapping(
        self, node: yaml.Node, fld: str, known: Iterable[str], territory: str | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, fld, "must be a mapping (key: value lines)", territory)
            return None
        self.loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        allowed = list(known)
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{fld}.{key}" if fld else str(key)
            if not isinstance(key, str):
                self.problem(key_node, fld, f"key {key!r} must be text", territory)
            elif key in out:
                self.problem(key_node, where, f"appears twice (also on line {_line(out[key][0])})", territory)
            elif key not in allowed:
                self.problem(key_node, where, f"unknown key (known: {', '.join(allowed)})", territory)
            else:
                out[key] = (key_node, value_node)
        return out

    def text_value(self, node: yaml.Node, fld: str, territory: str | None = None, max_length: int = 200) -> str | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.problem(node, fld, "must be non-empty text", territory)
            return None
        if len(value.strip()) > max_length:
            self.problem(node, fld, f"is longer than {max_length} characters", territory)
            return None
        return value.strip()

    def parse(self) -> _RuleSetSpec:
        spec = _RuleSetSpec()
        if len(self.text) > MAX_YAML_CHARS:
            self.problem(None, "", f"the file is larger than {MAX_YAML_CHARS:,} characters")
            return spec
        if self.problems:
            return spec
        try:
            root = self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.problem(int(mark.line) + 1 if mark else None, "", f"not valid YAML: {exc.problem or exc}")
            return spec
        except yaml.YAMLError as exc:
            self.problem(None, "", f"not valid YAML: {exc}")
            return spec
        if root is None:
            self.problem(1, "", "the file is empty; it needs at least `territories:`")
            return spec
        top = self.mapping(root, "", TOP_KEYS)
        if top is None:
            return spec
        if "calendar" in top:
            node = top["calendar"][1]
            text = self.text_value(node, "calendar")
            if text is not None:
                code, reason = _calendar_problem(text)
                if reason:
                    self.problem(node, "calendar", reason)
                else:
                    assert code is not None
                    spec.calendar = code
        if "note" in top:
            note = self.text_value(top["note"][1], "note", max_length=500)
            spec.note = note or ""
        if "policy" in top:
            spec.policy = self.parse_policy(top["policy"][1])
        if "territories" in top:
            spec.territories = self.parse_territories(top["territories"][1])
        else:
            self.problem(_line(root), "territories", "missing (give a list of territories, even an empty one: [])")
        return spec

    def parse_policy(self, node: yaml.Node) -> dict[str, Any]:
        default = Policy().as_dict()
        pairs = self.mapping(node, "policy", list(default))
        if pairs is None:
            return default
        raw = {key: self.value(value_node) for key, (_, value_node) in pairs.items()}
        try:
            return Policy.from_dict(raw).as_dict()
        except PolicyValidationError as exc:
            for error in exc.errors:
                where = pairs[error.key][1] if error.key in pairs else node
                self.problem(where, f"policy.{error.key}", error.message)
            return default

    def parse_territories(self, node: yaml.Node) -> list[_TerritorySpec]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "territories", "must be a list (each item starting with `- name:`)")
            return []
        out: list[_TerritorySpec] = []
        for position, item in enumerate(node.value):
            territory = self.parse_territory(item, position)
            if territory is not None:
                out.append(territory)
        by_name: dict[str, _TerritorySpec] = {}
        for territory in out:
            key = territory.name.casefold()
            if key in by_name:
                self.problem(
                    territory.line,
                    "name",
                    f"duplicate territory name (also on line {by_name[key].line})",
                    territory.name,
                )
            else:
                by_name[key] = territory
        for territory in out:
            if territory.parent is None:
                continue
            parent = by_name.get(territory.parent.casefold())
            if parent is None:
                self.problem(
                    territory.parent_line, "parent", f"no territory named {territory.parent!r} here", territory.name
                )
            elif parent is territory:
                self.problem(territory.parent_line, "parent", "a territory cannot be its own parent", territory.name)
            else:
                territory.parent = parent.name
        chain = {t.name: t.parent or "" for t in out}
        loops = _manager_cycles(chain, [t.name for t in out if t.parent and t.parent != t.name])
        for territory in out:
            if territory.name in loops:
                self.problem(
                    territory.parent_line,
                    "parent",
                    "parents loop: " + " -> ".join(loops[territory.name]),
                    territory.name,
                )
        self.check_members(out)
        return out

    def parse_territory(self, node: yaml.Node, position: int) -> _TerritorySpec | None:
        label = None  # the name, if there is one, so every problem of the item can say whose it is
        if isinstance(node, yaml.MappingNode):
            label = next(
                (str(v.value) for k, v in node.value if k.value == "name" and isinstance(v, yaml.ScalarNode)), None
            )
        pairs = self.mapping(node, "" if label else f"territories[{position + 1}]", TERRITORY_KEYS, label)
        if pairs is None:
            return None
        if "name" not in pairs:
            self.problem(node, "name", "missing: every territory needs a name")
            return None
        name = self.text_value(pairs["name"][1], "name")
        if name is None:
            return None
        if name[:1] in FORMULA_START:
            # The name reaches CSV exports and metrics downloads: never a cell a spreadsheet runs.
            self.problem(pairs["name"][1], "name", f"{name!r} starts with {name[0]!r}, which a spreadsheet runs", name)
            return None
        spec = _TerritorySpec(name=name, line=_line(node), position=position)
        if "parent" in pairs:
            spec.parent = self.text_value(pairs["parent"][1], "parent", name)
            spec.parent_line = _line(pairs["parent"][1])
        if "priority" in pairs:
            value_node = pairs["priority"][1]
            priority = self.value(value_node)
            if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_INT:
                self.problem(value_node, "priority", f"{priority!r} must be a whole number", name)
            else:
                spec.priority = priority
        if "distribution" in pairs:
            value_node = pairs["distribution"][1]
            distribution = self.value(value_node)
            key = distribution.strip().lower() if isinstance(distribution, str) else None
            if key not in DISTRIBUTIONS:
                self.problem(
                    value_node, "distribution", f"{distribution!r} is not one of {', '.join(DISTRIBUTIONS)}", name
                )
            else:
                spec.distribution = DISTRIBUTIONS[key]
        if "members" in pairs:
            spec.members = self.parse_members(pairs["members"][1], name)
        if "match" in pairs:
            spec.criteria = self.parse_match(pairs["match"][1], name)
        return spec

    def parse_members(self, node: yaml.Node, territory: str) -> list[_MemberSpec]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, "members", "must be a list of rep emails", territory)
            return []
        members: list[_MemberSpec] = []
        seen: dict[str, int] = {}
        for item in node.value:
            weight = 1
            email_node = item
            if isinstance(item, yaml.MappingNode):
                pairs = self.mapping(item, "members", ("email", "weight"), territory)
                if pairs is None:
                    continue
                if "email" not in pairs:
                    self.problem(item, "members", "a weighted member needs email:", territory)
                    continue
                email_node = pairs["email"][1]
                if "weight" in pairs:
                    raw = self.value(pairs["weight"][1])
                    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1000:
                        self.problem(pairs["weight"][1], "members.weight", f"{raw!r} must be 1 to 1000", territory)
                        continue
                    weight = raw
            raw_email = self.value(email_node) if isinstance(email_node, yaml.ScalarNode) else None
            try:
                email = clean_email(raw_email if isinstance(raw_email, str) else "")
            except ValueError:
                self.problem(email_node, "members", f"{raw_email!r} is not an email address", territory)
                continue
            if email in seen:
                self.problem(email_node, "members", f"{email} is listed twice (also line {seen[email]})", territory)
                continue
            seen[email] = _line(email_node)
            members.append(_MemberSpec(email=email, weight=weight, line=_line(email_node)))
        return members

    def parse_match(self, node: yaml.Node, territory: str) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode) and self.value(node) is None:
            return {}
        pairs = self.mapping(node, "match", CRITERIA_KEYS, territory)
        if pairs is None:
            return {}
        criteria: dict[str, Any] = {}
        countries: list[str] = []
        for key in CRITERIA_KEYS:  # countries first: subdivisions are checked against them
            if key not in pairs:
                continue
            value_node = pairs[key][1]
            fld = f"match.{key}"
            if key in LIST_KEYS:
                items = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                values: list[Any] = []
                for item in items:
                    if not isinstance(item, yaml.ScalarNode):
                        self.problem(item, fld, "must be a list of text values", territory)
                        continue
                    normal, reason = _criteria_item(key, self.value(item), countries)
                    if reason:
                        self.problem(item, fld, reason, territory)
                    elif normal not in values:
                        values.append(normal)
                if values:
                    criteria[key] = values
                    if key == "countries":
                        countries = values
            else:
                rng, problems = _range_problems(self.value(value_node))
                for sub, reason in problems:
                    self.problem(value_node, fld + (f".{sub}" if sub else ""), reason, territory)
                if rng:
                    criteria[key] = rng
        return criteria

    def check_members(self, territories: list[_TerritorySpec]) -> None:
        emails = {m.email for t in territories for m in t.members}
        reps = dict(Rep.objects.filter(email__in=emails).values_list("email", "status"))
        for territory in territories:
            for member in territory.members:
                status = reps.get(member.email)
                if status is None:
                    self.problem(member.line, "members", f"unknown rep {member.email}", territory.name)
                elif status == RepStatus.DEPARTED:
                    self.problem(member.line, "members", f"{member.email} has departed", territory.name)


# --- territories.yaml: lines of a stored rule set's source ----------------------------------


class _SourceLines:
    """Line numbers of the places in a rule set's territories.yaml, found by name."""

    def __init__(self, source: str) -> None:
        self.top: dict[str, int] = {}
        self.policy: dict[str, int] = {}
        self.territory: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.members: dict[str, dict[str, int]] = {}
        if not source:
            return
        try:
            root = yaml.compose(source, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return
        if not isinstance(root, yaml.MappingNode):
            return
        for key_node, value_node in root.value:
            self.top[str(key_node.value)] = _line(value_node)
            if key_node.value == "policy" and isinstance(value_node, yaml.MappingNode):
                self.policy = {str(k.value): _line(v) for k, v in value_node.value}
            if key_node.value == "territories" and isinstance(value_node, yaml.SequenceNode):
                for item in value_node.value:
                    if isinstance(item, yaml.MappingNode):
                        self._territory(item)

    def _territory(self, item: yaml.MappingNode) -> None:
        pairs = {str(k.value): (k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)}
        if "name" not in pairs or not isinstance(pairs["name"][1], yaml.ScalarNode):
            return
        name = str(pairs["name"][1].value).strip()
        self.territory.setdefault(name, _line(item))
        for key, (_, value_node) in pairs.items():
            self.keys.setdefault((name, key), _line(value_node))
        match = pairs.get("match", (None, None))[1]
        if isinstance(match, yaml.MappingNode):
            for k, v in match.value:
                self.keys.setdefault((name, f"match.{k.value}"), _line(v))
        members = pairs.get("members", (None, None))[1]
        if isinstance(members, yaml.SequenceNode):
            found: dict[str, int] = {}
            for m in members.value:
                node = m
                if isinstance(m, yaml.MappingNode):
                    node = next((v for k, v in m.value if k.value == "email"), m)
                if isinstance(node, yaml.ScalarNode):
                    found.setdefault(str(node.value).strip().lower(), _line(node))
            self.members[name] = found

    def at(self, territory: str, key: str) -> int | None:
        return self.keys.get((territory, key)) or self.territory.get(territory)


def validate_rule_set(rule_set: RuleSet) -> list[RuleSetProblem]:
    """Every problem that stops a rule set from routing, with its line in the source when known.

    Checks the stored rule set: calendar, policy, each territory's criteria, names,
    parents, members (known, not departed), and asks territories.matching which
    territories would be ambiguous (equally specific, equal priority, overlapping).
    """
    lines = _SourceLines(rule_set.source)
    problems: list[RuleSetProblem] = []
    _, reason = _calendar_problem(rule_set.calendar)
    if reason:
        problems.append(RuleSetProblem(lines.top.get("calendar"), None, "calendar", reason))
    try:
        Policy.from_dict(rule_set.policy)
    except PolicyValidationError as exc:
        problems.extend(
            RuleSetProblem(lines.policy.get(e.key, lines.top.get("policy")), None, f"policy.{e.key}", e.message)
            for e in exc.errors
        )
    territories = territories_of(rule_set)
    missing: list[tuple[str, str, int]] = []
    names: dict[str, Territory] = {}
    for territory in territories:
        key = territory.name.casefold()
        if key in names:
            problems.append(
                RuleSetProblem(lines.at(territory.name, "name"), territory.name, "name", "duplicate territory name")
            )
        names.setdefault(key, territory)
        if territory.distribution not in DistributionMethod.values:
            problems.append(
                RuleSetProblem(
                    lines.at(territory.name, "distribution"),
                    territory.name,
                    "distribution",
                    f"{territory.distribution!r} is not a distribution method",
                )
            )
        if territory.parent is not None and territory.parent.rule_set_id != rule_set.pk:
            problems.append(
                RuleSetProblem(
                    lines.at(territory.name, "parent"), territory.name, "parent", "parent is in another rule set"
                )
            )
        for key_name, message in _stored_criteria_problems(territory.criteria):
            base = key_name.split(".")[0]
            problems.append(
                RuleSetProblem(lines.at(territory.name, f"match.{base}"), territory.name, f"match.{key_name}", message)
            )
        stored = {m.rep.email for m in territory.memberships.all()}
        for membership in territory.memberships.all():
            if membership.rep.status == RepStatus.DEPARTED:
                line = lines.members.get(territory.name, {}).get(membership.rep.email)
                problems.append(
                    RuleSetProblem(
                        line or lines.at(territory.name, "members"),
                        territory.name,
                        "members",
                        f"{membership.rep.email} has departed",
                    )
                )
        missing.extend(
            (territory.name, email, line)
            for email, line in lines.members.get(territory.name, {}).items()
            if email not in stored
        )
    # A member in the source that is not stored is a problem only if the rep is gone
    # (deleted); a draft edited after import may have dropped members on purpose.
    known = set(Rep.objects.filter(email__in={email for _, email, _ in missing}).values_list("email", flat=True))
    problems.extend(
        RuleSetProblem(line, name, "members", f"unknown rep {email}")
        for name, email, line in missing
        if email not in known
    )
    chain = {t.name: (t.parent.name if t.parent else "") for t in territories}
    for name, loop in _manager_cycles(chain, list(chain)).items():
        problems.append(RuleSetProblem(lines.at(name, "parent"), name, "parent", "parents loop: " + " -> ".join(loop)))
    problems.extend(_ambiguity_problems(territories, lines))
    return problems


def _first_named(message: str, names: Iterable[str]) -> str | None:
    """The territory a message names first (`'EMEA' and 'Israel' ...` -> EMEA)."""
    found = [(message.find(f"'{n}'"), n) for n in names]
    found = [(at, n) for at, n in found if at >= 0]
    return min(found)[1] if found else None


def _ambiguity_problems(territories: list[Territory], lines: _SourceLines) -> list[RuleSetProblem]:
    from territories.matching import find_ambiguities  # written alongside; imported when needed

    names = [t.name for t in territories]
    problems: list[RuleSetProblem] = []
    for message in find_ambiguities(territories):
        named = _first_named(message, names)
        problems.append(
            RuleSetProblem(lines.at(named, "match") if named else None, named, "match", f"ambiguous: {message}")
        )
    return problems


# --- territories.yaml: import and publish ------------------------------------------------------


def _next_version() -> int:
    return int(RuleSet.objects.aggregate(top=Max("version"))["top"] or 0) + 1


def _store(spec: _RuleSetSpec, text: str, *, actor: str) -> RuleSet:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                rule_set = RuleSet.objects.create(
                    version=_next_version(),
                    status=RuleSetStatus.DRAFT,
                    calendar=spec.calendar,
                    policy=spec.policy,
                    note=spec.note,
                    source=text,
                    created_by=actor[:200],
                )
            break
        except IntegrityError:
            continue  # another import took the version number; take the next one
    else:
        raise ServiceError(ErrorCode.CONFLICT, "could not allocate a rule-set version; try again")
    # One INSERT for every territory (bulk_create sets their ids on PostgreSQL and SQLite alike).
    created = Territory.objects.bulk_create(
        Territory(
            rule_set=rule_set,
            name=t.name,
            priority=t.priority,
            distribution=t.distribution,
            criteria=t.criteria,
            position=t.position,
        )
        for t in spec.territories
    )
    rows = {row.name: row for row in created}
    with_parent = []
    for t in spec.territories:
        if t.parent:
            rows[t.name].parent = rows[t.parent]
            with_parent.append(rows[t.name])
    Territory.objects.bulk_update(with_parent, ["parent"])
    reps = dict(
        Rep.objects.filter(email__in={m.email for t in spec.territories for m in t.members}).values_list("email", "id")
    )
    TerritoryMember.objects.bulk_create(
        TerritoryMember(territory=rows[t.name], rep_id=reps[m.email], weight=m.weight, position=i)
        for t in spec.territories
        for i, m in enumerate(t.members)
    )
    return rule_set


def import_rule_set(text: str, *, actor: str, now: datetime) -> RuleSet:
    """Import territories.yaml as a new DRAFT rule set (the next version number).

    A file with any problem creates nothing and raises RuleSetInvalid with every
    problem and its line.
    """
    parser = _Parser(text)
    try:
        spec = parser.parse()
    finally:
        parser.loader.dispose()
    if parser.problems:
        raise RuleSetInvalid(parser.problems)
    with transaction.atomic():
        rule_set = _store(spec, text, actor=actor)
        problems = validate_rule_set(rule_set)
        if problems:
            raise RuleSetInvalid(problems)  # rolls the draft back: all or nothing
    return rule_set


def publish_rule_set(*, version: int, actor: str, now: datetime) -> RuleSet:
    """Publish a valid draft and archive the rule set it replaces, in one transaction.

    The state changes are conditional updates and the database allows one published
    rule set, so of two concurrent publishes exactly one wins; the other gets CONFLICT.
    """
    try:
        with transaction.atomic():
            draft = RuleSet.objects.select_for_update().filter(version=version).first()
            if draft is None:
                raise ServiceError(ErrorCode.NOT_FOUND, f"there is no rule set v{version}", "version")
            if draft.status != RuleSetStatus.DRAFT:
                raise ServiceError(
                    ErrorCode.INVALID_TRANSITION,
                    f"v{version} is {draft.status.lower()}; only a draft can be published",
                    "version",
                )
            problems = validate_rule_set(draft)
            if problems:
                raise RuleSetInvalid(problems, message=f"v{version} has {len(problems)} problem(s); not published")
            current = published_rule_set()
            if current is not None:
                archived = RuleSet.objects.filter(pk=current.pk, status=RuleSetStatus.PUBLISHED).update(
                    status=RuleSetStatus.ARCHIVED
                )
                if archived != 1:
                    raise ServiceError(ErrorCode.CONFLICT, "another rule set was published meanwhile; try again")
            published = RuleSet.objects.filter(pk=draft.pk, status=RuleSetStatus.DRAFT).update(
                status=RuleSetStatus.PUBLISHED, published_at=now
            )
            if published != 1:
                raise ServiceError(ErrorCode.CONFLICT, f"v{version} changed meanwhile; try again")
    except IntegrityError:
        raise ServiceError(ErrorCode.CONFLICT, "another rule set was published meanwhile; try again") from None
    draft.refresh_from_db()
    return draft


# --- drafts: copy a version, edit its territories and its policy (the console) ------------------
# Imported here, not at the top, so this section stays an addition at the end of the module.
from collections.abc import Mapping, Sequence  # noqa: E402

from leadowner.actors import Actor  # noqa: E402
from leadowner.errors import ServiceErrors  # noqa: E402
from territories.models import RuleSetStatus as _Status  # noqa: E402

MAX_WEIGHT = 1000


class _Unchanged:
    """The default of an optional change that may also be set to None (a territory's parent)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


def _require_rule_editor(actor: Actor) -> None:
    if not actor.is_manager:
        raise ServiceError(ErrorCode.FORBIDDEN, "only managers and RevOps edit territories and rules")


def _locked_draft(rule_set_id: int, version: int) -> RuleSet:
    """The rule set, locked; only a draft may change (the lock is the one publish_rule_set takes)."""
    rule_set = RuleSet.objects.select_for_update().filter(pk=rule_set_id).first()
    if rule_set is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"there is no rule set v{version}", "version")
    if rule_set.status != _Status.DRAFT:
        raise ServiceError(
            ErrorCode.INVALID_TRANSITION,
            f"v{rule_set.version} is {rule_set.status.lower()} and cannot change; make a new draft from it",
            "version",
        )
    return rule_set


def _refresh_source(rule_set: RuleSet) -> None:
    """Keep the draft's territories.yaml in step with its rows, so validation's line numbers
    point into the file "download yaml" gives."""
    RuleSet.objects.filter(pk=rule_set.pk).update(source=export_rule_set(rule_set))


def create_draft_from(*, version: int, actor: Actor, now: datetime) -> RuleSet:
    """A new DRAFT (the next version) copying rule set `version`: calendar, policy, territories, members.

    Any version can be copied: the published one to change it, an archived one to roll back.
    """
    _require_rule_editor(actor)
    source = RuleSet.objects.filter(version=version).first()
    if source is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"there is no rule set v{version}", "version")
    originals = territories_of(source)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                draft = RuleSet.objects.create(
                    version=_next_version(),
                    status=_Status.DRAFT,
                    calendar=source.calendar,
                    policy=dict(source.policy or {}),
                    note=f"draft from v{source.version}"[:500],
                    source=source.source,
                    created_by=actor.label[:200],
                )
                made = Territory.objects.bulk_create(
                    Territory(
                        rule_set=draft,
                        name=t.name,
                        priority=t.priority,
                        distribution=t.distribution,
                        criteria=dict(t.criteria or {}),
                        position=t.position,
                    )
                    for t in originals
                )
                copies = {t.pk: copy for t, copy in zip(originals, made, strict=True)}
                with_parent = []
                for t in originals:
                    if t.parent_id is not None and t.parent_id in copies:
                        copies[t.pk].parent = copies[t.parent_id]
                        with_parent.append(copies[t.pk])
                Territory.objects.bulk_update(with_parent, ["parent"])
                TerritoryMember.objects.bulk_create(
                    TerritoryMember(territory=copies[t.pk], rep_id=m.rep_id, weight=m.weight, position=m.position)
                    for t in originals
                    for m in t.memberships.all()
                )
                _refresh_source(draft)
            break
        except IntegrityError:
            continue  # another draft or import took the version number; take the next one
    else:
        raise ServiceError(ErrorCode.CONFLICT, "could not allocate a rule-set version; try again")
    draft.refresh_from_db()
    return draft


def _apply_criteria(
    criteria: dict[str, Any],
    add: Mapping[str, Sequence[str]],
    remove: Mapping[str, Sequence[str]],
    ranges: Mapping[str, Mapping[str, Any] | None],
    errors: list[ServiceError],
) -> dict[str, Any]:
    out = {k: (list(v) if isinstance(v, list) else v) for k, v in criteria.items()}
    for key, values in remove.items():
        if key not in LIST_KEYS:
            errors.append(ServiceError(ErrorCode.INVALID, f"{key!r} is not a list criterion", key))
            continue
        current = list(out.get(key) or [])
        for value in values:
            folded = [str(v).casefold() for v in current]
            if str(value).strip().casefold() not in folded:
                errors.append(ServiceError(ErrorCode.NOT_FOUND, f"{value!r} is not in {key.replace('_', ' ')}", key))
                continue
            del current[folded.index(str(value).strip().casefold())]
        if current:
            out[key] = current
        else:
            out.pop(key, None)
    for key in LIST_KEYS:  # countries first: new subdivisions are checked against them
        if key not in add:
            continue
        current = list(out.get(key) or [])
        for value in add[key]:
            normal, reason = _criteria_item(key, value, list(out.get("countries") or []))
            if reason:
                errors.append(ServiceError(ErrorCode.INVALID, reason, key))
            elif normal in current:
                errors.append(ServiceError(ErrorCode.CONFLICT, f"{normal} is already there", key))
            else:
                current.append(normal)
        if current:
            out[key] = current
    for key in add:
        if key not in LIST_KEYS:
            errors.append(ServiceError(ErrorCode.INVALID, f"{key!r} is not a list criterion", key))
    for key, bounds in ranges.items():
        if key not in ("employees", "annual_revenue"):
            errors.append(ServiceError(ErrorCode.INVALID, f"{key!r} is not a range criterion", key))
            continue
        if bounds is None or all(bounds.get(k) is None for k in RANGE_KEYS):
            out.pop(key, None)
            continue
        rng, problems = _range_problems(dict(bounds))
        for sub, reason in problems:
            errors.append(ServiceError(ErrorCode.INVALID, reason, f"{key}.{sub}" if sub else key))
        if rng:
            out[key] = rng
    if not errors:
        # The whole result must hold together (a subdivision outside every country never matches).
        for key, reason in _stored_criteria_problems(out):
            errors.append(ServiceError(ErrorCode.INVALID, reason, key.split(".")[0]))
    return out


def _check_weight(weight: Any, errors: list[ServiceError], fld: str = "weight") -> bool:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        errors.append(ServiceError(ErrorCode.INVALID, f"weight must be a whole number from 1 to {MAX_WEIGHT}", fld))
        return False
    return True


def _parent_problem(territory: Territory, parent_id: int | None) -> str | None:
    if parent_id is None:
        return None
    if parent_id == territory.pk:
        return "a territory cannot be its own parent"
    parents = dict(Territory.objects.filter(rule_set_id=territory.rule_set_id).values_list("pk", "parent_id"))
    if parent_id not in parents:
        return "the parent must be a territory of the same rule set"
    seen = {territory.pk}
    node: int | None = parent_id
    while node is not None:
        if node in seen:
            return "that parent is below this territory: the parents would loop"
        seen.add(node)
        node = parents.get(node)
    return None


def update_territory(
    *,
    territory_id: int,
    actor: Actor,
    now: datetime,
    add_criteria: Mapping[str, Sequence[str]] | None = None,
    remove_criteria: Mapping[str, Sequence[str]] | None = None,
    ranges: Mapping[str, Mapping[str, Any] | None] | None = None,
    add_members: Sequence[tuple[int, int]] | None = None,
    remove_members: Sequence[int] | None = None,
    weights: Mapping[int, int] | None = None,
    distribution: str | None = None,
    priority: int | None = None,
    parent_id: Any = UNCHANGED,
) -> Territory:
    """Change a territory of a DRAFT rule set; a published or archived one is immutable.

    `add_criteria` / `remove_criteria`: values of the list criteria (countries, subdivisions,
    cities, postal_prefixes, industries), normalised as the import does (ISO codes);
    `ranges`: employees / annual_revenue as {min, max}, None to drop; `add_members`:
    (rep id, weight); `remove_members`: rep ids; `weights`: rep id -> new weight;
    `parent_id`: another territory of the same rule set, or None for top level.
    Every problem is reported at once (ServiceErrors, each naming its field); nothing is
    written unless all changes hold. The rule set row is locked, as publishing locks it,
    so an edit and a publish never interleave.
    """
    _require_rule_editor(actor)
    found = Territory.objects.filter(pk=territory_id).values_list("rule_set_id", "rule_set__version").first()
    if found is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"there is no territory #{territory_id}", "territory")
    with transaction.atomic():
        rule_set = _locked_draft(found[0], found[1])
        territory = Territory.objects.select_for_update().get(pk=territory_id)
        errors: list[ServiceError] = []
        criteria = _apply_criteria(
            dict(territory.criteria or {}), add_criteria or {}, remove_criteria or {}, ranges or {}, errors
        )
        if distribution is not None:
            key = distribution.strip().upper()
            if key not in DistributionMethod.values:
                choices = ", ".join(m.lower() for m in DistributionMethod.values)
                errors.append(ServiceError(ErrorCode.INVALID, f"choose one of {choices}", "distribution"))
            else:
                territory.distribution = key
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_INT:
                errors.append(ServiceError(ErrorCode.INVALID, "priority must be a whole number", "priority"))
            else:
                territory.priority = priority
        if parent_id is not UNCHANGED:
            reason = _parent_problem(territory, parent_id)
            if reason:
                errors.append(ServiceError(ErrorCode.INVALID, reason, "parent"))
            else:
                territory.parent_id = parent_id
        memberships = {m.rep_id: m for m in TerritoryMember.objects.filter(territory=territory)}
        for rep_id in remove_members or ():
            if rep_id not in memberships:
                errors.append(ServiceError(ErrorCode.NOT_FOUND, "that rep is not a member", "members"))
        for rep_id, weight in (weights or {}).items():
            if rep_id not in memberships:
                errors.append(ServiceError(ErrorCode.NOT_FOUND, "that rep is not a member", "members"))
            else:
                _check_weight(weight, errors)
        adding = list(add_members or ())
        reps = Rep.objects.in_bulk([rep_id for rep_id, _ in adding])
        for rep_id, weight in adding:
            rep = reps.get(rep_id)
            if rep is None:
                errors.append(ServiceError(ErrorCode.NOT_FOUND, f"there is no rep #{rep_id}", "members"))
            elif rep.status == RepStatus.DEPARTED:
                errors.append(ServiceError(ErrorCode.INVALID, f"{rep.email} has departed", "members"))
            elif rep_id in memberships and rep_id not in (remove_members or ()):
                errors.append(ServiceError(ErrorCode.CONFLICT, f"{rep.email} is already a member", "members"))
            else:
                _check_weight(weight, errors)
        if errors:
            raise ServiceErrors(errors)

        territory.criteria = criteria
        territory.save(update_fields=["criteria", "distribution", "priority", "parent"])
        TerritoryMember.objects.filter(territory=territory, rep_id__in=list(remove_members or ())).delete()
        for rep_id, weight in (weights or {}).items():
            TerritoryMember.objects.filter(territory=territory, rep_id=rep_id).update(weight=weight)
        if adding:
            top = TerritoryMember.objects.filter(territory=territory).aggregate(top=Max("position"))["top"]
            start = -1 if top is None else int(top)
            TerritoryMember.objects.bulk_create(
                TerritoryMember(territory=territory, rep_id=rep_id, weight=weight, position=start + i)
                for i, (rep_id, weight) in enumerate(adding, 1)
            )
        _refresh_source(rule_set)
    territory.refresh_from_db()
    return territory


def update_policy(*, version: int, values: Mapping[str, Any], calendar: str, actor: Actor, now: datetime) -> RuleSet:
    """Replace the policy and calendar of DRAFT `version`, checked by Policy.from_dict.

    Every bad setting is reported at once (ServiceErrors; each error's field is the policy
    key, or `calendar`); nothing is written unless all hold. Keys left out keep their
    default (territories.policy.Policy).
    """
    _require_rule_editor(actor)
    found = RuleSet.objects.filter(version=version).values_list("pk", flat=True).first()
    if found is None:
        raise ServiceError(ErrorCode.NOT_FOUND, f"there is no rule set v{version}", "version")
    errors: list[ServiceError] = []
    code, reason = _calendar_problem(calendar.strip())
    if reason:
        errors.append(ServiceError(ErrorCode.INVALID, reason, "calendar"))
    policy: Policy | None = None
    try:
        policy = Policy.from_dict(dict(values))
    except PolicyValidationError as exc:
        errors.extend(ServiceError(ErrorCode.INVALID, e.message, e.key) for e in exc.errors)
    if errors:
        raise ServiceErrors(errors)
    assert policy is not None and code is not None
    with transaction.atomic():
        rule_set = _locked_draft(found, version)
        rule_set.policy = policy.as_dict()
        rule_set.calendar = code
        rule_set.save(update_fields=["policy", "calendar"])
        _refresh_source(rule_set)
    rule_set.refresh_from_db()
    return rule_set
