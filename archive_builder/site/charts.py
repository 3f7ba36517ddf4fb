"""Bar charts as SVG, drawn at build time: no script, no request, a title and a description."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Each colour has a contrast of at least 4.5:1 on white (WCAG 1.4.11 asks 3:1); the
# interval charts draw bars in #4f86c6 (3.8:1) under black whiskers.
COLOURS = ("#0b5cad", "#a5400c", "#2e6b30", "#6a1b9a")


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart: one group per label, one bar per series in each group."""

    slug: str
    title: str
    summary: str
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    unit: str = ""

    @property
    def empty(self) -> bool:
        return not self.labels

    def svg(self) -> str:
        return bar_svg(self)


def _fmt(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text + unit


def bar_svg(chart: Chart, width: int = 720, height: int = 280) -> str:
    left, right, top, bottom = 48, 12, 28, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, values in chart.series for v in values), default=0) or 1
    groups = max(len(chart.labels), 1)
    group_w = plot_w / groups
    bar_w = min(max(group_w * 0.8 / max(len(chart.series), 1), 1), 48)
    inset = (group_w - bar_w * len(chart.series)) / 2
    tid, did = f"{chart.slug}-title", f"{chart.slug}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{tid} {did}" class="chart">',
        f'<title id="{tid}">{escape(chart.title)}</title>',
        f'<desc id="{did}">{escape(chart.summary)}</desc>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#1b1b1b"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" fill="#1b1b1b">'
        f"{escape(_fmt(peak, chart.unit))}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="12" '
        'fill="#1b1b1b">0</text>',
    ]
    for g, label in enumerate(chart.labels):
        x0 = left + g * group_w + inset
        for s, (name, values) in enumerate(chart.series):
            value = values[g]
            h = plot_h * value / peak
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f"<title>{escape(f'{label}, {name}: {_fmt(value, chart.unit)}')}</title></rect>"
            )
        if groups <= 24 or g % (groups // 12 + 1) == 0:
            cx = left + g * group_w + group_w / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="12" fill="#1b1b1b">{escape(label[:12])}</text>'
            )
    if len(chart.series) > 1:
        for s, (name, _) in enumerate(chart.series):
            x = left + s * 110
            parts.append(
                f'<rect x="{x}" y="{height - 22}" width="12" height="12" '
                f'fill="{COLOURS[s % len(COLOURS)]}"/>'
                f'<text x="{x + 16}" y="{height - 12}" font-size="12" fill="#1b1b1b">'
                f"{escape(name)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def counts_chart(slug: str, title: str, noun: str, counts: Sequence[tuple[str, int]]) -> Chart:
    """A chart of one count per label, with a sentence that says the largest."""
    total = sum(n for _, n in counts)
    if counts:
        top_label, top_n = max(counts, key=lambda kv: kv[1])
        groups = "1 group" if len(counts) == 1 else f"{len(counts)} groups"
        summary = f"{total} {noun} in {groups}; the largest is {top_label} with {top_n}."
    else:
        summary = f"No {noun} yet."
    return Chart(
        slug, title, summary, tuple(k for k, _ in counts), (("count", tuple(n for _, n in counts)),)
    )


@dataclass(frozen=True)
class Interval:
    """One group of an interval chart: a rate and its 95% interval, or withheld."""

    label: str
    rate: float | None
    lower: float | None
    upper: float | None
    note: str = ""  # e.g. "120 of 397"


@dataclass(frozen=True)
class IntervalChart:
    """Rates as bars with their confidence intervals as whiskers; withheld groups say so."""

    slug: str
    title: str
    summary: str
    groups: tuple[Interval, ...]

    @property
    def empty(self) -> bool:
        return not self.groups

    def svg(self) -> str:
        return interval_svg(self)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def interval_svg(chart: IntervalChart, width: int = 720, height: int = 300) -> str:
    """Bars for the rates, whiskers with caps for the intervals, y axis in percent."""
    left, right, top, bottom = 52, 12, 20, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max((g.upper for g in chart.groups if g.upper is not None), default=0.0)
    peak = max(0.2, min(1.0, -(-highest * 5 // 1) / 5))  # the next 20% up: round ticks
    n = max(len(chart.groups), 1)
    group_w = plot_w / n
    bar_w = min(max(group_w * 0.6, 2), 48)
    tid, did = f"{chart.slug}-title", f"{chart.slug}-desc"

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / peak

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{tid} {did}" class="chart">',
        f'<title id="{tid}">{escape(chart.title)}</title>',
        f'<desc id="{did}">{escape(chart.summary)}</desc>',
    ]
    for step in range(5):
        value = peak * step / 4
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" '
            f'stroke="{"#1b1b1b" if step == 0 else "#d0d0d0"}"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#1b1b1b">{100 * value:.0f}%</text>'
        )
    every = n // 12 + 1
    for i, g in enumerate(chart.groups):
        cx = left + i * group_w + group_w / 2
        if g.rate is None or g.lower is None or g.upper is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{y(0) - 6:.1f}" text-anchor="middle" font-size="11" '
                f'fill="#4a4a4a"><title>{escape(g.label)}: withheld to protect privacy</title>'
                "s</text>"
            )
        else:
            text = f"{g.label}: {_pct(g.rate)}, 95% CI {_pct(g.lower)} to {_pct(g.upper)}"
            text += f" ({g.note})" if g.note else ""
            cap = min(bar_w / 2, 8)
            parts.append(
                f"<g><title>{escape(text)}</title>"
                f'<rect x="{cx - bar_w / 2:.1f}" y="{y(g.rate):.1f}" width="{bar_w:.1f}" '
                f'height="{y(0) - y(g.rate):.1f}" fill="#4f86c6"/>'
                f'<path d="M{cx:.1f} {y(g.lower):.1f}V{y(g.upper):.1f}'
                f"M{cx - cap:.1f} {y(g.lower):.1f}H{cx + cap:.1f}"
                f'M{cx - cap:.1f} {y(g.upper):.1f}H{cx + cap:.1f}" stroke="#1b1b1b" '
                'stroke-width="2" fill="none"/>'
                f'<circle cx="{cx:.1f}" cy="{y(g.rate):.1f}" r="3" fill="#1b1b1b"/></g>'
            )
        if n <= 24 or i % every == 0:
            parts.append(
                f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="12" fill="#1b1b1b">{escape(g.label[:12])}</text>'
            )
    parts.append(
        f'<text x="{left}" y="{height - 12}" font-size="12" fill="#1b1b1b">Bar: rate; '
        "line: 95% Wilson score interval; s: withheld to protect privacy</text></svg>"
    )
    return "".join(parts)
