"""FAIR: licences, citations and metadata descriptors, written as plain files at build time."""

from ..licenses import LICENSES, License, license_text
from .citation import Citable, archive_citable, render_bibtex, render_cff, render_ris
from .datacite import (
    archive_datacite,
    concept_doi,
    datacite_xml,
    donation_datacite,
    release_datacite,
    release_doi,
)
from .dcat import dcat_graph
from .doi import (
    DataCiteCredentials,
    DoiError,
    Registration,
    credentials_from_env,
    register_release_dois,
)
from .files import (
    write_archive_files,
    write_donation_files,
    write_release_descriptors,
    write_release_files,
)
from .schemaorg import archive_jsonld, dataset_jsonld, release_jsonld
from .text import to_html, to_plain

__all__ = [
    "LICENSES",
    "Citable",
    "DataCiteCredentials",
    "DoiError",
    "License",
    "Registration",
    "archive_citable",
    "archive_datacite",
    "archive_jsonld",
    "concept_doi",
    "credentials_from_env",
    "datacite_xml",
    "dataset_jsonld",
    "dcat_graph",
    "donation_datacite",
    "license_text",
    "register_release_dois",
    "release_datacite",
    "release_doi",
    "release_jsonld",
    "render_bibtex",
    "render_cff",
    "render_ris",
    "to_html",
    "to_plain",
    "write_archive_files",
    "write_donation_files",
    "write_release_descriptors",
    "write_release_files",
]
