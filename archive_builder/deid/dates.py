"""Modified dates: every date of a donation moves by the same number of days.

Intervals inside a study (and across a patient's donations, which share no
offset) survive to the day; times of day are kept, since a whole-day shift
leaves them consistent with their dates.
"""

from __future__ import annotations

import re
from datetime import date, timedelta


def shift_da(value: str, offset_days: int) -> str:
    """Shift a DA value (``YYYYMMDD``, or a range ``A-B``); '' if it is not a date."""
    parts = value.strip().split("-")
    shifted = [_shift_one(p, offset_days) if p else "" for p in parts]
    if any(s is None for s in shifted) or len(parts) > 2:
        return ""
    return "-".join(s or "" for s in shifted)


def shift_dt(value: str, offset_days: int) -> str:
    """Shift the date part of a DT value; '' when it has no full date."""
    value = value.strip()
    if len(value) < 8 or re.search(r"-\d{4}", value[8:]):
        return ""  # no full date, or a range: not something an instance should hold
    head = _shift_one(value[:8], offset_days)
    return "" if head is None else head + value[8:]


def _shift_one(text: str, offset_days: int) -> str | None:
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        moved = day + timedelta(days=offset_days)
    except (ValueError, OverflowError):
        return None
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}"


_TIME = re.compile(
    r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:(?:[0-5]\d|60)(?:\.\d{1,6})?)?)?"
    r"|(?:[01]\d|2[0-3]):[0-5]\d(?::(?:[0-5]\d|60)(?:\.\d{1,6})?)?"  # ACR-NEMA's HH:MM:SS
)


def valid_tm(value: str) -> bool:
    """Whether a TM value is a time of day (or a range of two), as PS3.5 spells it; a
    date or free text in a TM attribute is not."""
    parts = value.strip().split("-")
    if len(parts) > 2 or not any(parts):
        return not value.strip()
    return all(not p.strip() or _TIME.fullmatch(p.strip()) for p in parts)


def collision_free_offset(offset_days: int, dates: set[str]) -> int:
    """``offset_days``, or the nearest earlier offset that maps no date onto another one.

    A shifted date that happens to equal another date of the original (a
    study date landing on the birth date) would publish that date; moving every
    date one day further back keeps intervals and is decided by the data
    alone, so re-runs give the same result.
    """
    for offset in range(offset_days, offset_days - 366, -1):
        if not any(_shift_one(d, offset) in dates for d in dates):
            return offset
    return offset_days  # not reachable for real headers; the verifier still decides


# -- dates in the ways people write them ---------------------------------------------------

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def date_spellings(yyyymmdd: str) -> set[str]:
    """The ways a date of the header may be written in text (lower case, as matching
    folds): digits with and without separators in day-month-year, month-day-year and
    year-month-day order, four- and two-digit years (03/03/61, 030361, 610303), days
    and months with and without their zero, and English month names, full and cut to
    three letters (03-MAR-1961, 3 March 1961, MAR 3 1961, 15JAN2020). Two-digit years
    with days and months without their zero are not spelled with dots or spaces
    (3.1.20 is a piece of many UIDs)."""
    y, m, d = yyyymmdd[:4], yyyymmdd[4:6], yyyymmdd[6:8]
    yy, mi, di = y[2:], str(int(m)), str(int(d))
    out = {yyyymmdd}
    for year in (y, yy):
        for day, month in ((d, m), (di, mi)):
            for sep in ("-", ".", "/", " "):
                if sep in ". " and year == yy and (day, month) == (di, mi):
                    # 3.1.20 would meet the standard's own UIDs (1.2.840.10008.1.2.4.50)
                    # and multi-valued numbers: not searched for
                    continue
                out.add(f"{year}{sep}{month}{sep}{day}")
                out.add(f"{day}{sep}{month}{sep}{year}")
                out.add(f"{month}{sep}{day}{sep}{year}")
        out.update({f"{yy}{m}{d}", f"{d}{m}{yy}", f"{m}{d}{yy}", f"{d}{m}{y}", f"{m}{d}{y}"})
    full = MONTHS[int(m) - 1]
    for name in (full, full[:3]):
        for year in (y, yy):
            for day in (d, di):
                for sep in ("-", " ", ""):
                    out.add(f"{day}{sep}{name}{sep}{year}")
                    out.add(f"{name}{sep}{day}{sep}{year}")
                    out.add(f"{year}{sep}{name}{sep}{day}")
                out.add(f"{name} {day}, {year}")
    return out


def month_name_pattern() -> str:
    """A regular expression (case-insensitive) for a date written with a month name,
    for text where dates of any day must go: 03-MAR-1961, 3 March 1961, MAR 3 1961,
    15JAN2020, 2020 Jan 15."""
    month = "(?:" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in MONTHS) + r")\.?"
    day, year, sep = r"\d{1,2}(?:st|nd|rd|th)?", r"\d{2,4}", r"[\s./_,-]{0,2}"
    return (
        rf"(?<![0-9]){day}{sep}{month}{sep}{year}(?![0-9])"
        rf"|(?<![a-z]){month}{sep}{day}{sep}{year}(?![0-9])"
        rf"|(?<![0-9])\d{{4}}{sep}{month}{sep}{day}(?![0-9])"
    )
