"""Maintainers write Markdown; pages get HTML, descriptors get plain text."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown as md


def to_html(text: str) -> str:
    html: str = md.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    return html


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "li", "h1", "h2", "h3", "h4", "pre", "blockquote"):
            self.parts.append("\n")


def to_plain(text: str) -> str:
    parser = _Text()
    parser.feed(to_html(text))
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)
