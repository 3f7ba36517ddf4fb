"""The statistics page's charts and the methods page's facts, computed from the donations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..catalog import Rate
from ..store.content import StoredDonation
from .charts import Chart, Interval, IntervalChart, counts_chart
from .facts import AGE_BANDS, Row
from .wording import commonest, plural

SEXES = (("F", "female"), ("M", "male"), ("O", "other"))


def age_by_sex(rows: Sequence[Row]) -> Chart:
    counts = Counter((r.age_band, r.sex) for r in rows)
    bands = tuple(b for b in AGE_BANDS if any(counts[(b, s)] for s, _ in SEXES))
    sexes = [(code, name) for code, name in SEXES if any(counts[(b, code)] for b in bands)]
    series = tuple((name, tuple(float(counts[(b, code)]) for b in bands)) for code, name in sexes)
    if rows:
        bands_seen = Counter(r.age_band for r in rows)
        summary = (
            f"{plural(len(rows), 'donor')}; {commonest(bands_seen, 'age band', 'donor')}. "
            + ", ".join(f"{name}: {sum(vals):.0f}" for name, vals in series)
            + "."
        )
    else:
        summary = "No donations yet."
    return Chart("age", "Donors by age band and sex", summary, bands, series)


def over_time(rows: Sequence[Row]) -> Chart:
    months = Counter(r.month for r in rows)
    return counts_chart(
        "months", "Donations per month of consent", "donations", sorted(months.items())
    )


BREAKDOWN_TITLES = {
    "month": "Donation rate per month",
    "modality": "Donation rate by modality",
    "anatomical_region": "Donation rate by anatomical region",
    "age_band": "Donation rate by age band",
    "sex": "Donation rate by sex",
}
SEX_NAMES = dict(SEXES)


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def label(breakdown: str, group: str) -> str:
    return SEX_NAMES.get(group, group) if breakdown == "sex" else group


def rate_chart(breakdown: str, rates: Sequence[Rate]) -> IntervalChart:
    """One breakdown as an interval chart, with a sentence that a screen reader reads first."""
    groups = tuple(
        Interval(label(breakdown, r.group), None, None, None)
        if r.suppressed
        else Interval(
            label(breakdown, r.group),
            r.rate,
            *r.interval,
            note=f"{r.accepted} of {r.offered}",
        )
        for r in rates
    )
    shown = [g for g in groups if g.rate is not None]
    withheld = len(groups) - len(shown)
    summary = f"{len(groups)} group{'' if len(groups) == 1 else 's'}"
    if shown:
        high = max(shown, key=lambda g: g.rate or 0.0)
        low = min(shown, key=lambda g: g.rate or 0.0)
        summary += (
            f"; highest {high.label} {percent(high.rate or 0.0)} "
            f"(95% CI {percent(high.lower or 0.0)} to {percent(high.upper or 0.0)}), "
            f"lowest {low.label} {percent(low.rate or 0.0)} "
            f"(95% CI {percent(low.lower or 0.0)} to {percent(low.upper or 0.0)})"
        )
    if withheld:
        summary += f"; {withheld} withheld to protect privacy"
    return IntervalChart(f"rate-{breakdown}", BREAKDOWN_TITLES[breakdown], summary + ".", groups)


def rate_charts(rates: Sequence[Rate]) -> list[IntervalChart]:
    return [
        rate_chart(breakdown, [r for r in rates if r.breakdown == breakdown])
        for breakdown in BREAKDOWN_TITLES
        if any(r.breakdown == breakdown for r in rates)
    ]


def primary(rates: Sequence[Rate], period: tuple[str, str] | None) -> dict[str, Any] | None:
    """The overall row, as the pages state it; None without offers."""
    overall = next((r for r in rates if r.breakdown == "overall"), None)
    if overall is None or period is None:
        return None
    result: dict[str, Any] = {"suppressed": overall.suppressed, "period": period}
    if overall.suppressed:
        result["sentence"] = (
            f"From {period[0]} to {period[1]} too few patients were offered the donation "
            "button, or too few answered either way, to publish the donation rate."
        )
        return result
    lower, upper = overall.interval
    result.update(
        accepted=overall.accepted,
        offered=overall.offered,
        rate=percent(overall.rate),
        lower=percent(lower),
        upper=percent(upper),
        sentence=(
            f"From {period[0]} to {period[1]}, {overall.accepted} of the {overall.offered} "
            f"patients offered the donation button donated: {percent(overall.rate)} "
            f"(95% CI {percent(lower)} to {percent(upper)}, Wilson score interval)."
        ),
    )
    return result


def charts(rows: Sequence[Row], rates: Sequence[Rate]) -> dict[str, Any]:
    modalities = Counter(m for r in rows for m in r.modalities)
    regions = Counter(r.region for r in rows)
    return {
        "age": age_by_sex(rows),
        "modality": counts_chart(
            "modality", "Donations by modality", "donations", sorted(modalities.items())
        ),
        "region": counts_chart(
            "region", "Donations by anatomical region", "donations", sorted(regions.items())
        ),
        "months": over_time(rows),
        "rates": rate_charts(rates),
    }


def methods_facts(donations: Sequence[StoredDonation]) -> dict[str, Any]:
    """What the de-identification reports say, summed over the archive."""
    profiles: Counter[str] = Counter()
    options: dict[str, str] = {}
    excluded: Counter[str] = Counter()
    received = published = searched = 0
    transfer_syntaxes: Counter[str] = Counter()
    for d in donations:
        report = d.report
        profile = report.get("profile", {})
        profiles[f"{profile.get('name', '?')} ({profile.get('table', '?')})"] += 1
        for option in report.get("options_applied", []):
            options[option.get("code", "?")] = option.get("meaning", "")
        counts = report.get("instances", {})
        received += int(counts.get("received", 0))
        published += int(counts.get("published", 0))
        for entry in counts.get("excluded", []):
            excluded[str(entry.get("reason", "?"))] += 1
        searched += int(report.get("verification", {}).get("identifying_values_searched", 0))
        transfer_syntaxes.update(i.get("TransferSyntaxUID") or "?" for i in d.instances)
    return {
        "profiles": sorted(profiles.items()),
        "options": sorted(options.items()),
        "received": received,
        "published": published,
        "excluded": excluded.most_common(),
        "searched": searched,
        "transfer_syntaxes": transfer_syntaxes.most_common(),
    }
