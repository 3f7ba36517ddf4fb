"""CITATION.cff for the archive (and, later, each release and donation)."""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..config import ArchiveConfig
from .text import to_plain


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


def archive_citation(config: ArchiveConfig) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use these data, please cite the archive as below.",
        "type": "dataset",
        "title": config.name,
        "abstract": to_plain(config.description),
        "authors": [{"name": config.publisher, "email": config.contact}],
        "contact": [{"name": config.publisher, "email": config.contact}],
        "url": config.base_url,
        "repository": config.base_url + "store/",
        "license": config.license,
        "keywords": ["medical imaging", "DICOM", "open data", "data donation", "DataLad"],
    }
    return data


def render_cff(data: dict[str, Any]) -> str:
    return f"# Written by archive-builder {__version__}\n" + _yaml(data) + "\n"
