"""What the pages show, derived once from the donations, releases and offers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..release.model import ReleaseInfo
from ..store.content import StoredDonation

AGE_BANDS = (*(f"{lo}-{lo + 9}" for lo in range(0, 90, 10)), "90+")
UNRELEASED = "not yet released"


def age_band(age: str) -> str:
    """``"52"`` -> ``"50-59"``; ``"90+"`` and anything from 90 on -> ``"90+"``."""
    try:
        years = int(age)
    except ValueError:
        return "90+" if age.strip().startswith("9") else "unknown"
    return "90+" if years >= 90 else AGE_BANDS[max(years, 0) // 10]


def releases_in_order(releases: Sequence[ReleaseInfo]) -> list[ReleaseInfo]:
    return sorted(releases, key=lambda r: (r.date, r.version))


def release_added(releases: Sequence[ReleaseInfo]) -> dict[str, str]:
    """Public id -> the version of the first release that included it."""
    added: dict[str, str] = {}
    for release in releases_in_order(releases):
        for public_id in release.added:
            added.setdefault(public_id, release.version)
    return added


def diagnosis_label(diagnosis: Mapping[str, Any]) -> str:
    text = f"{diagnosis['system']} {diagnosis['code']}"
    return f"{text} {diagnosis['display']}" if diagnosis.get("display") else text


@dataclass(frozen=True)
class Row:
    """One donation as the browse page, its index and the search know it."""

    public_id: str
    age_band: str
    sex: str
    region: str
    modalities: tuple[str, ...]
    diagnoses: tuple[str, ...]
    license: str
    release: str
    instances: int
    bytes: int
    month: str

    def facets(self) -> dict[str, tuple[str, ...]]:
        return {
            "modality": self.modalities,
            "region": (self.region,),
            "sex": (self.sex,),
            "age": (self.age_band,),
            "diagnosis": self.diagnoses,
            "license": (self.license,),
            "release": (self.release,),
        }


FACETS = {
    "modality": "Modality",
    "region": "Anatomical region",
    "sex": "Sex",
    "age": "Age band",
    "diagnosis": "Diagnosis",
    "license": "Licence",
    "release": "Release added",
}


def row_of(donation: StoredDonation, added: Mapping[str, str]) -> Row:
    record = donation.record
    return Row(
        public_id=donation.public_id,
        age_band=age_band(str(record["subject"]["age"])),
        sex=record["subject"]["sex"],
        region=record["study"]["anatomical_region"],
        modalities=tuple(donation.modalities),
        diagnoses=tuple(diagnosis_label(d) for d in record["study"]["diagnoses"]),
        license=record["license"],
        release=added.get(donation.public_id, UNRELEASED),
        instances=len(donation.instances),
        bytes=donation.total_bytes,
        month=record["consent"]["month"],
    )


def facet_counts(rows: Sequence[Row]) -> dict[str, list[tuple[str, int]]]:
    """Facet -> (value, count), most frequent first (age bands in age order)."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for row in rows:
        for name, values in row.facets().items():
            counts[name].update(values)
    result = {name: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for name, c in counts.items()}
    order = {band: i for i, band in enumerate((*AGE_BANDS, "unknown"))}
    result["age"] = sorted(counts["age"].items(), key=lambda kv: order.get(kv[0], 99))
    return result


def browse_index(rows: Sequence[Row]) -> dict[str, Any]:
    """A compact JSON index: each facet's values once, each row as small integers."""
    values: dict[str, list[str]] = {name: [] for name in FACETS}
    positions: dict[str, dict[str, int]] = {name: {} for name in FACETS}

    def code(name: str, value: str) -> int:
        if value not in positions[name]:
            positions[name][value] = len(values[name])
            values[name].append(value)
        return positions[name][value]

    encoded = []
    for row in rows:
        encoded.append(
            [row.public_id, *([code(n, v) for v in vs] for n, vs in row.facets().items())]
        )
    return {"facets": list(FACETS), "values": values, "rows": encoded}
