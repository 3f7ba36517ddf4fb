"""Code Meanings re-derived from the code: a coded entry keeps no text typed by a person.

A Code Meaning is free text in the file: whatever a technologist or an
exporter wrote ("brain, read by Dr X at ward Y") travels with the code. For
the standard's own coding schemes (DCM, SCT and its predecessor SRT, LN,
UCUM, NCIt, RadLex... every code pydicom's dictionaries know) the meaning is
re-derived from the scheme and the code; the engine cleans other meanings
like a description, or removes them. The table (``code_meanings.tsv.gz``) is
made from pydicom's dictionaries by ``tools/make_code_meanings.py``.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources


@cache
def _meanings() -> dict[tuple[str, str], str]:
    data = resources.files(__package__).joinpath("code_meanings.tsv.gz").read_bytes()
    table: dict[tuple[str, str], str] = {}
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        scheme, code, meaning = line.split("\t")
        table[scheme, code] = meaning
    return table


def standard_meaning(scheme: str, value: str) -> str | None:
    """The meaning of ``value`` in coding scheme ``scheme``; None when the scheme or the
    code is not in pydicom's dictionaries."""
    return _meanings().get((scheme.strip().upper(), value.strip()))
