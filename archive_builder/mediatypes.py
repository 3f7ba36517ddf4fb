"""The media type of every kind of file the site holds: one table for links, descriptors and serve.

Static hosts guess types from extensions; several of ours need a name rule
(``croissant.json`` is JSON-LD, ``linkset.json`` a linkset). The README lists
the same table for people configuring a host.
"""

from __future__ import annotations

BY_NAME = {
    "croissant.json": "application/ld+json",
    "ro-crate-metadata.json": "application/ld+json",
    "linkset.json": "application/linkset+json",
    "datacite.xml": "application/vnd.datacite.datacite+xml",
    "datacite.json": "application/vnd.datacite.datacite+json",
    "LICENSE": "text/plain",
    "SHA256SUMS": "text/plain",
    "_headers": "text/plain",
}
BY_SUFFIX = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".ttl": "text/turtle",
    ".xml": "application/xml",
    ".parquet": "application/vnd.apache.parquet",
    ".cff": "application/yaml",
    ".bib": "application/x-bibtex",
    ".ris": "application/x-research-info-systems",
    ".sha256": "text/plain",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".dcm": "application/dicom",
    ".wasm": "application/wasm",
}
TEXT = ("text/", "application/json", "application/ld+json", "application/linkset+json")


def media_type(name: str) -> str:
    """The media type of a site file by its name (default: application/octet-stream)."""
    base = name.rpartition("/")[2]
    dot = base.rfind(".")
    suffix = base[dot:] if dot > 0 else ""
    return BY_NAME.get(base) or BY_SUFFIX.get(suffix, "application/octet-stream")


def content_type(name: str) -> str:
    """``media_type`` with ``charset=utf-8`` for text, as an HTTP Content-Type."""
    kind = media_type(name)
    textual = (
        kind.startswith(TEXT)
        or kind.endswith(("+xml", "+json"))
        or kind
        in (
            "application/xml",
            "application/yaml",
            "application/x-bibtex",
            "application/x-research-info-systems",
        )
    )
    return f"{kind}; charset=utf-8" if textual else kind
