"""The pilot's outcome: donation rates with Wilson score intervals, small counts protected.

``rate_table`` turns the private offers ledger into the rows every published
view shows (``catalog/donation_rate.parquet`` and ``.csv``, the statistics and
pilot pages): the overall rate, then one breakdown each by month, modality,
region, age band and sex. Each row is *accepted / offered*, with its 95%
Wilson score interval. The disclosure control is in
:mod:`archive_builder.catalog.disclosure`: rows with a small count publish
nothing but their group and the flag, and further rows are withheld so that
no withheld count can be worked out from what is published.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .disclosure import Cell, protect

# The 0.975 quantile of the standard normal distribution: a two-sided 95% interval.
Z95 = 1.959963984540054
AGE_BANDS = (*(f"{lo}-{lo + 9}" for lo in range(0, 90, 10)), "90+")
SEXES = ("F", "M", "O")
METHOD = "Wilson score interval, 95%"
# (breakdown, the ledger field it groups by, whether every line has that field)
BREAKDOWNS = (
    ("month", "date", True),
    ("modality", "modality", True),
    ("anatomical_region", "anatomical_region", True),
    ("age_band", "age_band", False),
    ("sex", "sex", False),
)


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``successes`` of ``trials`` (Wilson 1927).

    As Newcombe (1998) gives it, method 3: centre (p + z²/2n) / (1 + z²/n),
    half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"no interval for {successes} of {trials}")
    n, p, z2 = trials, successes / trials, z * z
    scale = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / scale
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / scale
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper


@dataclass(frozen=True)
class Donor:
    """What the donations catalog publishes of one donor, as the offers count them."""

    month: str
    modalities: tuple[str, ...]
    region: str
    age_band: str
    sex: str

    def groups(self, breakdown: str) -> tuple[str, ...]:
        return {
            "month": (self.month,),
            "modality": self.modalities,
            "anatomical_region": (self.region,),
            "age_band": (self.age_band,),
            "sex": (self.sex,),
        }[breakdown]


def band_of(age: object) -> str:
    """A donation record's age (``"52"``, ``"90+"``) as the contract's ten-year band."""
    text = str(age)
    if text.endswith("+") or not text.isdigit():
        return "90+"
    years = int(text)
    return "90+" if years >= 90 else AGE_BANDS[years // 10]


def donor_of(record: Mapping[str, Any], modalities: Sequence[str]) -> Donor:
    return Donor(
        month=record["consent"]["month"],
        modalities=tuple(modalities),
        region=record["study"]["anatomical_region"],
        age_band=band_of(record["subject"]["age"]),
        sex=record["subject"]["sex"],
    )


@dataclass(frozen=True)
class Rate:
    """One row of the donation-rate table; the exact counts stay in memory, never published."""

    breakdown: str
    group: str
    accepted: int
    offered: int
    suppressed: bool

    @property
    def rate(self) -> float:
        return self.accepted / self.offered

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.accepted, self.offered)

    def published(self) -> dict[str, Any]:
        """The row as the catalog publishes it: nothing but the group when suppressed."""
        shown = not self.suppressed
        lower, upper = self.interval if shown else (None, None)
        return {
            "breakdown": self.breakdown,
            "group": self.group,
            "numerator": self.accepted if shown else None,
            "denominator": self.offered if shown else None,
            "rate": self.rate if shown else None,
            "ci_lower": lower,
            "ci_upper": upper,
            "suppressed": self.suppressed,
        }


def _order(breakdown: str, group: str) -> tuple[int, str]:
    if breakdown == "age_band":
        return AGE_BANDS.index(group), group
    if breakdown == "sex":
        return SEXES.index(group), group
    return 0, group


def _sums(lines: Iterable[Mapping[str, Any]], field: str) -> dict[str, list[int]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        if field in line and line["offered"] > 0:
            group = str(line[field])[:7] if field == "date" else str(line[field])
            sums[group][0] += int(line["accepted"])
            sums[group][1] += int(line["offered"])
    return sums


def rate_table(ledger: Sequence[Mapping[str, Any]], donors: Sequence[Donor] = ()) -> list[Rate]:
    """Every published row, in order: overall, then each breakdown's groups.

    ``donors``: the donations the catalog publishes. An attacker may take the
    donors of a group as a lower bound of its accepted offers; the disclosure
    control does too.
    """
    accepted = sum(int(line["accepted"]) for line in ledger)
    offered = sum(int(line["offered"]) for line in ledger)
    if offered == 0:
        return []
    total = Cell("all", accepted, offered)
    overall_small = total.small
    rows = [Rate("overall", "all", accepted, offered, overall_small)]
    for breakdown, field, complete in BREAKDOWNS:
        sums = _sums(ledger, field)
        cells = [
            Cell(
                group,
                a,
                n,
                lower_bound=min(a, sum(group in d.groups(breakdown) for d in donors)),
            )
            for group, (a, n) in sorted(sums.items(), key=lambda kv: _order(breakdown, kv[0]))
        ]
        if not cells:
            continue
        # The strata's own total (offers reported with an age band, or a sex) is not
        # published, but an attacker may learn it: the disclosure control assumes so.
        known_total = not overall_small if complete else True
        suppressed = protect(cells, known_total)
        if suppressed is None:
            continue  # too few offers reported this way to publish anything
        rows += [
            Rate(breakdown, c.group, c.accepted, c.offered, i in suppressed)
            for i, c in enumerate(cells)
        ]
    return rows
