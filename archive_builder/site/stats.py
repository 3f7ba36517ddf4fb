"""The statistics page's charts and the methods page's facts, computed from the donations."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..store.content import StoredDonation
from .charts import Chart, counts_chart
from .facts import AGE_BANDS, Row

SEXES = (("F", "female"), ("M", "male"), ("O", "other"))


def age_by_sex(rows: Sequence[Row]) -> Chart:
    counts = Counter((r.age_band, r.sex) for r in rows)
    bands = tuple(b for b in AGE_BANDS if any(counts[(b, s)] for s, _ in SEXES))
    sexes = [(code, name) for code, name in SEXES if any(counts[(b, code)] for b in bands)]
    series = tuple((name, tuple(float(counts[(b, code)]) for b in bands)) for code, name in sexes)
    if rows:
        commonest = Counter(r.age_band for r in rows).most_common(1)[0]
        summary = (
            f"{len(rows)} donors; the commonest age band is {commonest[0]} "
            f"({commonest[1]} donor{'' if commonest[1] == 1 else 's'}). "
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


def donation_rate(offers: Sequence[Mapping[str, Any]] | None) -> Chart | None:
    """Accepted offers as a percentage of offers made, per month; None without offers data."""
    if not offers:
        return None
    offered: dict[str, int] = defaultdict(int)
    accepted: dict[str, int] = defaultdict(int)
    for line in offers:
        month = str(line["date"])[:7]
        offered[month] += int(line["offered"])
        accepted[month] += int(line["accepted"])
    months = tuple(sorted(offered))
    rates = tuple(100.0 * accepted[m] / offered[m] if offered[m] else 0.0 for m in months)
    total_offered, total_accepted = sum(offered.values()), sum(accepted.values())
    overall = 100.0 * total_accepted / total_offered if total_offered else 0.0
    summary = (
        f"Of {total_offered} patients offered the donation button, {total_accepted} donated "
        f"({overall:.1f}%), over {len(months)} month{'' if len(months) == 1 else 's'}."
    )
    return Chart(
        "rate", "Donation rate per month", summary, months, (("donation rate", rates),), unit="%"
    )


def charts(rows: Sequence[Row], offers: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
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
        "rate": donation_rate(offers),
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
