"""`archive-builder cohort` and the pieces under the cohort page, on small synthetic catalogs."""

from __future__ import annotations

import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli
from site_data import CONFIG, donation

from archive_builder.catalog import write_catalogs
from archive_builder.catalog.tables import SCHEMA_VERSION
from archive_builder.cohort import CohortError, select
from archive_builder.process import tool_env
from archive_builder.serve import make_server, url_of
from archive_builder.sitefiles import SiteWriter
from archive_builder.store.urls import hashdirmixed

DONATIONS = [donation(n) for n in range(30)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cohort") / "site"
    writer = SiteWriter(root)
    write_catalogs(CONFIG, DONATIONS, writer)
    writer.finish()
    (root / "index.html").write_text("<!doctype html><title>t</title>", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


def expected(keep) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    chosen = [d for d in DONATIONS if keep(d)]
    return len(chosen), sum(len(d.series) for d in chosen), sum(len(d.instances) for d in chosen)


def test_whole_donations_series_or_files(site: Path) -> None:
    women = select(str(site), "SELECT public_id FROM donations WHERE sex = 'F'")
    want = expected(lambda d: d.record["subject"]["sex"] == "F")
    assert (women.counts.donations, women.counts.series, women.counts.files) == want
    assert women.counts.bytes == sum(
        d.total_bytes for d in DONATIONS if d.record["subject"]["sex"] == "F"
    )
    head_ct = select(
        str(site),
        "SELECT s.public_id, s.folder FROM series s JOIN donations d USING (public_id) "
        "WHERE s.Modality = 'CT' AND d.anatomical_region = 'HEAD';",
    )
    want = expected(
        lambda d: d.modalities == ["CT"] and d.record["study"]["anatomical_region"] == "HEAD"
    )
    assert (head_ct.counts.donations, head_ct.counts.series, head_ct.counts.files) == want
    firsts = select(str(site), "SELECT public_id, path FROM instances WHERE InstanceNumber = 1")
    assert firsts.counts.files == len(DONATIONS) == firsts.counts.donations
    assert {f["path"] for f in firsts.files} == {"series-001/instance-0000.dcm"}


def test_the_same_cohort_over_http_with_the_same_manifests(
    site: Path, served: str, tmp_path: Path
) -> None:
    query = "SELECT public_id FROM donations WHERE age BETWEEN 40 AND 70"
    local = select(str(site), query, tmp_path / "local")
    remote = select(served, query, tmp_path / "remote")
    assert remote.counts == local.counts and remote.files == local.files
    for name in ("cohort.sh", "cohort.csv", "cohort-urls.txt"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "remote" / name).read_bytes()
    csv_lines = (tmp_path / "local" / "cohort.csv").read_text().splitlines()
    assert csv_lines[0] == "public_id,path,size,sha256,annex_key,url"
    assert len(csv_lines) == 1 + local.counts.files
    script = (tmp_path / "local" / "cohort.sh").read_text()
    assert script.count("\ndatalad get ") == local.counts.donations
    assert "#   SELECT public_id FROM donations WHERE age BETWEEN 40 AND 70" in script


def test_cli_takes_the_query_from_a_cohort_page_address(site: Path, tmp_path: Path) -> None:
    url = "https://data.example.org/archive/cohort/index.html?region=KNEE&sql=SELECT+public_id+FROM+donations+WHERE+anatomical_region+%3D+%27KNEE%27"
    result = run_cli("cohort", site, "--url", url, "-o", tmp_path)
    donations, series, files = expected(lambda d: d.record["study"]["anatomical_region"] == "KNEE")
    assert result.exit_code == 0, result.output
    assert f"cohort: {donations} donations, {series} series, {files} files" in result.output
    assert (tmp_path / "cohort.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sql", "SELEC public_id FROM donations"], "the query failed: Parser Error"),
        (["--sql", "SELECT age FROM donations"], "must return a public_id column"),
        (["--sql", "SELECT * FROM nowhere"], "Table with name nowhere does not exist"),
        (["--url", "https://x.example/cohort/"], "holds no query"),
        ([], "give the query with --sql"),
    ],
)
def test_bad_queries_say_what_is_wrong(site: Path, args: list[str], message: str) -> None:
    result = run_cli("cohort", site, *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_a_catalog_of_another_schema_version_is_named(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    for name in ("donations", "series", "instances"):
        table = pq.read_table(site / "catalog" / f"{name}.parquet")
        if name == "series":
            meta = {**table.schema.metadata, b"schema_version": b"1"}
            table = table.replace_schema_metadata(meta)
        pq.write_table(table, folder / f"{name}.parquet")
    with pytest.raises(CohortError) as error:
        select(str(folder), "SELECT public_id FROM donations")
    assert "series catalog has schema version 1" in str(error.value)
    assert f"expects schema version {SCHEMA_VERSION}" in str(error.value)


def test_no_catalog_at_the_source(tmp_path: Path) -> None:
    result = run_cli("cohort", tmp_path, "--sql", "SELECT public_id FROM donations")
    assert result.exit_code == 2 and "no catalogs here" in result.output


def test_store_paths_are_git_annex_own(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    env = tool_env(("T", "t@example.org"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run(["git", "annex", "init", "-q"], cwd=repo, check=True, env=env)
    keys = [f"SHA256E-s{n}--{n:064x}.dcm" for n in (1, 2800, 107480, 524288)] + [
        "MD5E-s3--acbd18db4cc2f85cedef654fccc4a4d8.txt"
    ]
    for key in keys:
        out = subprocess.run(
            ["git", "annex", "examinekey", "--format=${hashdirmixed}\\n", key],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert hashdirmixed(key) == out, key


def test_serve_answers_byte_ranges(site: Path, served: str) -> None:
    data = (site / "catalog" / "donations.parquet").read_bytes()
    for header, body in (("bytes=4-11", data[4:12]), ("bytes=-8", data[-8:]), ("bytes=0-", data)):
        request = urllib.request.Request(
            served + "catalog/donations.parquet", headers={"Range": header}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 206
            assert response.read() == body
            assert response.headers["Content-Range"].endswith(f"/{len(data)}")
