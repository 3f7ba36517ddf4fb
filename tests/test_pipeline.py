"""The whole path, init -> ingest -> build, with real DataLad and real DICOM files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from conftest import git_log, run_cli, sample
from pydicom import dcmread

from archive_builder.config import load_config
from archive_builder.demo import study_files
from archive_builder.pixels.heads import HEAD_PROFILE, LOCALIZER

REPO = Path(__file__).resolve().parents[1]

MR_STUDY = study_files(sample("dicomdirtests/98892003/MR700/4467"))


def test_init_creates_an_archive_with_a_private_key_and_a_superdataset(archive_dir: Path) -> None:
    key = archive_dir / "private" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    config = load_config(archive_dir)
    assert (config.name, config.base_url) == ("Test Archive", "https://data.example.org/")
    assert (archive_dir / "datasets" / ".datalad" / "config").is_file()
    assert git_log(archive_dir / "datasets")  # committed


def test_instances_json_holds_the_published_headers_values_as_written(
    archive_dir: Path, make_package
) -> None:
    """The catalog's values are those of the published file: multi-values joined as the
    header writes them (0.661468, not a float's repr), numbers as numbers, absent as null."""
    result = run_cli("ingest", archive_dir, make_package([sample("CT_small.dcm")]))
    assert result.exit_code == 0, result.output
    dataset = archive_dir / "datasets" / result.output.split("added as ")[1].split()[0]
    [entry] = json.loads((dataset / "instances.json").read_text())
    ds = dcmread(dataset / entry["path"])
    assert entry["PixelSpacing"] == "0.661468\\0.661468"
    assert entry["ImageType"] == "ORIGINAL\\PRIMARY\\AXIAL"
    assert (entry["Rows"], entry["SliceThickness"], entry["KVP"]) == (128, 5.0, 120.0)
    assert entry["NumberOfFrames"] is None and entry["SeriesDescription"] is None
    for keyword in ("StudyInstanceUID", "SOPInstanceUID", "Modality", "StudyDate", "PatientAge"):
        assert entry[keyword] == ds[keyword].value, keyword


def test_init_refuses_an_existing_archive(archive_dir: Path) -> None:
    result = run_cli("init", archive_dir)
    assert result.exit_code == 2
    assert "already an archive" in result.output


def test_ingest_then_build_publishes_a_donation(archive_dir: Path, make_package) -> None:
    package = make_package([sample("CT_small.dcm")], donation_id="portal-abc-12345")
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    assert "added as don-" in result.output
    public_id = result.output.split("added as ")[1].split()[0]

    dataset = archive_dir / "datasets" / public_id
    files = sorted(
        p.relative_to(dataset).as_posix()
        for p in dataset.rglob("*")
        if ".git" not in p.parts and ".datalad" not in p.parts and p.is_file()
    )
    assert files == [
        ".gitattributes",
        "README.md",
        "deid-report.json",
        "donation.json",
        "instances.json",
        "series-001/instance-0001.dcm",
    ]
    # DICOM in git-annex, text in git
    assert (dataset / "series-001" / "instance-0001.dcm").is_symlink()
    assert not (dataset / "donation.json").is_symlink()
    # the portal's donation id is never published
    for path in dataset.rglob("*"):
        if path.is_file():
            assert b"portal-abc-12345" not in path.read_bytes(), path
    ds = dcmread(dataset / "series-001" / "instance-0001.dcm")
    assert ds.PatientName == public_id and ds.PatientIdentityRemoved == "YES"
    assert ds.PatientAge == "052Y"

    result = run_cli("build", archive_dir)
    assert result.exit_code == 0, result.output
    site = archive_dir / "site"
    page = (site / "datasets" / public_id / "index.html").read_text()
    assert (
        "Migraine, unspecified" in page
        and f"ria+https://data.example.org/store#~{public_id}" in page
    )
    assert public_id in (site / "index.html").read_text()
    assert (site / "LICENSE").read_text().startswith("Unless a donation says otherwise")
    assert 'title: "Test Archive"' in (site / "CITATION.cff").read_text()
    table = pq.read_table(site / "catalog" / "donations.parquet")
    assert table.column("public_id").to_pylist() == [public_id]
    assert table.column("age").to_pylist() == [52]
    assert table.schema.metadata[b"archive"] == b"Test Archive"
    instances = pq.read_table(site / "catalog" / "instances.parquet").to_pylist()
    assert [i["path"] for i in instances] == ["series-001/instance-0001.dcm"]
    assert instances[0]["Modality"] == "CT" and instances[0]["Rows"] == 128


def test_nothing_private_reaches_the_site_or_the_datasets(archive_dir: Path, make_package) -> None:
    run_cli("ingest", archive_dir, make_package([sample("CT_small.dcm")]))
    run_cli("build", archive_dir)
    key = (archive_dir / "private" / "secret.key").read_text().strip()
    for folder in ("site", "datasets"):
        for path in (archive_dir / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert key.encode() not in data, path
                assert b"portal-donation" not in data, path
                assert b"private/" not in data or path.suffix == ".md", path


def test_commits_carry_the_archive_identity_not_the_maintainer(
    archive_dir: Path, make_package, monkeypatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Dr Maintainer Person")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "maintainer@hospital.example")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Dr Maintainer Person")
    result = run_cli("ingest", archive_dir, make_package())
    public_id = result.output.split("added as ")[1].split()[0]
    for repo in (archive_dir / "datasets", archive_dir / "datasets" / public_id):
        for line in git_log(repo):
            author, committer, _ = line.split("|")
            assert author == committer == "Test Archive <archive@example.org>"
        # and only the day, not the minute, of each change
        assert all(t.endswith("00:00:00+00:00") for t in git_log(repo, "%aI"))


def test_the_maintainers_own_git_configuration_changes_nothing_the_archive_writes(
    archive_dir: Path, make_package, monkeypatch, tmp_path: Path
) -> None:
    # DataLad runs inside the ingest process: the maintainer's global git configuration
    # (a personal identity, signed commits without a key here) must not reach it
    personal = tmp_path / "gitconfig"
    personal.write_text(
        "[user]\n\tname = Dr Maintainer Person\n\temail = maintainer@hospital.example\n"
        "[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(personal))
    result = run_cli("ingest", archive_dir, make_package())
    assert result.exit_code == 0 and "added as " in result.output, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    for repo in (archive_dir / "datasets", archive_dir / "datasets" / public_id):
        assert {line.split("|")[0] for line in git_log(repo)} == {
            "Test Archive <archive@example.org>"
        }
    assert os.environ["GIT_CONFIG_GLOBAL"] == str(personal)  # given back as it was


def test_a_second_ingest_of_the_same_donation_changes_nothing(
    archive_dir: Path, make_package
) -> None:
    first = make_package(donation_id="same-donation-1")
    again = make_package([sample("CT_small.dcm")], donation_id="same-donation-1", as_zip=True)
    assert run_cli("ingest", archive_dir, first).exit_code == 0
    before = git_log(archive_dir / "datasets")
    result = run_cli("ingest", archive_dir, again)
    assert result.exit_code == 0
    assert "already in the archive" in result.output and "nothing changed" in result.output
    assert git_log(archive_dir / "datasets") == before


def test_a_study_with_several_series_is_laid_out_by_series_and_instance(
    archive_dir: Path, make_package
) -> None:
    package = make_package(MR_STUDY, donation_id="mr-study-0001")
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    public_id = result.output.split("added as ")[1].split()[0]
    dataset = archive_dir / "datasets" / public_id
    report = json.loads((dataset / "deid-report.json").read_text())
    published = sorted(p.relative_to(dataset).as_posix() for p in dataset.glob("series-*/*.dcm"))
    assert report["instances"]["published"] == len(published) > 0
    # the seven projection images (Image Type SECONDARY) hold no text: they are screened
    # like every image and published; the three-plane pilot is a localizer, and the lone
    # sagittal "FAST LOCALIZER" of a study described as Brain-MRA is an image of the head in
    # profile: both can show the outline of the face, so neither is published (pixels.heads)
    excluded = sorted(e["reason"] for e in report["instances"]["excluded"])
    assert excluded == sorted([LOCALIZER] * 3 + [HEAD_PROFILE])
    secondary = [p for p in published if "SECONDARY" in dcmread(dataset / p).ImageType]
    assert len(secondary) == 7
    # files of other studies in the same folder were never part of this package
    uids = {dcmread(dataset / p).StudyInstanceUID for p in published}
    assert len(uids) == 1
    # no input file name survives
    names = " ".join(published)
    for source in MR_STUDY:
        assert source.name not in names


def test_the_demo_runs_twice_without_adding_anything(tmp_path: Path) -> None:
    """As in the Quick start: in a clone of this project, whose git tracks datasets/README.md
    and site/README.md and ignores the rest of the demo archive."""
    target = tmp_path / "demo"
    for name in (".gitignore", "datasets/README.md", "site/README.md"):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, target / name)
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "add", "."], check=True)
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.org"]
    subprocess.run(["git", "-C", str(target), *identity, "commit", "-qm", "clone"], check=True)
    first = run_cli("demo", target, "--no-serve")
    assert first.exit_code == 0, first.output
    assert first.output.count("added as don-") == 7
    assert "released 1.0.0" in first.output
    again = run_cli("demo", target, "--no-serve")
    assert again.exit_code == 0, again.output
    assert again.output.count("already in the archive") == 7
    assert "released" not in again.output  # one release, not a new one per run
    pages = list((target / "site" / "datasets").glob("*/index.html"))
    assert len(pages) == 7
    # the demo shows a citable release and the pilot's donation rate, not empty pages
    changes = json.loads((target / "site/releases/1.0.0/changes.json").read_text())
    assert len(changes["added"]) == 7
    assert sorted(p.name for p in (target / "site/releases").iterdir()) == ["1.0.0", "index.html"]
    rates = pq.read_table(target / "site/catalog/donation_rate.parquet").to_pylist()
    assert any(row["suppressed"] for row in rates)  # small counts withheld
    by_group = {(row["breakdown"], row["group"]): row for row in rates}
    overall = by_group[("overall", "all")]
    # the portal's numbers make sense beside the archive's: its donors are among those who
    # accepted, in the month of their consent, in each age band and sex
    assert overall["numerator"] >= 7 and by_group[("month", "2026-11")]["numerator"] >= 7
    assert {g for b, g in by_group if b == "age_band"} >= {"10-19", "60-69", "90+"}
    assert "Donation rate" in (target / "site/statistics/index.html").read_text()
    assert "Primary outcome" in (target / "site/pilot/index.html").read_text()
    # the donation rate is published in one current version, never frozen in a release
    assert not list((target / "site/releases").rglob("donation_rate.*"))
    # the clone's own git sees nothing changed, and the superdataset's text is in git
    status = subprocess.run(
        ["git", "-C", str(target), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""
    for name in ("README.md", "CHANGELOG.md", "releases.json"):
        assert not (target / "datasets" / name).is_symlink(), f"{name} is annexed"


def test_console_script_runs_outside_an_activated_virtualenv(tmp_path: Path) -> None:
    """git-annex and datalad come from the virtualenv even when PATH does not name it."""
    import sysconfig

    script = Path(sysconfig.get_path("scripts")) / "archive-builder"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(script), "init", str(tmp_path / "a")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a" / "datasets" / ".git").is_dir()
