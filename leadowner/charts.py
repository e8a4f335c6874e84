"""Charts drawn on the server as inline SVG: no JavaScript, no chart library, nothing from a CDN.

Two shapes cover the console's metrics: horizontal bars (one row per category, one bar
per series: reps, territories, buckets) and lines over days. Every chart is an image
with a `<title>` and a `<desc>` (role="img", aria-labelledby), writes each bar's value
as text beside it (never colour alone), tells series apart by pattern (solid, hatched,
dashed, marker shape) as well as colour, and carries its numbers as `rows` for the
visually hidden table the template writes under it, and for the CSV.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

Formatter = Callable[[float], str]

WIDTH = 640
LABEL_WIDTH = 180
VALUE_ROOM = 90
BAR_HEIGHT = 16
BAR_GAP = 4
ROW_GAP = 10
LINE_HEIGHT = 220
PAD = 28

# Series look different in more than colour: fills (solid, hatched, dotted) and line styles.
COLOURS = ("#0b4fb3", "#b45309", "#047857", "#7c3aed")
FILLS = ("solid", "hatch", "dots", "solid")
DASHES = ("", "6 4", "2 3", "10 3 2 3")
MARKERS = ("circle", "square", "diamond", "triangle")

_ids = itertools.count(1)


def plain(value: float) -> str:
    """12,345 or 12.5."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the numbers behind it."""

    title: str
    description: str
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    svg: SafeString
    fmt: Formatter = field(default=plain)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.series)

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """(label, formatted value per series): the accessible table under the chart."""
        return [(label, [self.fmt(s.values[i]) for s in self.series]) for i, label in enumerate(self.labels)]

    @property
    def empty(self) -> bool:
        return not self.labels


def _defs(chart_id: str) -> str:
    patterns = []
    for i, (colour, fill) in enumerate(zip(COLOURS, FILLS, strict=True)):
        if fill == "hatch":
            patterns.append(
                f'<pattern id="{chart_id}-p{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
                f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
                f'<rect width="3" height="6" fill="{colour}"/></pattern>'
            )
        elif fill == "dots":
            patterns.append(
                f'<pattern id="{chart_id}-p{i}" width="5" height="5" patternUnits="userSpaceOnUse">'
                f'<rect width="5" height="5" fill="#fff"/><circle cx="2.5" cy="2.5" r="1.6" fill="{colour}"/></pattern>'
            )
    return f"<defs>{''.join(patterns)}</defs>" if patterns else ""


def _fill(chart_id: str, index: int) -> str:
    i = index % len(COLOURS)
    return COLOURS[i] if FILLS[i] == "solid" else f"url(#{chart_id}-p{i})"


def _legend(chart_id: str, series: Sequence[Series], y: float, *, lines: bool) -> str:
    if len(series) < 2:
        return ""
    parts = []
    x = float(LABEL_WIDTH if not lines else PAD)
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        if lines:
            dash = DASHES[i % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            swatch = (
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 18:.1f}" y2="{y - 4:.1f}" stroke="{colour}" '
                f'stroke-width="2.5"{dash_attr}/>' + _marker(MARKERS[i % len(MARKERS)], x + 9, y - 4, colour)
            )
        else:
            swatch = (
                f'<rect x="{x:.1f}" y="{y - 11:.1f}" width="14" height="12" fill="{_fill(chart_id, i)}" '
                f'stroke="{colour}"/>'
            )
        parts.append(swatch + f'<text x="{x + 22:.1f}" y="{y:.1f}" class="chart-legend">{escape(s.name)}</text>')
        x += 34 + 7.5 * len(s.name)
    return "".join(parts)


def _frame(chart_id: str, title: str, description: str, height: float, body: str) -> SafeString:
    return format_html(
        '<svg class="chart" id="{}" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="{} {}" '
        'preserveAspectRatio="xMinYMin meet"><title id="{}">{}</title><desc id="{}">{}</desc>{}</svg>',
        chart_id,
        WIDTH,
        f"{height:.0f}",
        f"{chart_id}-title",
        f"{chart_id}-desc",
        f"{chart_id}-title",
        title,
        f"{chart_id}-desc",
        description,
        mark_safe(body),  # built above from numbers and escape()d text only
    )


def bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain,
) -> Chart:
    """Horizontal bars: one row per label, one bar per series, its value written at its end."""
    chart_id = f"chart-{next(_ids)}"
    top = max((v for s in series for v in s.values), default=0.0) or 1.0
    room = WIDTH - LABEL_WIDTH - VALUE_ROOM
    per_row = len(series) * BAR_HEIGHT + (len(series) - 1) * BAR_GAP
    legend_room = 24 if len(series) > 1 else 0
    height = legend_room + len(labels) * (per_row + ROW_GAP) + ROW_GAP
    body = [_defs(chart_id), _legend(chart_id, series, 16, lines=False)]
    y = float(legend_room + ROW_GAP)
    for row, label in enumerate(labels):
        short = label if len(label) <= 26 else label[:25] + "…"
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + per_row / 2 + 4:.1f}" text-anchor="end" class="chart-label">'
            f"{escape(short)}</text>"
        )
        for i, s in enumerate(series):
            value = float(s.values[row])
            width = max(0.0, value) / top * room
            colour = COLOURS[i % len(COLOURS)]
            body.append(
                f'<rect x="{LABEL_WIDTH}" y="{y:.1f}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{_fill(chart_id, i)}" stroke="{colour}" stroke-width="{1 if width else 0}"/>'
                f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + BAR_HEIGHT - 4:.1f}" class="chart-value">'
                f"{escape(fmt(value))}</text>"
            )
            y += BAR_HEIGHT + BAR_GAP
        y += ROW_GAP - BAR_GAP
    body.append(
        f'<line x1="{LABEL_WIDTH}" y1="{legend_room + ROW_GAP / 2}" x2="{LABEL_WIDTH}" y2="{height - ROW_GAP / 2}" '
        'class="chart-axis"/>'
    )
    svg = _frame(chart_id, title, description, height, "".join(body))
    return Chart(title, description, tuple(labels), tuple(series), svg, fmt)


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{colour}"/>'
    if shape == "diamond":
        points = f"M{x:.1f} {y - 4:.1f}L{x + 4:.1f} {y:.1f}L{x:.1f} {y + 4:.1f}L{x - 4:.1f} {y:.1f}Z"
        return f'<path d="{points}" fill="{colour}"/>'
    if shape == "triangle":
        return f'<path d="M{x:.1f} {y - 4:.1f}L{x + 4:.1f} {y + 3:.1f}L{x - 4:.1f} {y + 3:.1f}Z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'


def line_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Formatter = plain,
) -> Chart:
    """Lines over ordered labels (days): a y axis from zero to the top value, the first, middle and last labels."""
    chart_id = f"chart-{next(_ids)}"
    legend_room = 24 if len(series) > 1 else 0
    left, right = 56.0, float(WIDTH - PAD)
    top_y, bottom_y = float(legend_room + PAD / 2), float(legend_room + LINE_HEIGHT)
    height = bottom_y + PAD + 6
    top = max((v for s in series for v in s.values), default=0.0) or 1.0
    n = len(labels)

    def x_at(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y_at(value: float) -> float:
        return bottom_y - (bottom_y - top_y) * (max(0.0, value) / top)

    body = [_legend(chart_id, series, 16, lines=True)]
    body.append(f'<line x1="{left}" y1="{bottom_y}" x2="{right}" y2="{bottom_y}" class="chart-axis"/>')
    body.append(f'<line x1="{left}" y1="{top_y}" x2="{left}" y2="{bottom_y}" class="chart-axis"/>')
    for value in (0.0, top / 2, top):
        y = y_at(value)
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-value">{escape(fmt(value))}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" class="chart-grid"/>'
        )
    for i in sorted({0, n // 2, n - 1}) if n else ():
        anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
        body.append(
            f'<text x="{x_at(i):.1f}" y="{bottom_y + 18:.1f}" text-anchor="{anchor}" class="chart-label">'
            f"{escape(labels[i])}</text>"
        )
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        dash = DASHES[k % len(DASHES)]
        points = " ".join(f"{x_at(i):.1f},{y_at(float(v)):.1f}" for i, v in enumerate(s.values))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        if n <= 45:  # markers while they stay apart
            body.extend(
                _marker(MARKERS[k % len(MARKERS)], x_at(i), y_at(float(v)), colour) for i, v in enumerate(s.values)
            )
    svg = _frame(chart_id, title, description, height, "".join(body))
    return Chart(title, description, tuple(labels), tuple(series), svg, fmt)
