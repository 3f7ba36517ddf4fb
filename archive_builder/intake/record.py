"""``donation.json``: the record the portal writes, checked against its contract."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .. import text as published_text
from .errors import IntakeError

RECORD_FILE = "donation.json"
_MAX_RECORD_BYTES = 1024 * 1024
_MAX_DEPTH = 16  # the contract nests 4 deep
_MAX_DIGITS = 15  # no number of the contract needs more
_TEXT_FIELDS = (("consent", "text_version"),)  # plus every diagnosis display


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


_JSON_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _describe(error: ValidationError) -> str:
    """What the contract expects, in its own words: never the value that broke it.

    jsonschema's messages quote the instance, and a record of the wrong shape
    (an array holding the record, say) would then echo the secret donation id.
    """
    rule, expected = error.validator, error.validator_value
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return "must be " + " or ".join(_JSON_TYPES.get(str(k), str(k)) for k in kinds)
    if rule == "required":
        given = error.instance if isinstance(error.instance, dict) else {}
        missing = [str(k) for k in expected if k not in given]
        return "missing " + ", ".join(missing)
    if rule == "additionalProperties":
        return "has fields the contract does not define (their names are not repeated here)"
    if rule in ("pattern", "enum", "const"):
        return f"not an allowed value (expected {expected})"
    if rule in ("minimum", "maximum"):
        return f"must be {'at least' if rule == 'minimum' else 'at most'} {expected}"
    if rule in ("minLength", "maxLength"):
        return f"must be {'at least' if rule == 'minLength' else 'at most'} {expected} characters"
    if rule in ("minItems", "maxItems"):
        return f"must hold {'at least' if rule == 'minItems' else 'at most'} {expected} items"
    if rule == "format":
        return f"not a valid {expected}"
    return f"does not satisfy the contract's '{rule}' rule"


def _text_problems(data: dict[str, Any]) -> list[str]:
    """Free text of a valid record that cannot be published as it is."""
    found = []
    texts = [("consent.text_version", data["consent"]["text_version"])]
    for index, diagnosis in enumerate(data["study"]["diagnoses"]):
        texts.append((f"study.diagnoses.{index}.display", diagnosis.get("display", "")))
    for where, value in texts:
        reason = published_text.problem(value)
        if reason:
            found.append(f"{where}: {reason}")
    return found


def parse_record(data: Any, source: str) -> DonationRecord:
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = []
    for error in errors:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: {_describe(error)}")
    if not problems:
        problems = _text_problems(data)
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
    norm = published_text.normalise
    return DonationRecord(
        donation_id=data["donation_id"],
        consent_given_at=given_at,
        consent_text_version=norm(consent["text_version"]),
        license=consent["license"],
        age_years=subject["age_years"],
        sex=subject["sex"],
        anatomical_region=study["anatomical_region"],
        diagnoses=tuple(
            Diagnosis(d["system"], d["code"], norm(d.get("display", "")))
            for d in study["diagnoses"]
        ),
    )


class _Absurd(ValueError):
    """A number no record needs (it would only cost time or crash a reader)."""


def _number(text: str) -> int | float:
    if len(text.lstrip("-").replace(".", "").split("e")[0].split("E")[0]) > _MAX_DIGITS:
        raise _Absurd(f"a number of more than {_MAX_DIGITS} digits")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not -1e15 < value < 1e15:
        raise _Absurd("a number out of range")
    return value


def _constant(name: str) -> Any:
    raise _Absurd(f"{name}, which JSON does not allow")


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _depth(text: str) -> int:
    """How deeply arrays and objects nest, strings skipped (before the parser recurses)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        mark = match.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def read_record(path: Path, source: str) -> DonationRecord:
    if path.stat().st_size > _MAX_RECORD_BYTES:
        raise IntakeError(f"{source}: {RECORD_FILE} is larger than 1 MB; it cannot be a record.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IntakeError(f"{source}: {RECORD_FILE} is not UTF-8 text.") from None
    if _depth(text) > _MAX_DEPTH:
        raise IntakeError(
            f"{source}: {RECORD_FILE} nests arrays or objects more than {_MAX_DEPTH} deep; "
            "the donation contract needs 4."
        )
    try:
        data = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except _Absurd as exc:
        raise IntakeError(f"{source}: {RECORD_FILE} holds {exc}; refused.") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise IntakeError(
            f"{source}: {RECORD_FILE} is not valid JSON ({exc.msg} at {where})."
        ) from None
    except (ValueError, RecursionError):
        raise IntakeError(f"{source}: {RECORD_FILE} cannot be read as JSON.") from None
    return parse_record(data, source)
