"""Write the Code Meanings of the standard's coding schemes, from pydicom's dictionaries.

    python tools/make_code_meanings.py

pydicom's code dictionaries (``pydicom.sr``) hold every code of DCM, SCT,
LN, UCUM, NCIt, RadLex... that PS3.16 uses, and a mapping of the retired
SNOMED scheme SRT to SCT; importing them costs about a second, in every
worker process. The output, ``archive_builder/deid/code_meanings.tsv.gz``,
holds one line per code (scheme, code, meaning; the first meaning pydicom
lists where it has several) and is loaded in a few milliseconds. A test
checks that it is what this script makes from the installed pydicom.
Re-running the script gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "archive_builder" / "deid" / "code_meanings.tsv.gz"


def table() -> dict[tuple[str, str], str]:
    from pydicom.sr._concepts_dict import concepts
    from pydicom.sr._snomed_dict import mapping

    meanings: dict[tuple[str, str], str] = {}
    for scheme, by_keyword in concepts.items():
        for codes in by_keyword.values():
            for code, (meaning, _groups) in codes.items():
                meanings.setdefault((scheme, code), meaning)
    for srt, sct in mapping["SRT"].items():
        if ("SCT", sct) in meanings:
            meanings.setdefault(("SRT", srt), meanings["SCT", sct])
    return meanings


def render() -> bytes:
    lines = [
        f"{scheme}\t{code}\t{meaning}\n"
        for (scheme, code), meaning in sorted(table().items())
        if "\t" not in meaning and "\n" not in meaning
    ]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write("".join(lines).encode("utf-8"))
    return buffer.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(render())
    print(f"{OUT}: {len(table())} codes")
