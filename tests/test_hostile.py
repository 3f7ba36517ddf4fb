"""Hostile input, checked at the door: each case is a clear message, no traceback, and the
archive unchanged (issue 13). Configuration, donation records, zips, maintainers' Markdown,
symlinks, tampered integrity files."""

from __future__ import annotations

import http.client
import json
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import archive_state, record, run_cli
from test_refusals import refuse

from archive_builder.config import ConfigError, load_config, render_config
from archive_builder.serve import make_server
from archive_builder.site.markup import safe_markdown

# --- archive.toml ---------------------------------------------------------------------------


def config_text(**values: str) -> str:
    fields = {
        "name": "Archive",
        "publisher": "Publisher",
        "contact": "archive@example.org",
        "base_url": "https://data.example.org/",
        "license": "CC-BY-4.0",
        "description": "What it holds.",
        **values,
    }
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in fields.items()) + "\n"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"base_url": "https://exa mple.org/"}, "base_url: 'https://exa mple.org/' has no valid"),
        ({"base_url": "https://x.org/a b/"}, "base_url: 'https://x.org/a b/' has characters"),
        ({"base_url": "https://x.org/<script>"}, "has characters that a URL path cannot hold"),
        ({"base_url": "javascript:alert(1)"}, "is not an http(s) URL"),
        ({"base_url": "https://user:pw@x.org/"}, "must not carry a user name or password"),
        ({"contact": "a<b>@x.org"}, "contact: 'a<b>@x.org' is not an e-mail address"),
        ({"contact": "two words@x.org"}, "is not an e-mail address"),
        ({"name": "Line\nbreak"}, "name: holds a line break (U+000A) at character 5"),
        ({"name": "<>"}, "name: has no letter or digit"),
        ({"name": "Archive <x>"}, "name: must not hold '<' or '>'"),
        ({"publisher": "Pub\u202elisher"}, "publisher: holds a bidirectional override"),
        ({"publisher": "Pub\x07"}, "publisher: holds a control character (U+0007)"),
        ({"description": "bell \x07 in text"}, "description: holds a control character"),
    ],
)
def test_config_values_are_checked_when_loaded(
    tmp_path: Path, values: dict[str, str], expected: str
) -> None:
    (tmp_path / "archive.toml").write_text(config_text(**values), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert expected in str(caught.value)
    assert "archive.toml:" in str(caught.value)  # the line to fix


def test_every_bad_value_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    text = config_text(base_url="https://a b/", contact="nope", name="A\tB")
    (tmp_path / "archive.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    message = str(caught.value)
    assert "has 3 problems" in message
    assert "archive.toml:1: name:" in message
    assert "archive.toml:3: contact:" in message
    assert "archive.toml:4: base_url:" in message


def test_a_multiline_description_and_unicode_names_are_fine(tmp_path: Path) -> None:
    text = render_config("Archiv für Bildgebung", "Hôpital", "contact@example.org", "https://x.org")
    (tmp_path / "archive.toml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path).name == "Archiv für Bildgebung"


def test_init_with_a_bad_value_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "new"
    result = run_cli("init", root, "--contact", "not an address", "--name", "<>")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "contact" in result.output and "name: has no letter or digit" in result.output
    assert not root.exists()


def test_a_bad_value_in_an_archive_stops_build_before_anything(archive_dir: Path) -> None:
    config = archive_dir / "archive.toml"
    config.write_text(
        config.read_text().replace("archive@example.org", "archive@example.org\\u0000")
    )
    before = archive_state(archive_dir)
    result = run_cli("build", archive_dir)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "contact" in result.output
    assert archive_state(archive_dir) == before


# --- donation records -----------------------------------------------------------------------


def with_display(display: str) -> dict:
    rec = record()
    rec["study"]["diagnoses"][0]["display"] = display
    return rec


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        (with_display("Migraine\x00"), "display: holds a control character (U+0000)"),
        (with_display("Migraine\u202eenilno"), "display: holds a bidirectional override"),
        (with_display("two\nlines"), "display: holds a line break"),
        (with_display("\ud800"), "display: holds a lone surrogate"),
    ],
)
def test_record_text_that_cannot_be_published_is_refused(
    archive_dir: Path, make_package, rec: dict, expected: str
) -> None:
    refuse(archive_dir, make_package(rec=rec), expected)


def raw_record(make_package, text: str) -> Path:
    package = make_package()
    (package / "donation.json").write_text(text, encoding="utf-8")
    return package


def test_an_integer_of_5000_digits_is_refused(archive_dir: Path, make_package) -> None:
    text = json.dumps(record()).replace('"age_years": 52', '"age_years": ' + "9" * 5000)
    refuse(archive_dir, raw_record(make_package, text), "a number of more than 15 digits")


def test_deep_nesting_is_refused(archive_dir: Path, make_package) -> None:
    text = json.dumps(record()).replace('"diagnoses": [', '"diagnoses": [' + "[" * 100_000, 1)
    refuse(archive_dir, raw_record(make_package, text), "nests arrays or objects more than 16")


def test_nan_is_refused(archive_dir: Path, make_package) -> None:
    text = json.dumps(record()).replace('"age_years": 52', '"age_years": NaN')
    refuse(archive_dir, raw_record(make_package, text), "NaN, which JSON does not allow")


@pytest.mark.parametrize("shape", ["array", "string", "nested"])
def test_a_record_of_the_wrong_shape_never_echoes_its_values(
    archive_dir: Path, make_package, shape: str
) -> None:
    secret = "portal-secret-id-0042"
    rec = record(donation_id=secret)
    data: object = {
        "array": [rec],
        "string": json.dumps(rec),
        "nested": {**rec, "subject": [rec]},
    }[shape]
    line = refuse(archive_dir, make_package(rec=data), "does not follow the donation contract")
    assert secret not in line and "Migraine" not in line
    log = (archive_dir / "private" / "logs" / "ingest.jsonl").read_text()
    assert secret not in log and "Migraine" not in log


# --- zips -----------------------------------------------------------------------------------


def test_a_zip_of_many_small_zero_entries_is_refused_from_its_directory(
    archive_dir: Path, tmp_path: Path
) -> None:
    package = tmp_path / "many-small.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("donation.json", json.dumps(record()))
        for n in range(300):
            zf.writestr(f"{n:03d}.dcm", b"\0" * (1024 * 1024))
    assert package.stat().st_size < 2 * 1024 * 1024
    line = refuse(archive_dir, package, "expands")
    assert "as a whole (301 entries" in line
    assert not list((archive_dir / "private" / "staging").glob("unzip-*"))


# --- maintainers' Markdown --------------------------------------------------------------------


def test_markdown_keeps_only_safe_links_and_no_remote_image() -> None:
    html = safe_markdown(
        "[a](javascript:alert(1)) [b](JaVa\tScRiPt:x) [c](data:text/html,hi) [d](//evil.org/) "
        "[e](https://ok.org/) [f](mailto:a@b.org) [g](../releases/) ![r](https://t.org/p.png) "
        "![l](preview.png) <https://auto.org/>"
    )
    assert "javascript" not in html.lower() and "data:" not in html and "evil.org" not in html
    assert "t.org" not in html
    for kept in ('href="https://ok.org/"', 'href="mailto:a@b.org"', 'href="../releases/"'):
        assert kept in html
    assert 'src="preview.png"' in html and 'href="https://auto.org/"' in html
    assert ">a<" in html and ">r<" in html  # the text stays, only the link goes


def test_a_hostile_description_reaches_no_page_as_a_link(archive_dir: Path) -> None:
    config = archive_dir / "archive.toml"
    text = config.read_text()
    start = text.index('description = """') + len('description = """')
    config.write_text(
        text[:start]
        + "\n[x](javascript:alert(1)) ![t](https://tracker.example/p.gif)\n"
        + text[text.index('"""', start) :]
    )
    assert run_cli("build", archive_dir).exit_code == 0
    home = (archive_dir / "site" / "index.html").read_text()
    assert "javascript:" not in home and "tracker.example" not in home


# --- links out of the archive ---------------------------------------------------------------


def test_a_symlink_in_releases_is_refused(archive_dir: Path) -> None:
    releases = archive_dir / "releases" / "1.0"
    releases.mkdir(parents=True)
    (releases / "key.txt").symlink_to(archive_dir / "private" / "secret.key")
    result = run_cli("build", archive_dir)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "key.txt is a symlink" in result.output
    key = (archive_dir / "private" / "secret.key").read_text().strip()
    site = archive_dir / "site"
    assert not site.exists() or all(
        key.encode() not in p.read_bytes() for p in site.rglob("*") if p.is_file()
    )


def test_a_template_linking_out_of_templates_is_refused(archive_dir: Path) -> None:
    (archive_dir / "templates").mkdir()
    (archive_dir / "templates" / "index.html").symlink_to(archive_dir / "private" / "secret.key")
    result = run_cli("build", archive_dir)
    assert result.exit_code == 2
    assert "index.html is a symlink to a file outside templates/" in result.output


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def test_serve_follows_no_link_out_of_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "store" / "abc" / "def").mkdir(parents=True)
    (site / "store" / "abc" / "def" / "HEAD").write_text("ref: refs/heads/main\n")
    (site / "store" / "alias").mkdir()
    (site / "store" / "alias" / "archive").symlink_to(Path("..") / "abc" / "def")
    (site / "index.html").write_text("home")
    private = tmp_path / "private"
    private.mkdir()
    (private / "secret.key").write_text("secret")
    (site / "key").symlink_to(private / "secret.key")
    (site / "private").symlink_to(private)
    (site / "store" / "alias" / "out").symlink_to(private)
    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert get(port, "/index.html") == 200
        assert get(port, "/store/alias/archive/HEAD") == 200  # DataLad's alias still works
        assert get(port, "/key") == 404
        assert get(port, "/private/secret.key") == 404
        assert get(port, "/store/alias/out/secret.key") == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_busy_archive_names_the_command_holding_it(archive_dir: Path) -> None:
    from archive_builder.archive import Layout, locked

    with locked(Layout(archive_dir.resolve()), "release"):
        result = run_cli("build", archive_dir)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "`release` (pid" in result.output and "started" in result.output
    assert "wait for it to finish" in result.output
