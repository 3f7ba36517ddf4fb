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
    """Shift the date part of a DT value; '' when it has no full date, or when what
    follows the date is not a time of day and a UTC offset as PS3.5 spells them (text
    glued to a date-time, a name or an ID, would otherwise be kept as written)."""
    value = value.strip()
    if len(value) < 8 or not _DT_TAIL.fullmatch(value[8:]):
        return ""  # no full date, a range, or other text: not something to keep
    head = _shift_one(value[:8], offset_days)
    return "" if head is None else head + value[8:]


# What may follow the date of a DT value (PS3.5 Table 6.2-1): HH, MM, SS, a fraction of
# up to six digits, each only after the one before, then an optional &ZZXX offset.
_DT_TAIL = re.compile(
    r"(?:(?:[01]\d|2[0-3])(?:[0-5]\d(?:(?:[0-5]\d|60)(?:\.\d{1,6})?)?)?)?"
    r"(?:[+-](?:0\d|1[0-4])[0-5]\d)?"
)
_DA = re.compile(r"\d{8}")
# One DT value of any precision (a year, a month, a day, then the time), for the verifier.
_ONE_DT = r"\d{4}(?:\d{2}(?:\d{2}" + _DT_TAIL.pattern + r")?)?"
_DT_VALUE = re.compile(rf"(?:{_ONE_DT})?(?:-(?:{_ONE_DT})?)?")


def valid_dt(value: str) -> bool:
    """Whether a DT value is a date-time as PS3.5 spells it (a year, month, day, time
    and UTC offset, each optional after the year; or a range of two), or empty."""
    return bool(_DT_VALUE.fullmatch(value.strip()))


def valid_da(value: str) -> bool:
    """Whether a DA value is a date as PS3.5 spells it (or a range of two), or empty."""
    parts = value.strip().split("-")
    return len(parts) <= 2 and all(not p.strip() or _DA.fullmatch(p.strip()) for p in parts)


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


# Month names in the other languages of European hospitals' headers (German, French,
# Spanish, Italian, Dutch, Portuguese, Scandinavian), full and as commonly cut, as
# ``normalise.fold`` writes them (lower case, no accents; ä also as ae). Cuts that are
# English words or imaging terms (MAG, SET, OUT, GEN) are left out.
OTHER_MONTHS = (
    "januar jaenner janner jaen jan janvier janv enero ene gennaio januari janeiro",
    "februar feber fevrier fevr febrero febbraio februari fevereiro fev",
    "marz maerz mrz mar mars marzo maart mrt marco marts",
    "avril avr abril aprile abr",
    "mai mayo maggio mei maio maj",
    "juni juin junio giugno giu junho",
    "juli juillet juil julio luglio lug julho",
    "aout agosto ago augustus augusti",
    "septembre septiembre setiembre settembre setembro sept",
    "oktober octobre octubre ottobre ott outubro okt",
    "novembre noviembre novembro",
    "dezember decembre diciembre dic dicembre dezembro dez",
)
# The same names as written, with their accents (for text searched unfolded).
_ACCENTED = "jänner jän märz mär février févr août décembre déc março"
_MONTH_NUMBER = {
    name: number for number, names in enumerate(OTHER_MONTHS, start=1) for name in names.split()
}
_MONTH_NUMBER.update({m: n for n, m in enumerate(MONTHS, start=1)})
_MONTH_NUMBER.update({m[:3]: n for n, m in enumerate(MONTHS, start=1)})
_MONTH_NUMBER.update({"sept": 9})


def month_name_pattern(*, groups: bool = False) -> str:
    """A regular expression (case-insensitive) for a date written with a month name, in
    English or another language, for text where dates of any day must go: 03-MAR-1961,
    3 March 1961, MAR 3 1961, 15JAN2020, 2020 Jan 15, 3 März 61, 3 de março de 1961.
    With ``groups``, the day, month and year of each order are named (d1, m1, y1...)."""
    names = {f"{m[:3]}(?:{m[3:]})?" for m in MONTHS}
    names |= set(_MONTH_NUMBER) | set(_ACCENTED.split())
    alternation = "|".join(sorted(names, key=len, reverse=True))

    def part(kind: str, order: int) -> str:
        body = {
            "d": r"\d{1,2}(?:st|nd|rd|th)?",
            "m": rf"(?:de\s+)?(?:{alternation})\.?(?:\s+de)?",
            "y": r"\d{2,4}",
        }[kind]
        return f"(?P<{kind}{order}>{body})" if groups else f"(?:{body})"

    sep = r"[\s./_,-]{0,2}"
    return (
        rf"(?<![0-9]){part('d', 1)}{sep}{part('m', 1)}{sep}{part('y', 1)}(?![0-9])"
        rf"|(?<![^\W\d_]){part('m', 2)}{sep}{part('d', 2)}{sep}{part('y', 2)}(?![0-9])"
        rf"|(?<![0-9]){part('y', 3)}{sep}{part('m', 3)}{sep}{part('d', 3)}(?![0-9])"
    )


_NAMED_DATE: re.Pattern[str] | None = None
_ENGLISH = frozenset(MONTHS) | {m[:3] for m in MONTHS}
_FOREIGN = frozenset(_MONTH_NUMBER) - _ENGLISH - {"sept"}
_MONTH_WORD = re.compile(r"[a-z]+")


def english_dates(folded: str) -> str:
    """The dates written with a month name in another language in ``folded`` (a folded
    text), each spelled again with the English month's three letters, one a line, as
    ``date_spellings`` spells them ("3 marz 61" gives "3 mar 61"); '' when there are
    none. The verifier and the gate search these lines too."""
    global _NAMED_DATE
    if _FOREIGN.isdisjoint(_MONTH_WORD.findall(folded)):
        return ""  # most texts: no month name of another language, no costly search
    if _NAMED_DATE is None:
        _NAMED_DATE = re.compile(month_name_pattern(groups=True), re.IGNORECASE)
    lines = []
    for match in _NAMED_DATE.finditer(folded):
        found = {k[0]: v for k, v in match.groupdict().items() if v is not None}
        word = _MONTH_WORD.findall(found["m"].lower().replace("de ", " "))
        number = next((_MONTH_NUMBER[w] for w in word if w in _MONTH_NUMBER), None)
        if number is None:
            continue
        day = re.sub(r"\D", "", found["d"])
        english = MONTHS[number - 1][:3]
        lines.append(f"{day} {english} {found['y']}")
    return "\n".join(lines)
