"""A static preview server for ``site/``, on 127.0.0.1 only."""

from __future__ import annotations

import functools
import http.server
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from .errors import ArchiveError
from .mediatypes import content_type
from .site.signposting import read_headers


class ServeError(ArchiveError, OSError):
    """The preview server cannot start."""


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Handler(http.server.SimpleHTTPRequestHandler):
    headers_by_path: dict[str, list[tuple[str, str]]]  # the site's _headers, per URL path

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        return content_type(os.fspath(path))

    def end_headers(self) -> None:
        """Send the ``_headers`` rule of the requested path (its FAIR Signposting links)."""
        path = urllib.parse.urlsplit(self.path).path
        rule = self.headers_by_path.get(path) or self.headers_by_path.get(
            path.removesuffix("index.html") if path.endswith("/index.html") else ""
        )
        for name, value in rule or ():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet by default
        pass

    def send_head(self) -> Any:
        """As the base class, plus single byte ranges (the cohort page reads Parquet so).

        Only files of the site itself are served (see :func:`servable`).
        """
        if not servable(Path(self.directory), Path(self.translate_path(self.path))):
            self.send_error(404, "File not found")
            return None
        wanted = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        self.range = None
        if wanted is None:
            return super().send_head()
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:
            start, end = max(size - int(last or 0), 0), size - 1
        if start > end or start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        handle = path.open("rb")
        handle.seek(start)
        self.range = end - start + 1
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(self.range))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return handle

    def copyfile(self, source: Any, outputfile: Any) -> None:
        left = getattr(self, "range", None)
        if left is None:
            super().copyfile(source, outputfile)
            return
        while left > 0:
            chunk = source.read(min(left, 1 << 16))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A missing file gets the site's own 404 page, as static hosts serve it."""
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def servable(site: Path, path: Path) -> bool:
    """Whether ``path`` is a file or folder of the site itself, reached without leaving it.

    The only links followed are the DataLad store's aliases (``store/alias/<name>``),
    and only to a repository inside the store; anything else that is a link, or
    leads out of the site (to ``private/``, say), is not served.
    """
    root = site.resolve()
    try:
        rel = path.absolute().relative_to(site.absolute())
    except ValueError:
        return False
    current = site.absolute()
    for depth, part in enumerate(rel.parts):
        current = current / part
        if current.is_symlink():
            in_alias = depth == 2 and rel.parts[:2] == ("store", "alias")
            if not in_alias or not current.resolve().is_relative_to(root / "store"):
                return False
    resolved = path.resolve()
    return resolved.is_relative_to(root) and (resolved.is_file() or resolved.is_dir())


def make_server(site: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    if not (site / "index.html").is_file():
        raise ServeError(f"{site} holds no built site; run `archive-builder build` first.")
    handler_class = type("Handler", (_Handler,), {"headers_by_path": read_headers(site)})
    handler = functools.partial(handler_class, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise ServeError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another port with --port."
        ) from None


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/"
