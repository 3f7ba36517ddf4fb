"""An attacker's try at the donation-rate statistics: no withheld count can be worked out.

The attacker collects every number the site publishes about offers (the
Parquet and CSV tables, the statistics and pilot pages, their charts) and
about donors (each donation's record: month, age, sex, region, modalities).
They know how the tables relate: each breakdown's groups add up to the
overall row; the age band and sex breakdowns add up to the offers reported
with them (we tell the attacker that number, as if the portal said it); a
group had at least as many accepted offers as the archive has donors in it.
For every withheld count they solve two linear programmes (smallest and
largest value the relations allow, scipy's HiGHS). The constraints are sums
over disjoint cells with bounds, so the bounds are whole numbers an integer
solution reaches: a withheld count is determined exactly when both agree.
"""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from scipy.optimize import linprog
from site_data import CONFIG, donation

from archive_builder.catalog import write_catalogs
from archive_builder.site import render_site
from archive_builder.sitefiles import SiteWriter

BANDS = (*(f"{lo}-{lo + 9}" for lo in range(0, 90, 10)), "90+")
GROUP_OF = {
    "month": lambda line: line["date"][:7],
    "modality": lambda line: line["modality"],
    "anatomical_region": lambda line: line["anatomical_region"],
    "age_band": lambda line: line.get("age_band"),
    "sex": lambda line: line.get("sex"),
}


def _line(day: str, modality: str, region: str, offered: int, accepted: int, **strata: str) -> Any:
    return {
        "date": day,
        "modality": modality,
        "anatomical_region": region,
        "offered": offered,
        "accepted": accepted,
        "declined": (offered - accepted) // 2,
        **strata,
    }


def _publish(root: Path, ledger: list[dict[str, Any]], donations: list[Any], pages: bool) -> Path:
    site = SiteWriter(root / "site")
    write_catalogs(CONFIG, donations, site, offers=ledger)
    if pages:
        render_site(CONFIG, donations, site, offers=ledger)
    site.finish()
    return root / "site"


def _band(age: str) -> str:
    return "90+" if not age.isdigit() or int(age) >= 90 else BANDS[int(age) // 10]


def _donor_groups(donations: list[Any]) -> dict[str, Counter[str]]:
    """What each donation's public record tells of its donor, counted per group."""
    counts: dict[str, Counter[str]] = {b: Counter() for b in GROUP_OF}
    for d in donations:
        r = d.record
        counts["month"][r["consent"]["month"]] += 1
        counts["anatomical_region"][r["study"]["anatomical_region"]] += 1
        counts["age_band"][_band(r["subject"]["age"])] += 1
        counts["sex"][r["subject"]["sex"]] += 1
        for m in d.modalities:
            counts["modality"][m] += 1
    return counts


def _partitions(site: Path, ledger: list[dict[str, Any]]) -> list[tuple[str, Any, list[Any]]]:
    """(breakdown, (accepted, offered) total or None, [(group, accepted, offered) or None])."""
    catalog = site / "catalog"
    found = []
    for path in sorted(catalog.glob("*.parquet")):
        rows = pq.read_table(path).to_pylist()
        if not rows or "suppressed" not in rows[0]:
            continue
        if "breakdown" in rows[0]:  # the donation-rate table
            overall = next(r for r in rows if r["breakdown"] == "overall")
            total = (
                None if overall["suppressed"] else (overall["numerator"], overall["denominator"])
            )
            for breakdown in GROUP_OF:
                cells = [
                    (r["group"], r["numerator"], r["denominator"])
                    for r in rows
                    if r["breakdown"] == breakdown
                ]
                if breakdown in ("age_band", "sex"):  # the attacker is told this total
                    told = [line for line in ledger if breakdown in line]
                    own = (sum(x["accepted"] for x in told), sum(x["offered"] for x in told))
                    found.append((breakdown, own, cells))
                else:
                    found.append((breakdown, total, cells))
        else:  # a table of counts per day, modality and region
            page = (site / "statistics/index.html").read_text()
            said = re.search(r"Of (\d+) patients offered the donation button, (\d+) donated", page)
            total = (int(said[2]), int(said[1])) if said else None
            cells = [(None, r["accepted"], r["offered"]) for r in rows]
            found.append(("day", total, cells))
    assert found, "nothing published to attack"
    return found


def attack(site: Path, ledger: list[dict[str, Any]], donations: list[Any]) -> list[str]:
    """Every withheld count the published numbers determine exactly, as text."""
    donors = _donor_groups(donations)
    recovered = []
    for breakdown, total, cells in _partitions(site, ledger):
        hidden = [c for c in cells if c[1] is None]
        if not hidden or total is None:
            continue  # nothing withheld, or no relation to solve
        # Donors bound a group's accepted offers from below; where a donor's offer was
        # counted elsewhere the bound is wrong, so the attacker gets the strongest right one.
        lower = [
            min(donors.get(breakdown, Counter())[c[0]], _truth(ledger, breakdown, c[0]))
            for c in hidden
        ]
        left_a = total[0] - sum(c[1] for c in cells if c[1] is not None)
        left_b = (total[1] - total[0]) - sum(c[2] - c[1] for c in cells if c[1] is not None)
        k = len(hidden)
        # variables: accepted of each hidden cell, then its non-donors
        equalities = [[1] * k + [0] * k, [0] * k + [1] * k]
        bounds = [(lb, None) for lb in lower] + [(0, None)] * k
        for i, cell in enumerate(hidden):
            for name, weights in (
                ("accepted", [int(j == i) for j in range(k)] + [0] * k),
                ("did not donate", [0] * k + [int(j == i) for j in range(k)]),
                ("offered", [int(j == i) for j in range(k)] * 2),
            ):
                low = linprog(weights, A_eq=equalities, b_eq=[left_a, left_b], bounds=bounds)
                high = linprog(
                    [-w for w in weights], A_eq=equalities, b_eq=[left_a, left_b], bounds=bounds
                )
                assert low.status == 0 and high.status == 0, (breakdown, cell, low.message)
                if round(low.fun) == round(-high.fun):
                    recovered.append(f"{breakdown} {cell[0]}: {name} = {round(low.fun)}")
    return recovered


def _truth(ledger: list[dict[str, Any]], breakdown: str, group: str | None) -> int:
    if breakdown not in GROUP_OF or group is None:
        return 0
    of = GROUP_OF[breakdown]
    return sum(line["accepted"] for line in ledger if of(line) == group)


def _random_ledger(seed: int) -> list[dict[str, Any]]:
    """A hostile ledger: few patients a line, so many groups are small."""
    rng = random.Random(seed)
    lines = []
    days = [f"2026-{m:02d}-{d:02d}" for m in (9, 10, 11) for d in (1, 8, 15)][: rng.randint(2, 9)]
    for day in days:
        for modality in rng.sample(["CT", "MR", "CR", "PT"], rng.randint(1, 3)):
            for region in rng.sample(["HEAD", "CHEST", "LEG", "ABDOMEN"], rng.randint(1, 3)):
                split = rng.choice(["none", "both", "both", "age"])
                if split == "none":
                    offered = rng.randint(0, 30)
                    lines.append(_line(day, modality, region, offered, rng.randint(0, offered)))
                    continue
                for band in rng.sample(BANDS, rng.randint(1, 4)):
                    for sex in ["F", "M", "O"][: rng.randint(1, 3)] if split == "both" else [""]:
                        offered = rng.randint(0, 12)
                        strata = {"age_band": band, **({"sex": sex} if sex else {})}
                        accepted = rng.randint(0, offered)
                        lines.append(_line(day, modality, region, offered, accepted, **strata))
    return lines


def _donors_for(ledger: list[dict[str, Any]], seed: int) -> list[Any]:
    """Donations drawn from the accepted offers, so donors bound the counts as in life."""
    rng = random.Random(seed)
    accepted = [line for line in ledger for _ in range(line["accepted"])]
    chosen = rng.sample(accepted, min(len(accepted), rng.randint(0, 12)))
    donations = []
    for n, line in enumerate(chosen):
        band = line.get("age_band", "40-49")
        age = "90+" if band == "90+" else str(int(band.split("-")[0]) + 5)
        d = donation(
            n,
            consent={"text_version": "v1", "month": line["date"][:7]},
            subject={"age": age, "sex": line.get("sex", "F")},
            study={"anatomical_region": line["anatomical_region"], "diagnoses": []},
        )
        for instance in d.instances:
            instance["Modality"] = line["modality"]
        donations.append(d)
    return donations


def _one_small_month() -> list[dict[str, Any]]:
    """Two large months and one with 3 donors: the overall row minus the others would say 3."""
    return [
        _line("2026-09-03", "CT", "HEAD", 80, 30),
        _line("2026-10-03", "CT", "HEAD", 90, 31),
        _line("2026-11-02", "CT", "HEAD", 12, 3),
    ]


def test_a_lone_small_group_is_not_left_to_subtraction(tmp_path: Path) -> None:
    ledger = _one_small_month()
    site = _publish(tmp_path, ledger, [], pages=True)
    assert attack(site, ledger, []) == []
    page = (site / "statistics/index.html").read_text()
    assert "withheld to protect privacy" in page


def test_subtraction_recovers_nothing_from_the_pages_and_tables(tmp_path: Path) -> None:
    ledger = [
        *_one_small_month(),
        _line("2026-10-04", "MR", "KNEE", 40, 12, age_band="50-59", sex="F"),
        _line("2026-10-04", "MR", "KNEE", 3, 1, age_band="90+", sex="M"),
        _line("2026-10-05", "CR", "CHEST", 60, 20, age_band="30-39", sex="M"),
        _line("2026-10-05", "CR", "CHEST", 30, 10, age_band="60-69", sex="O"),
    ]
    donations = _donors_for(ledger, 1)
    site = _publish(tmp_path, ledger, donations, pages=True)
    assert attack(site, ledger, donations) == []
    rows = pq.read_table(site / "catalog/donation_rate.parquet").to_pylist()
    withheld = {(r["breakdown"], r["group"]) for r in rows if r["suppressed"]}
    # the small month is withheld, and so is a second month beside it
    assert ("month", "2026-11") in withheld and len({g for b, g in withheld if b == "month"}) == 2
    assert ("age_band", "90+") in withheld and ("sex", "O") not in withheld
    # the CSV holds the same rows, withheld counts empty
    with (site / "catalog/donation_rate.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["breakdown"], r["group"], r["numerator"]) for r in table] == [
        (r["breakdown"], r["group"], "" if r["numerator"] is None else str(r["numerator"]))
        for r in rows
    ]
    # every pair of counts the pages show is a published row, and the small ones nowhere
    published = {(r["numerator"], r["denominator"]) for r in rows if not r["suppressed"]}
    for page in ("statistics/index.html", "pilot/index.html"):
        text = (site / page).read_text()
        shown = re.findall(r"(\d+) of (?:the )?(\d+)", text)
        shown += re.findall(r"<td>(\d+)</td><td>(\d+)</td><td>[\d.]+%</td>", text)
        assert shown and {(int(a), int(o)) for a, o in shown} <= published, page
    statistics = (site / "statistics/index.html").read_text()
    assert "<td>3</td><td>12</td>" not in statistics and "3 of 12" not in statistics


def _donor(n: int, month: str) -> Any:
    return donation(n, consent={"text_version": "v1", "month": month})


BIG = [_line("2026-09-03", "CT", "HEAD", 80, 30), _line("2026-10-03", "CT", "HEAD", 90, 31)]


@pytest.mark.parametrize(
    ("ledger", "donations"),
    [
        # two small months, nobody donated in either: their sum, 0, would give both away
        (
            [
                *BIG,
                _line("2026-11-02", "CT", "HEAD", 12, 0),
                _line("2026-12-02", "CT", "HEAD", 9, 0),
            ],
            [],
        ),
        # two small months whose donors are all in the archive: the donors would give them away
        (
            [
                *BIG,
                _line("2026-11-02", "CT", "HEAD", 12, 3),
                _line("2026-12-02", "CT", "HEAD", 9, 2),
            ],
            [_donor(n, "2026-11") for n in range(3)] + [_donor(n, "2026-12") for n in (3, 4)],
        ),
        # nobody in a small group declined: offered = accepted would be known
        (
            [
                *BIG,
                _line("2026-11-02", "CT", "HEAD", 6, 6),
                _line("2026-12-02", "CT", "HEAD", 7, 7),
            ],
            [],
        ),
    ],
    ids=["zero-donors", "donors-explain-all", "all-accepted"],
)
def test_sums_that_bounds_pin_down_are_widened(
    tmp_path: Path, ledger: list[dict[str, Any]], donations: list[Any]
) -> None:
    site = _publish(tmp_path, ledger, donations, pages=False)
    assert attack(site, ledger, donations) == []
    rows = pq.read_table(site / "catalog/donation_rate.parquet").to_pylist()
    months = [r for r in rows if r["breakdown"] == "month"]
    assert sum(r["suppressed"] for r in months) == 3  # a large month withheld too


@pytest.mark.parametrize("seed", range(40))
def test_hostile_ledgers_leave_no_withheld_count_recoverable(tmp_path: Path, seed: int) -> None:
    ledger = _random_ledger(seed)
    donations = _donors_for(ledger, seed)
    site = _publish(tmp_path, ledger, donations, pages=False)
    assert attack(site, ledger, donations) == []


def test_per_day_offers_frozen_by_older_releases_are_retired(tmp_path: Path) -> None:
    """A release made before the donation rate froze offers per day: a build takes them out."""
    import pyarrow as pa

    from archive_builder.fair import write_release_files
    from archive_builder.release.freeze import retire_offers
    from archive_builder.release.model import ReleaseInfo

    donations = [donation(n) for n in range(3)]
    info = ReleaseInfo("1.0.0", "2026-11-01", "First.", added=tuple(d.public_id for d in donations))
    releases = tmp_path / "releases"
    write_release_files(CONFIG, donations, info, None, SiteWriter(releases), folder="1.0.0/")
    legacy = releases / "1.0.0/catalog/offers.parquet"
    day_rows = [{"date": "2026-11-02", "offered": None, "accepted": None, "suppressed": True}]
    pq.write_table(pa.Table.from_pylist(day_rows), legacy)
    legacy.with_name("offers.parquet.sha256").write_text("0  offers.parquet\n")
    croissant = (releases / "1.0.0/croissant.json").read_text()
    history = [(info, {d.public_id: "0" * 40 for d in donations})]
    assert retire_offers(CONFIG, releases, history, donations) == ["1.0.0"]
    assert not list(releases.rglob("offers.parquet*"))
    assert (releases / "1.0.0/catalog/donations.parquet").is_file()  # the rest stays frozen
    assert (releases / "1.0.0/croissant.json").read_text() == croissant
    assert retire_offers(CONFIG, releases, history, donations) == []
