"""Fetch the cohort page's query engine from the npm registry, pinned and verified.

    python tools/npm_vendor.py [OUT_DIR]     # default: archive_builder/vendor/

The cohort page runs DuckDB-WASM in the reader's browser. Its WebAssembly is
18 MB, too large to keep in git, so `pip install .` fetches it: the build hook
(`hatch_build.py`) calls :func:`ensure`, which downloads each pinned npm
tarball once (cached in ``~/.cache/archive-builder/npm/``), checks it against
the registry's SHA-512 integrity string written below, and extracts the few
files the page uses into the package. `archive-builder build` copies them into
``site/cohort/engine/``. Nothing is fetched at run time, and never from a CDN.

Pins: @duckdb/duckdb-wasm 1.28.0 is the last release whose WebAssembly holds
the Parquet reader itself (later ones download it from extensions.duckdb.org at
run time, which a static, private site cannot allow); apache-arrow 13.0.0 is
the version it was built against. Standard library only: the build hook runs
before any dependency is installed. Set ARCHIVE_BUILDER_NPM_REGISTRY to use a
mirror.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = "https://registry.npmjs.org/"


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity
    license: str
    files: dict[str, str]  # path in the tarball -> name in the vendor folder
    # (name in the vendor folder, bytes to find, bytes to put instead); each must match once
    patches: tuple[tuple[str, bytes, bytes], ...] = field(default=())

    @property
    def tarball(self) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"{self.name}/-/{base}-{self.version}.tgz"


PACKAGES = (
    NpmPackage(
        "@duckdb/duckdb-wasm",
        "1.28.0",
        "sha512-YaswpEmxr1Sp20/FZbWR7bZBJqj6xQXX2m4LLzYBnA02g4K1yrpxsBWmkxQyMbrH6AHKhcUUqAlaXfA2Rvaa3w==",
        "MIT",
        {
            "package/dist/duckdb-eh.wasm": "duckdb-eh.wasm",
            "package/dist/duckdb-browser-eh.worker.js": "duckdb-browser-eh.worker.js",
            "package/dist/duckdb-browser.mjs": "duckdb-browser.mjs",
        },
        # The module imports Arrow by its npm name, which a browser cannot resolve
        # without a bundler; the page loads Arrow's own browser build first instead.
        (
            (
                "duckdb-browser.mjs",
                b'import*as l from"apache-arrow"',
                b"const l=globalThis.Arrow",
            ),
            (
                "duckdb-browser.mjs",
                b'import*as d from"apache-arrow"',
                b"const d=globalThis.Arrow",
            ),
        ),
    ),
    NpmPackage(
        "apache-arrow",
        "13.0.0",
        "sha512-3gvCX0GDawWz6KFNC28p65U+zGh/LZ6ZNKWNu74N6CQlKzxeoWHpi4CgEQsgRSEMuyrIIXi1Ea2syja7dwcHvw==",
        "Apache-2.0",
        {
            "package/Arrow.es2015.min.js": "arrow.js",
            "package/LICENSE.txt": "LICENSE-apache-arrow.txt",
            "package/NOTICE.txt": "NOTICE-apache-arrow.txt",
        },
    ),
)
STAMP = "vendor.json"


class VendorError(RuntimeError):
    pass


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "archive-builder" / "npm"


def _verified(data: bytes, package: NpmPackage) -> bool:
    algorithm, _, expected = package.integrity.partition("-")
    digest = hashlib.new(algorithm, data).digest()
    return base64.b64encode(digest).decode() == expected


def fetch(package: NpmPackage) -> bytes:
    """The package's tarball, from the cache or the registry, checked against its integrity."""
    cached = _cache() / f"{package.name.replace('/', '+')}-{package.version}.tgz"
    if cached.is_file() and _verified(cached.read_bytes(), package):
        return cached.read_bytes()
    registry = os.environ.get("ARCHIVE_BUILDER_NPM_REGISTRY", REGISTRY).rstrip("/") + "/"
    url = registry + package.tarball
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data: bytes = response.read()
    except OSError as exc:
        raise VendorError(
            f"cannot download {package.name} {package.version} from {url} ({exc}); "
            "the cohort page's query engine comes from the npm registry at install time. "
            "Set ARCHIVE_BUILDER_NPM_REGISTRY to a mirror, or ARCHIVE_BUILDER_SKIP_NPM=1 "
            "to build without it (the cohort page then says the engine is missing)."
        ) from None
    if not _verified(data, package):
        raise VendorError(
            f"{url} does not match the pinned integrity {package.integrity}: refusing it"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return data


def _stamp() -> dict[str, str]:
    return {p.name: f"{p.version} {p.integrity}" for p in PACKAGES}


def _notice() -> str:
    lines = ["# Third-party code of the cohort page", ""]
    lines += ["Fetched from the npm registry by tools/npm_vendor.py, integrity-checked.", ""]
    for p in PACKAGES:
        names = ", ".join(sorted(p.files.values()))
        lines.append(f"- {p.name} {p.version} ({p.license}): {names}")
    return "\n".join(lines) + "\n"


def ensure(out: Path) -> bool:
    """Make ``out`` hold the pinned files; False when it already did (nothing fetched)."""
    stamp = out / STAMP
    wanted = [name for p in PACKAGES for name in p.files.values()]
    if (
        stamp.is_file()
        and json.loads(stamp.read_text(encoding="utf-8")) == _stamp()
        and all((out / name).is_file() for name in wanted)
    ):
        return False
    out.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        with tarfile.open(fileobj=io.BytesIO(fetch(package)), mode="r:gz") as tar:
            for member, name in package.files.items():
                handle = tar.extractfile(member)
                if handle is None:
                    raise VendorError(f"{package.name} {package.version} has no {member}")
                data = handle.read()
                for target, old, new in package.patches:
                    if target == name:
                        if data.count(old) != 1:
                            raise VendorError(f"{name}: cannot patch {old!r}")
                        data = data.replace(old, new)
                (out / name).write_bytes(data)
    (out / "NOTICE.md").write_text(_notice(), encoding="utf-8")
    stamp.write_text(json.dumps(_stamp(), indent=1) + "\n", encoding="utf-8")
    return True


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "archive_builder" / "vendor"
    try:
        fetched = ensure(out)
    except VendorError as exc:
        sys.exit(f"error: {exc}")
    print(f"{out}: {'fetched' if fetched else 'already up to date'}")


if __name__ == "__main__":
    main()
