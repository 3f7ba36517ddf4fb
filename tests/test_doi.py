"""DOI registration against a local stand-in for the DataCite REST API.

The stand-in is a real HTTP server on 127.0.0.1 that checks credentials and
validates every request body against the JSON schema DataCite's own Python
package ships (4.5); it refuses what DataCite would refuse, with DataCite's
error format.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from datacite import schema45

from archive_builder.archive import open_archive
from archive_builder.config import ArchiveConfig
from archive_builder.fair import (
    DataCiteCredentials,
    DoiError,
    credentials_from_env,
    register_release_dois,
)
from archive_builder.pipeline import stored_donations
from archive_builder.release import ReleaseInfo

USER, PASSWORD = "TEST.ARCHIVE", "s3cret"


class FakeDataCite(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, str, dict[str, Any]]] = []
        self.dois: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeDataCite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.api+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._reply(401, {"errors": [{"status": "401", "title": "Bad credentials."}]})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.command, self.path, body))
        doi = self.path.removeprefix("/dois/")
        data = body.get("data", {})
        attrs = data.get("attributes", {})
        problems = []
        if self.headers.get("Content-Type") != "application/vnd.api+json":
            problems.append("Content-Type must be application/vnd.api+json")
        if data.get("type") != "dois" or attrs.get("doi") != doi:
            problems.append("data.type must be dois and attributes.doi the DOI in the URL")
        if attrs.get("event") not in ("publish", "register", "hide"):
            problems.append("event must be publish, register or hide")
        if not doi.startswith("10.5555/"):
            problems.append("prefix 10.5555 is the only one this client may use")
        errors = sorted(schema45.validator.iter_errors(attrs), key=str)
        problems += [f"{list(e.absolute_path)}: {e.message}" for e in errors]
        if problems:
            self._reply(422, {"errors": [{"source": "body", "title": p} for p in problems]})
            return
        created = doi not in self.server.dois
        self.server.dois[doi] = dict(attrs)
        state = {"publish": "findable", "register": "registered", "hide": "registered"}
        reply = {
            "data": {
                "id": doi,
                "type": "dois",
                "attributes": {**attrs, "state": state[attrs["event"]]},
            }
        }
        self._reply(201 if created else 200, reply)


@pytest.fixture
def datacite() -> Iterator[FakeDataCite]:
    server = FakeDataCite()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def demo(demo_archive: Path) -> tuple[ArchiveConfig, list[Any]]:
    archive = open_archive(demo_archive)
    config = ArchiveConfig(**{**archive.config.__dict__, "doi_prefix": "10.5555"})
    return config, stored_donations(archive.layout)


def _releases() -> tuple[ReleaseInfo, ReleaseInfo]:
    first = ReleaseInfo("1.0", "2026-10-01", "First.")
    return first, ReleaseInfo("1.1", "2026-11-01", "More *donations*.")


def test_release_registers_its_doi_and_updates_the_concept(
    datacite: FakeDataCite, demo: tuple[ArchiveConfig, list[Any]]
) -> None:
    config, donations = demo
    first, second = _releases()
    creds = DataCiteCredentials(USER, PASSWORD, datacite.url)
    done = register_release_dois(config, first, None, donations[:3], [first], creds)
    assert done.status == "registered"
    done = register_release_dois(config, second, first, donations, [first, second], creds)
    assert done.status == "registered"
    paths = [path for _, path, _ in datacite.received]
    slug = "open-imaging-donations-demo"
    assert paths == [
        f"/dois/10.5555/{slug}.v1.0",
        f"/dois/10.5555/{slug}",
        f"/dois/10.5555/{slug}.v1.1",
        f"/dois/10.5555/{slug}",
    ]
    concept = datacite.dois[f"10.5555/{slug}"]
    assert [r["relatedIdentifier"] for r in concept["relatedIdentifiers"]] == [
        f"10.5555/{slug}.v1.0",
        f"10.5555/{slug}.v1.1",
    ]
    assert all(r["relationType"] == "HasVersion" for r in concept["relatedIdentifiers"])
    latest = datacite.dois[f"10.5555/{slug}.v1.1"]
    assert {(r["relationType"], r["relatedIdentifier"]) for r in latest["relatedIdentifiers"]} == {
        ("IsVersionOf", f"10.5555/{slug}"),
        ("IsNewVersionOf", f"10.5555/{slug}.v1.0"),
    }
    record = done.record()
    assert record["dois"][f"10.5555/{slug}.v1.1"]["state"] == "findable"
    assert USER not in json.dumps(record) and PASSWORD not in json.dumps(record)


def test_without_credentials_the_metadata_is_ready_and_nothing_is_sent(
    datacite: FakeDataCite, demo: tuple[ArchiveConfig, list[Any]]
) -> None:
    config, donations = demo
    first, _ = _releases()
    assert credentials_from_env({}) is None
    done = register_release_dois(config, first, None, donations, [first], None)
    assert done.status == "ready"
    assert "DATACITE_USERNAME" in done.message
    assert all(schema45.validate(a) for a in done.submitted.values())
    assert datacite.received == []


def test_refusals_are_clear_errors(
    datacite: FakeDataCite, demo: tuple[ArchiveConfig, list[Any]]
) -> None:
    config, donations = demo
    first, _ = _releases()
    wrong = DataCiteCredentials(USER, "wrong", datacite.url)
    with pytest.raises(DoiError, match=r"HTTP 401.*Bad credentials"):
        register_release_dois(config, first, None, donations, [first], wrong)
    other = ArchiveConfig(**{**config.__dict__, "doi_prefix": "10.9999"})
    creds = DataCiteCredentials(USER, PASSWORD, datacite.url)
    with pytest.raises(DoiError, match=r"HTTP 422.*prefix 10\.5555"):
        register_release_dois(other, first, None, donations, [first], creds)
    closed = DataCiteCredentials(USER, PASSWORD, "http://127.0.0.1:9")
    with pytest.raises(DoiError, match="cannot reach DataCite"):
        register_release_dois(config, first, None, donations, [first], closed)


def test_credentials_come_from_the_environment() -> None:
    creds = credentials_from_env(
        {"DATACITE_USERNAME": USER, "DATACITE_PASSWORD": PASSWORD, "DATACITE_API_URL": "http://x"}
    )
    assert creds == DataCiteCredentials(USER, PASSWORD, "http://x")
    assert PASSWORD not in repr(creds)


def _archive_with_prefix(archive_dir: Path, make_package: Any) -> Path:
    config = archive_dir / "archive.toml"
    config.write_text(
        config.read_text().replace('# doi_prefix = "10.12345"', 'doi_prefix = "10.5555"')
    )
    from conftest import run_cli

    assert run_cli("ingest", archive_dir, make_package()).exit_code == 0
    return archive_dir


def test_the_release_command_registers_the_doi_before_anything_is_committed(
    datacite: FakeDataCite,
    archive_dir: Path,
    make_package: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from conftest import git_log, run_cli

    root = _archive_with_prefix(archive_dir, make_package)
    notes = tmp_path / "notes.md"
    notes.write_text("The first release.")
    monkeypatch.setenv("DATACITE_API_URL", datacite.url)
    monkeypatch.setenv("DATACITE_USERNAME", USER)
    monkeypatch.setenv("DATACITE_PASSWORD", "wrong")
    before = git_log(root / "datasets")
    refused = run_cli("release", root, "1.0", "--notes", notes)
    assert refused.exit_code == 2 and "Bad credentials" in refused.output
    assert git_log(root / "datasets") == before  # nothing committed, no tag, no frozen files
    assert not (root / "releases" / "1.0").exists()

    monkeypatch.setenv("DATACITE_PASSWORD", PASSWORD)
    result = run_cli("release", root, "1.0", "--notes", notes)
    assert result.exit_code == 0, result.output
    assert "registered 10.5555/test-archive.v1.0" in result.output
    releases = json.loads((root / "datasets" / "releases.json").read_text())
    assert releases[0]["doi"] == "10.5555/test-archive.v1.0"
    assert (
        "https://doi.org/10.5555/test-archive.v1.0"
        in (root / "datasets" / "CHANGELOG.md").read_text()
    )
    stored = json.loads((root / "site" / "releases" / "1.0" / "doi.json").read_text())
    assert stored["status"] == "registered" and PASSWORD not in json.dumps(stored)
    assert datacite.dois["10.5555/test-archive.v1.0"]["url"].endswith("releases/1.0/")


def test_a_strict_release_needs_credentials_when_a_prefix_is_set(
    archive_dir: Path, make_package: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from conftest import run_cli

    root = _archive_with_prefix(archive_dir, make_package)
    for name in ("DATACITE_USERNAME", "DATACITE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    notes = tmp_path / "notes.md"
    notes.write_text("Notes.")
    result = run_cli("release", root, "1.0", "--notes", notes)
    assert result.exit_code == 2 and "DATACITE_USERNAME" in result.output
    result = run_cli("release", root, "1.0", "--notes", notes, "--no-strict")
    assert result.exit_code == 0, result.output
    assert "ready to register" in result.output


def test_with_doi_per_donation_a_release_registers_each_donation_it_adds(
    datacite: FakeDataCite,
    archive_dir: Path,
    make_package: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from conftest import run_cli

    root = _archive_with_prefix(archive_dir, make_package)
    config = root / "archive.toml"
    config.write_text(
        config.read_text().replace("# doi_per_donation = true", "doi_per_donation = true")
    )
    (pid,) = [p.name for p in (root / "datasets").iterdir() if p.name.startswith("don-")]
    notes = tmp_path / "notes.md"
    notes.write_text("The first release.")
    monkeypatch.setenv("DATACITE_API_URL", datacite.url)
    monkeypatch.setenv("DATACITE_USERNAME", USER)
    monkeypatch.setenv("DATACITE_PASSWORD", PASSWORD)
    result = run_cli("release", root, "1.0", "--notes", notes)
    assert result.exit_code == 0, result.output
    paths = [path for _, path, _ in datacite.received]
    assert paths == [
        "/dois/10.5555/test-archive.v1.0",
        f"/dois/10.5555/{pid}",
        "/dois/10.5555/test-archive",
    ]
    registered = {k: v for k, v in datacite.dois[f"10.5555/{pid}"].items() if k != "event"}
    published = json.loads((root / "site/datasets" / pid / "datacite.json").read_text())
    assert registered == published  # what DataCite holds is what the site publishes
    assert published["version"] == "1.0" and published["url"].endswith(f"datasets/{pid}/")
    page = (root / "site/datasets" / pid / "index.html").read_text()
    assert f'<link rel="cite-as" href="https://doi.org/10.5555/{pid}">' in page
