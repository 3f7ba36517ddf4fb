"""Bar charts as SVG, drawn at build time: no script, no request, a title and a description."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Each colour has a contrast of at least 4.5:1 on white (WCAG 1.4.11 asks 3:1).
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
