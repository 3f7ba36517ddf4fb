"""``donation.json``: the record the portal writes, checked against its contract."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .errors import IntakeError

RECORD_FILE = "donation.json"
_MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Diagnosis:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class DonationRecord:
    donation_id: str  # secret: never published, never logged in clear
    consent_given_at: datetime
    consent_text_version: str
    license: str
    age_years: int
    sex: str
    anatomical_region: str
    diagnoses: tuple[Diagnosis, ...]

    def public(self, public_id: str) -> dict[str, Any]:
        """What is published of the record: not the donation id, and consent only to the month.

        The exact consent time could be matched against the portal's logs, so
        it stays private; the month says what readers need (when consent was given
        and under which text).
        """
        return {
            "public_id": public_id,
            "license": self.license,
            "consent": {
                "text_version": self.consent_text_version,
                "month": self.consent_given_at.astimezone(UTC).strftime("%Y-%m"),
            },
            "subject": {"age": self.age_published, "sex": self.sex},
            "study": {
                "anatomical_region": self.anatomical_region,
                "diagnoses": [
                    {"system": d.system, "code": d.code, "display": d.display}
                    for d in self.diagnoses
                ],
            },
        }

    @property
    def age_published(self) -> str:
        """Ages of 90 and over are published as 90+ (HIPAA Safe Harbor, DICOM ``090Y``)."""
        return "90+" if self.age_years >= 90 else str(self.age_years)


@cache
def _validator() -> Draft202012Validator:
    text = resources.files(__package__).joinpath("donation.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def _shorten(text: str, limit: int = 80) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_record(data: Any, source: str) -> DonationRecord:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    problems = []
    for error in errors:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if where == "donation_id" or error.validator in ("pattern", "enum", "const"):
            # Say what is expected without echoing a value that may be secret.
            expected = (
                error.schema.get("pattern") or error.schema.get("enum") or error.schema.get("const")
            )
            problems.append(f"{where}: not an allowed value (expected {expected})")
        else:
            problems.append(f"{where}: {_shorten(error.message)}")
    if not problems:
        try:
            given_at = datetime.fromisoformat(data["consent"]["given_at"])
        except ValueError:
            problems.append("consent.given_at: not an RFC 3339 date-time")
        else:
            if given_at.tzinfo is None:
                problems.append("consent.given_at: has no UTC offset (write e.g. +01:00 or Z)")
    if problems:
        raise IntakeError(
            f"{source}: {RECORD_FILE} does not follow the donation contract: " + "; ".join(problems)
        )
    study, subject, consent = data["study"], data["subject"], data["consent"]
    return DonationRecord(
        donation_id=data["donation_id"],
        consent_given_at=given_at,
        consent_text_version=consent["text_version"],
        license=consent["license"],
        age_years=subject["age_years"],
        sex=subject["sex"],
        anatomical_region=study["anatomical_region"],
        diagnoses=tuple(
            Diagnosis(d["system"], d["code"], d.get("display", "")) for d in study["diagnoses"]
        ),
    )


def read_record(path: Path, source: str) -> DonationRecord:
    if path.stat().st_size > _MAX_RECORD_BYTES:
        raise IntakeError(f"{source}: {RECORD_FILE} is larger than 1 MB; it cannot be a record.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(f"{source}: {RECORD_FILE} is not valid JSON ({exc}).") from None
    return parse_record(data, source)
