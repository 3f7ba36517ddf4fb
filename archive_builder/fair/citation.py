"""Citations as files: CITATION.cff, BibTeX and RIS, for the archive, each release and donation.

One :class:`Citable` describes what is cited; each format is rendered from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..config import ArchiveConfig
from .text import to_plain

KEYWORDS = ("medical imaging", "DICOM", "open data", "data donation", "DataLad")


@dataclass(frozen=True)
class Citable:
    """What a citation names: one dataset (the archive, a release or a donation)."""

    key: str
    title: str
    abstract: str
    publisher: str
    contact: str
    url: str
    license: str  # SPDX
    year: str
    version: str | None = None
    doi: str | None = None
    date: str | None = None  # ISO day of release
    repository: str | None = None
    keywords: tuple[str, ...] = field(default=KEYWORDS)


def archive_citable(
    config: ArchiveConfig,
    year: str,
    version: str | None = None,
    doi: str | None = None,
    date: str | None = None,
    url: str | None = None,
    notes: str = "",
) -> Citable:
    abstract = to_plain(config.description)
    if notes.strip():
        abstract += "\n\n" + to_plain(notes)
    title = config.name if version is None else f"{config.name}, release {version}"
    key = re.sub(r"[^A-Za-z0-9]+", "", config.name)[:40] or "archive"
    return Citable(
        key=f"{key}{year}" + (f"v{version}" if version else ""),
        title=title,
        abstract=abstract,
        publisher=config.publisher,
        contact=config.contact,
        url=url or config.base_url,
        license=config.license,
        year=year,
        version=version,
        doi=doi,
        date=date,
        repository=config.base_url + "store/",
    )


# --- CITATION.cff ----------------------------------------------------------------------------


def cff_data(c: Citable) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use these data, please cite them as below.",
        "type": "dataset",
        "title": c.title,
        "abstract": c.abstract,
        "authors": [{"name": c.publisher, "email": c.contact}],
        "contact": [{"name": c.publisher, "email": c.contact}],
        "url": c.url,
        "license": c.license,
        "keywords": list(c.keywords),
    }
    if c.repository:
        data["repository"] = c.repository
    if c.version:
        data["version"] = c.version
    if c.date:
        data["date-released"] = c.date
    if c.doi:
        data["doi"] = c.doi
        data["identifiers"] = [{"type": "doi", "value": c.doi}]
    return data


def _yaml(value: Any, indent: int = 0) -> str:
    """A small YAML emitter for CFF: strings are JSON-quoted, which YAML reads as is."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict):
                body = _yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict):
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(str(value), ensure_ascii=False)


def render_cff(data: dict[str, Any]) -> str:
    return f"# Written by archive-builder {__version__}\n" + _yaml(data) + "\n"


# --- BibTeX ----------------------------------------------------------------------------------

_TEX = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in " ".join(text.split()))


def render_bibtex(c: Citable) -> str:
    """A BibLaTeX/BibTeX ``@misc`` entry (``@dataset`` is BibLaTeX only; misc works everywhere)."""
    fields: list[tuple[str, str]] = [
        ("title", "{" + _tex(c.title) + "}"),
        ("author", "{" + _tex(c.publisher) + "}"),
        ("publisher", _tex(c.publisher)),
        ("year", c.year),
    ]
    if c.version:
        fields.append(("version", _tex(c.version)))
    if c.doi:
        fields.append(("doi", c.doi))
    fields += [
        ("url", c.url),
        ("howpublished", r"\url{" + c.url + "}"),
        ("note", _tex(f"Dataset. Licence: {c.license}")),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{c.key},\n{body}\n}}\n"


# --- RIS -------------------------------------------------------------------------------------


def render_ris(c: Citable) -> str:
    """An RIS record of type DATA."""
    lines = [
        ("TY", "DATA"),
        ("TI", c.title),
        ("AU", c.publisher),
        ("PB", c.publisher),
        ("PY", c.year),
        ("DA", (c.date or c.year).replace("-", "/")),
        ("UR", c.url),
        ("AB", " ".join(c.abstract.split())),
        *(("KW", k) for k in c.keywords),
        ("C1", f"Licence: {c.license}"),
    ]
    if c.version:
        lines.append(("ET", c.version))
    if c.doi:
        lines.append(("DO", c.doi))
    lines.append(("ER", ""))
    return "".join(
        f"{tag}  - {value}".rstrip() + "\n" for tag, value in lines if value or tag == "ER"
    )
