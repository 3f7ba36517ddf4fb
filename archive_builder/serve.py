"""A static preview server for ``site/``, on 127.0.0.1 only."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from .errors import ArchiveError


class ServeError(ArchiveError, OSError):
    """The preview server cannot start."""


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 (the base class defines it so)
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".parquet": "application/vnd.apache.parquet",
        ".cff": "text/yaml; charset=utf-8",
        ".md": "text/markdown; charset=utf-8",
        "": "application/octet-stream",
    }

    def log_message(self, format: str, *args: object) -> None:  # quiet by default
        pass


def make_server(site: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    if not (site / "index.html").is_file():
        raise ServeError(f"{site} holds no built site; run `archive-builder build` first.")
    handler = functools.partial(_Handler, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise ServeError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another port with --port."
        ) from None


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/"
