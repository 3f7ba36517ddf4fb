"""The statistics and pilot report pages: the primary outcome as a trial registry states it.

Every number these pages show is either a row of the donation-rate table
(:func:`archive_builder.catalog.rate_table`, small counts protected), a count
of the public donations catalog, a count of the public withdrawals, or the
number of donations refused at ingest, read from the private ingest log and
published only when neither it nor what it leaves unexplained is small.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import THRESHOLD, Rate, donor_of, rate_table
from ..catalog.rates import AGE_BANDS
from ..release.model import Withdrawal
from ..store.content import StoredDonation
from . import stats
from .charts import Chart, counts_chart
from .facts import Row


@dataclass(frozen=True)
class Intake:
    """What the private ingest log says, as counts: never a name, id or package."""

    refused: int  # donations refused at ingest and never ingested since, plus unreadable packages


def intake_counts(log: Path) -> Intake:
    """Count the refusals of ``private/logs/ingest.jsonl`` (absent: none)."""
    ingested: set[str] = set()
    refused: set[str] = set()
    unreadable = 0
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: it counted nothing
            if entry.get("action") != "ingest":
                continue
            token, status = entry.get("donation"), entry.get("status")
            if status in ("ok", "notneeded") and token:
                ingested.add(token)
            elif status == "refused":
                if token:
                    refused.add(token)
                else:
                    unreadable += 1
    return Intake(refused=len(refused - ingested) + unreadable)


def _period(offers: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    dates = sorted(str(line["date"]) for line in offers)
    return (dates[0], dates[-1]) if dates else None


def flow(
    rates: Sequence[Rate], donations: int, withdrawn: int, intake: Intake | None
) -> list[tuple[str, str, str]]:
    """(what, count, why) from the portal's accepted offers to the archive's donations."""
    overall = next((r for r in rates if r.breakdown == "overall"), None)
    accepted = None if overall is None or overall.suppressed else overall.accepted
    ingested = donations + withdrawn
    rows = [
        (
            "Accepted in the portal",
            "withheld" if accepted is None else str(accepted),
            "patients who pressed the donate button, as the portal counts them",
        ),
        (
            "Ingested by the archive",
            str(ingested),
            "de-identified, verified and added, at any time",
        ),
        ("of which in the archive now", str(donations), "published donations"),
        ("of which withdrawn since", str(withdrawn), "withdrawn by their donors"),
    ]
    if intake is None:
        return rows
    refused = intake.refused
    waiting = None if accepted is None else accepted - ingested - refused
    if waiting is None:
        rows.append(
            (
                "Refused at ingest",
                str(refused) if refused >= THRESHOLD else f"fewer than {THRESHOLD}",
                "the package broke the contract or an identifier was found",
            )
        )
    elif refused >= THRESHOLD and waiting >= THRESHOLD:
        rows.append(
            (
                "Refused at ingest",
                str(refused),
                "the package broke the contract or an identifier was found",
            )
        )
        rows.append(("Not received (yet)", str(waiting), "accepted but not sent to the archive"))
    else:
        rows.append(
            (
                "Refused at ingest, or not received (yet)",
                str(max(waiting + refused, 0)),
                f"counted together: either alone is below {THRESHOLD} or cannot be told apart",
            )
        )
    return rows


def representativeness(rows: Sequence[Row], rates: Sequence[Rate]) -> dict[str, Any] | None:
    """Age distribution of the patients offered beside that of the donors in the archive."""
    overall = next((r for r in rates if r.breakdown == "overall"), None)
    bands = {r.group: r for r in rates if r.breakdown == "age_band"}
    if overall is None or overall.suppressed or not bands:
        return None
    donors = Counter(r.age_band for r in rows)
    table = []
    for band in AGE_BANDS:
        rate = bands.get(band)
        offered = None if rate is None or rate.suppressed else rate.offered / overall.offered
        share = donors[band] / len(rows) if rows else 0.0
        if rate is not None or donors[band]:
            table.append((band, offered, share, rate is not None and rate.suppressed))
    shown = [t for t in table if t[1] is not None]
    unknown = 1.0 - sum(t[1] or 0.0 for t in shown)
    summary = (
        "Share of each age band among the patients offered the button and among the "
        f"{len(rows)} donors in the archive."
    )
    if unknown > 0.0005:
        summary += (
            f" {stats.percent(unknown)} of the patients offered are in bands withheld to "
            "protect privacy or were reported without an age band."
        )
    chart = Chart(
        "represent",
        "Age of the patients offered and of the donors",
        summary,
        tuple(t[0] for t in table),
        (
            ("offered", tuple(100 * (t[1] or 0.0) for t in table)),
            ("donors in the archive", tuple(100 * t[2] for t in table)),
        ),
        unit="%",
    )
    return {"chart": chart, "table": table, "unknown": unknown}


def withdrawals_chart(withdrawals: Sequence[Withdrawal]) -> Chart:
    months = Counter(w.date[:7] for w in withdrawals)
    return counts_chart(
        "withdrawals", "Withdrawals per month", "withdrawals", sorted(months.items())
    )


def pages(
    rows: Sequence[Row],
    donations: Sequence[StoredDonation],
    offers: Sequence[Mapping[str, Any]] | None,
    withdrawals: Sequence[Withdrawal],
    intake: Intake | None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, template, values) of the statistics page and the pilot report."""
    ledger = list(offers or [])
    rates = rate_table(ledger, [donor_of(d.record, d.modalities) for d in donations])
    period = _period(ledger)
    outcome = stats.primary(rates, period)
    charts = stats.charts(rows, rates)
    tables = {
        chart.slug: [r for r in rates if f"rate-{r.breakdown}" == chart.slug]
        for chart in charts["rates"]
    }
    statistics = {"charts": charts, "outcome": outcome, "rate_tables": tables}
    report = {
        "outcome": outcome,
        "secondary": charts["rates"],
        "represent": representativeness(rows, rates),
        "flow": flow(rates, len(donations), len(withdrawals), intake) if rates else None,
        "withdrawals": withdrawals_chart(withdrawals),
        "threshold": THRESHOLD,
    }
    return [
        ("statistics/index.html", "statistics.html", statistics),
        ("pilot/index.html", "pilot.html", report),
    ]
