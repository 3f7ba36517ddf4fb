"""Maintainers' Markdown, rendered without their raw HTML: it shows as text, never runs.

Links keep only ``http``, ``https``, ``mailto`` and relative targets; any
other scheme (``javascript:``, ``data:``, ``file:``...) loses its link and
keeps its text. Images are kept only when they are files of the site
(relative); a remote image becomes its alt text, since loading it would tell
another host who reads the page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import markdown as md
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

SAFE_SCHEMES = ("http", "https", "mailto")
# Browsers drop ASCII tab and newline anywhere in a URL and control characters and
# spaces at its ends, so "java\tscript:" is a javascript: URL: judge what they see.
_IGNORED = re.compile(r"[\t\n\r]")
_ENDS = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def link_scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url`` (lower case), None for a relative URL."""
    seen = _IGNORED.sub("", url).strip(_ENDS)
    if seen.startswith("//") or seen.startswith("\\"):
        return "//"  # protocol-relative: another host
    match = _SCHEME.match(seen)
    if match:
        return match.group(1).lower()
    if ":" in seen.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return "?"  # something a browser might still read as a scheme
    return None


def safe_link(url: str) -> bool:
    scheme = link_scheme(url)
    return scheme is None or scheme in SAFE_SCHEMES


class _Links(Treeprocessor):  # type: ignore[misc]
    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            for index, child in enumerate(list(parent)):
                if child.tag == "a" and not safe_link(child.get("href", "")):
                    child.attrib.pop("href", None)
                    child.tag = "span"
                elif child.tag == "img" and link_scheme(child.get("src", "")) is not None:
                    span = ET.Element("span")
                    span.text = child.get("alt", "")
                    span.tail = child.tail
                    parent.remove(child)
                    parent.insert(index, span)


class _SafeLinks(Extension):  # type: ignore[misc]
    def extendMarkdown(self, md_: md.Markdown) -> None:
        md_.treeprocessors.register(_Links(md_), "safe_links", 0)


def safe_markdown(text: str) -> str:
    """HTML from Markdown: raw HTML escaped, unsafe links unlinked, remote images dropped."""
    converter = md.Markdown(extensions=["sane_lists", "tables", "fenced_code", _SafeLinks()])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html: str = converter.convert(text)
    return html
