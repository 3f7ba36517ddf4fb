"""Small pieces of English the pages share: counts with the right plural, ties said as ties."""

from __future__ import annotations

from collections import Counter


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``plural(1, "DICOM file")`` -> "1 DICOM file"; ``plural(7, ...)`` -> "7 DICOM files"."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def and_list(words: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def commonest(counts: Counter[str], kind: str, unit: str) -> str:
    """The most frequent ``kind`` (counted in ``unit``), or every value tied at the top.

    ``Counter({"60-69": 2, "40-49": 1})`` -> "the commonest age band is 60-69 (2 donors)";
    all tied -> "each age band has 1 donor"; some tied -> "the commonest age bands are
    40-49 and 60-69 (2 donors each)".
    """
    if not counts:
        return f"no {kind}s"
    top = max(counts.values())
    leaders = sorted(value for value, n in counts.items() if n == top)
    if len(leaders) == 1:
        return f"the commonest {kind} is {leaders[0]} ({plural(top, unit)})"
    if len(leaders) == len(counts):
        return f"each {kind} has {plural(top, unit)}"
    return f"the commonest {kind}s are {and_list(leaders)} ({plural(top, unit)} each)"
