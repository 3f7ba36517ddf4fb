"""RO-Crate 1.2 metadata of one donation's descriptor folder on the site."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config import ArchiveConfig
from ..licenses import LICENSES

CONTEXT = "https://w3id.org/ro/crate/1.2/context"
PROFILE = "https://w3id.org/ro/crate/1.2"


def ro_crate(
    config: ArchiveConfig,
    *,
    name: str,
    description: str,
    url: str,
    license: str,
    date_published: str,
    keywords: Sequence[str],
    files: Sequence[tuple[str, str, str]],  # (relative path, media type, description)
) -> dict[str, Any]:
    """The crate's root is the folder; ``files`` are the parts published beside it."""
    lic = LICENSES[license]
    publisher = {"@id": config.base_url + "#publisher"}
    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "identifier": url,
        "url": url,
        "name": name,
        "description": description,
        "datePublished": date_published,
        "license": {"@id": lic.url},
        "keywords": ", ".join(keywords),
        "publisher": publisher,
        "creator": publisher,
        "hasPart": [{"@id": path} for path, _, _ in files],
    }
    graph: list[dict[str, Any]] = [
        {
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "conformsTo": {"@id": PROFILE},
            "about": {"@id": "./"},
        },
        root,
        {
            "@id": config.base_url + "#publisher",
            "@type": "Organization",
            "name": config.publisher,
            "email": config.contact,
            "url": config.base_url,
        },
        {
            "@id": lic.url,
            "@type": "CreativeWork",
            "name": lic.name,
            "identifier": f"https://spdx.org/licenses/{lic.spdx}",
            "description": lic.summary,
        },
    ]
    for path, media, text in files:
        graph.append(
            {
                "@id": path,
                "@type": "File",
                "name": path,
                "encodingFormat": media,
                "description": text,
            }
        )
    return {"@context": CONTEXT, "@graph": graph}
