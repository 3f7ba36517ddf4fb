"""Croissant 1.1 metadata: record sets over Parquet files, loadable by ML tooling.

Per donation, the record sets are the donation's series and instances (its own
small Parquet files beside the descriptor); for the archive, they are the
catalogs. Every field is described from the catalog's column declarations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..catalog.tables import Table
from ..config import ArchiveConfig
from ..licenses import LICENSES

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
PARQUET = "application/x-parquet"  # mlcroissant 1.1.1 does not load the IANA type

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


@dataclass(frozen=True)
class ParquetFile:
    """One Parquet file a Croissant document points at, and the table it holds.

    A hive-partitioned table is a file set instead: ``includes`` is the glob of its
    parts (relative to the croissant.json), ``url`` its folder, and there is no
    single digest (each part's is in the folder's ``_SHA256SUMS``).
    """

    table: Table
    url: str  # relative to the croissant.json, or absolute
    sha256: str | None
    includes: str | None = None

    @property
    def id(self) -> str:
        return self.table.filename if self.includes is None else f"{self.table.name}-parts"


def _distribution(f: ParquetFile) -> dict[str, Any]:
    if f.includes is None:
        return {
            "@type": "cr:FileObject",
            "@id": f.id,
            "name": f.table.filename,
            "description": f.table.description,
            "contentUrl": f.url,
            "encodingFormat": PARQUET,
            "sha256": f.sha256,
        }
    return {
        "@type": "cr:FileSet",
        "@id": f.id,
        "name": f.id,
        "description": f"{f.table.description} Hive-partitioned: one Parquet file per "
        f"month of donation under {f.url}, listed with their SHA-256 in "
        f"{f.url}_SHA256SUMS.",
        "encodingFormat": PARQUET,
        "includes": f.includes,
    }


def _data_type(kind: pa.DataType) -> str | None:
    if pa.types.is_string(kind):
        return "sc:Text"
    if pa.types.is_integer(kind):
        return "sc:Integer"
    if pa.types.is_floating(kind):
        return "sc:Float"
    if pa.types.is_boolean(kind):
        return "sc:Boolean"
    if pa.types.is_date(kind):
        return "sc:Date"
    return None  # lists: described in the catalog page, not loaded as fields


def _record_set(f: ParquetFile) -> dict[str, Any]:
    table = f.table
    fields = []
    for column in table.columns:
        data_type = _data_type(column.type)
        if data_type is None:
            continue
        fields.append(
            {
                "@type": "cr:Field",
                "@id": f"{table.name}/{column.name}",
                "name": column.name,
                "description": column.description,
                "dataType": data_type,
                "source": {
                    ("fileObject" if f.includes is None else "fileSet"): {"@id": f.id},
                    "extract": {"column": column.name},
                },
            }
        )
    return {
        "@type": "cr:RecordSet",
        "@id": table.name,
        "name": table.name,
        "description": table.description,
        "field": fields,
    }


def croissant(
    config: ArchiveConfig,
    *,
    name: str,
    description: str,
    url: str,
    license: str,
    files: Sequence[ParquetFile],
    cite_as: str,
    version: str,
    date_published: str | None = None,
    keywords: Sequence[str] = (),
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": name,
        "description": description,
        "url": url,
        "license": LICENSES[license].url,
        "creator": {"@type": "sc:Organization", "name": config.publisher, "email": config.contact},
        "publisher": {"@type": "sc:Organization", "name": config.publisher},
        "citeAs": cite_as,
        "version": version,
        "keywords": list(keywords),
        "isLiveDataset": False,
    }
    if date_published:
        doc["datePublished"] = date_published
    doc["distribution"] = [_distribution(f) for f in files]
    doc["recordSet"] = [_record_set(f) for f in files]
    return doc
