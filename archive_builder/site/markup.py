"""Maintainers' Markdown, rendered without their raw HTML: it shows as text, never runs."""

from __future__ import annotations

import markdown as md


def safe_markdown(text: str) -> str:
    """HTML from Markdown in which any raw HTML the author typed is escaped."""
    converter = md.Markdown(extensions=["sane_lists", "tables", "fenced_code"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html: str = converter.convert(text)
    return html
