"""Figures beside their floors: median and spread over repeated runs, the reference, the ratio, the target.

A Figure holds every repetition's value of one measurement and of its reference
(measured in the same run). The table gives medians, the spread (max - min over the
median), the ratio of the medians and whether the target holds. Written to the terminal,
and as CSV and markdown under bench/results/ with the machine's description.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    group: str  # what is measured: "submitLead over HTTP (1M accounts)"
    name: str  # which figure of it: "p99, 8 clients"
    unit: str  # ms, /s, rows/s, s, MB, queries
    values: list[float] = field(default_factory=list)
    reference: str = ""  # the floor it is compared with
    ref_values: list[float] = field(default_factory=list)
    # A target on the figure itself ("max:50" = at most 50, "min:300" = at least 300) or on the
    # ratio to the reference ("ratio_max:3", "ratio_min:0.5"); empty: reported, no target.
    target: str = ""
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def ref_median(self) -> float:
        return statistics.median(self.ref_values) if self.ref_values else float("nan")

    @property
    def spread(self) -> float:
        """(max - min) / median over the repetitions, in percent."""
        if len(self.values) < 2 or not self.median:
            return 0.0
        return (max(self.values) - min(self.values)) / abs(self.median) * 100

    @property
    def ref_spread(self) -> float:
        if len(self.ref_values) < 2 or not self.ref_median:
            return 0.0
        return (max(self.ref_values) - min(self.ref_values)) / abs(self.ref_median) * 100

    @property
    def ratio(self) -> float | None:
        if not self.ref_values or not self.ref_median:
            return None
        return self.median / self.ref_median

    def target_text(self) -> str:
        if not self.target:
            return ""
        kind, _, number = self.target.partition(":")
        return {
            "max": f"<= {number} {self.unit}",
            "min": f">= {number} {self.unit}",
            "ratio_max": f"ratio <= {number}",
            "ratio_min": f"ratio >= {number}",
        }[kind]

    def met(self) -> bool | None:
        if not self.target or not self.values:
            return None
        kind, _, number = self.target.partition(":")
        limit = float(number)
        if kind == "max":
            return self.median <= limit
        if kind == "min":
            return self.median >= limit
        ratio = self.ratio
        if ratio is None:
            return None
        return ratio <= limit if kind == "ratio_max" else ratio >= limit

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        return cls(**data)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


CSV_COLUMNS = [
    *["group", "figure", "unit", "median", "spread_pct", "values", "reference", "ref_median", "ref_values"],
    *["ratio", "target", "met", "note"],
]
HEADER = ["figure", "median", "spread", "reference", "ref median", "ratio", "target", "met"]


def rows(figures: Iterable[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        met = f.met()
        out.append(
            [
                f"{f.group}: {f.name}",
                fmt(f.median, f.unit),
                f"{f.spread:.0f}%" if len(f.values) > 1 else "-",
                f.reference,
                fmt(f.ref_median, f.unit) if f.ref_values else "-",
                f"{f.ratio:.2f}x" if f.ratio is not None else "-",
                f.target_text(),
                "" if met is None else ("yes" if met else "NO"),
            ]
        )
    return out


def text_table(figures: list[Figure]) -> str:
    table = [HEADER, *rows(figures)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = []
    for n, r in enumerate(table):
        lines.append(
            "  ".join(cell.ljust(widths[i]) if i in (0, 3, 6) else cell.rjust(widths[i]) for i, cell in enumerate(r))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    for r in rows(figures):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in r) + " |")
    return "\n".join(lines)


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(database_url: str = "") -> dict[str, str]:
    """CPU model, cores, memory, PostgreSQL, Python, git commit."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory = ""
    try:
        kib = int(re.findall(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError):
        pass
    postgres = ""
    if database_url:
        try:
            import psycopg

            with psycopg.connect(database_url) as conn:
                row = conn.execute("SELECT version()").fetchone()
                postgres = row[0].split(" on ")[0] if row else ""
        except Exception:  # the description is informative only
            postgres = ""
    root = Path(__file__).resolve().parent.parent
    commit = _run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count() or ""),
        "memory": memory,
        "postgresql": postgres,
        "python": platform.python_version(),
        "os": platform.platform(),
        "git commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_results(
    figures: list[Figure], *, name: str, machine_info: dict[str, str], notes: list[str], directory: Path = RESULTS_DIR
) -> tuple[Path, Path]:
    """bench/results/<name>.csv and .md; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / f"{name}.csv"
    md_path = directory / f"{name}.md"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for key, value in machine_info.items():
        writer.writerow([f"# {key}", value])
    writer.writerow(CSV_COLUMNS)
    for f in figures:
        met = f.met()
        writer.writerow(
            [
                f.group,
                f.name,
                f.unit,
                f"{f.median:.4g}",
                f"{f.spread:.1f}",
                json.dumps([round(v, 4) for v in f.values]),
                f.reference,
                f"{f.ref_median:.4g}" if f.ref_values else "",
                json.dumps([round(v, 4) for v in f.ref_values]),
                f"{f.ratio:.3f}" if f.ratio is not None else "",
                f.target_text(),
                "" if met is None else str(met).lower(),
                f.note,
            ]
        )
    csv_path.write_text(buffer.getvalue())
    lines = [f"# make bench: {name}", ""]
    lines += [f"- **{key}**: {value}" for key, value in machine_info.items()]
    lines += ["", markdown_table(figures), ""]
    noted = [f for f in figures if f.note]
    if noted:
        lines += ["Notes:", ""] + [f"- {f.group}: {f.name}: {f.note}" for f in noted] + [""]
    lines += notes
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path
