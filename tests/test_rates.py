"""Donation rates and their Wilson score intervals, checked against published values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import binomtest

from archive_builder.catalog import rate_table, wilson
from archive_builder.catalog.rates import AGE_BANDS, SEXES

# Newcombe RG (1998), Two-sided confidence intervals for the single proportion:
# comparison of seven methods. Stat Med 17:857-872, Table II, method 3 (score, no
# continuity correction), to 4 decimals.
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "lower", "upper"), NEWCOMBE_1998)
def test_wilson_interval_matches_newcombe_1998(x: int, n: int, lower: float, upper: float) -> None:
    got = wilson(x, n)
    assert (round(got[0], 4), round(got[1], 4)) == (lower, upper)


def test_wilson_interval_agrees_with_scipy() -> None:
    for n in (1, 2, 5, 13, 40, 397, 5000):
        for x in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            if 0 <= x <= n:
                ci = binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
                assert wilson(x, n) == pytest.approx((ci.low, ci.high), abs=1e-12), (x, n)


def test_wilson_interval_refuses_impossible_counts() -> None:
    for x, n in ((1, 0), (5, 4), (-1, 3)):
        with pytest.raises(ValueError):
            wilson(x, n)


def test_bands_and_sexes_are_those_of_the_contract() -> None:
    schema = json.loads(
        (Path(__file__).parents[1] / "archive_builder/catalog/offers-v2.schema.json").read_text()
    )
    assert list(AGE_BANDS) == schema["properties"]["age_band"]["enum"]
    assert list(SEXES) == sorted(schema["properties"]["sex"]["enum"])


def _line(day: str, offered: int, accepted: int, **strata: str) -> dict[str, object]:
    return {
        "date": day,
        "modality": "CT",
        "anatomical_region": "CHEST",
        "offered": offered,
        "accepted": accepted,
        "declined": 0,
        **strata,
    }


def test_rates_overall_per_month_and_per_stratum() -> None:
    ledger = [
        _line("2026-10-01", 100, 30),  # version 1: no age band, no sex
        _line("2026-11-01", 60, 20, age_band="40-49", sex="F"),
        _line("2026-11-01", 40, 10, age_band="40-49", sex="M"),
        _line("2026-11-02", 50, 25, age_band="60-69", sex="F"),
    ]
    rows = {(r.breakdown, r.group): r for r in rate_table(ledger)}
    overall = rows[("overall", "all")]
    assert (overall.accepted, overall.offered, overall.suppressed) == (85, 250, False)
    assert overall.published()["rate"] == pytest.approx(0.34)
    assert overall.published()["ci_lower"] == pytest.approx(wilson(85, 250)[0])
    assert (rows[("month", "2026-10")].accepted, rows[("month", "2026-11")].offered) == (30, 150)
    # age band and sex count only the lines that report them
    assert (rows[("age_band", "40-49")].accepted, rows[("age_band", "40-49")].offered) == (30, 100)
    assert (rows[("sex", "F")].accepted, rows[("sex", "F")].offered) == (45, 110)
    assert ("sex", "O") not in rows and ("age_band", "50-59") not in rows


def test_a_withheld_row_publishes_only_its_group() -> None:
    ledger = [_line("2026-10-01", 100, 30), _line("2026-11-01", 100, 40), _line("2026-12-01", 9, 2)]
    rows = {(r.breakdown, r.group): r for r in rate_table(ledger)}
    december = rows[("month", "2026-12")].published()
    assert december == {
        "breakdown": "month",
        "group": "2026-12",
        "numerator": None,
        "denominator": None,
        "rate": None,
        "ci_lower": None,
        "ci_upper": None,
        "suppressed": True,
    }
