"""Rendering the static site with Jinja: plain files, relative links, no request elsewhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__
from ..catalog import TABLES
from ..config import ArchiveConfig
from ..fair import LICENSES, dataset_jsonld, to_html
from ..release.model import ReleaseInfo, Withdrawal
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation

STATIC = ("style.css",)


def templates_dir() -> Path:
    """The packaged templates; in a source checkout, the repository's ``templates/``."""
    packaged = Path(str(resources.files("archive_builder"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def environment(overrides: Path | None = None) -> jinja2.Environment:
    """Templates in ``overrides`` (the archive's ``templates/``) win over the packaged ones."""
    loaders: list[jinja2.BaseLoader] = []
    if overrides is not None and overrides.is_dir():
        loaders.append(jinja2.FileSystemLoader(overrides))
    loaders.append(jinja2.FileSystemLoader(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    return env


def human_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def clone_commands(config: ArchiveConfig, public_id: str) -> dict[str, str]:
    store = f"ria+{config.base_url}store"
    return {
        "donation": f"datalad clone {store}#~{public_id} {public_id}\n"
        f"cd {public_id}\n"
        "datalad get series-001/instance-0001.dcm",
        "archive": f"datalad clone {store}#~archive archive\n"
        "cd archive\n"
        f"datalad get -n {public_id}\n"
        f"datalad get {public_id}/series-001",
    }


def render_site(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    site: SiteWriter,
    overrides: Path | None = None,
    releases: Sequence[ReleaseInfo] = (),
    withdrawals: Sequence[Withdrawal] = (),
) -> None:
    env = environment(overrides)
    common: dict[str, Any] = {
        "config": config,
        "description_html": to_html(config.description),
        "version": __version__,
        "licenses": LICENSES,
    }
    modality_counts = Counter(m for d in donations for m in d.modalities)
    region_counts = Counter(d.record["study"]["anatomical_region"] for d in donations)
    totals = {
        "donations": len(donations),
        "instances": sum(len(d.instances) for d in donations),
        "bytes": sum(d.total_bytes for d in donations),
        "modalities": sorted(modality_counts.items()),
        "regions": sorted(region_counts.items()),
    }
    site.text(
        "index.html",
        env.get_template("index.html").render(
            **common,
            root="",
            donations=donations,
            totals=totals,
            archive_clone=f"datalad clone ria+{config.base_url}store#~archive archive",
        ),
    )
    site.text(
        "catalog/index.html",
        env.get_template("catalog.html").render(**common, root="../", tables=TABLES),
    )
    for donation in donations:
        site.text(
            f"datasets/{donation.public_id}/index.html",
            env.get_template("donation.html").render(
                **common,
                root="../../",
                d=donation,
                record=donation.record,
                series=donation.series,
                report=donation.report,
                commands=clone_commands(config, donation.public_id),
                license=LICENSES[donation.record["license"]],
                jsonld=dataset_jsonld(config, donation),
            ),
        )
    for name in STATIC:
        site.text(name, env.get_template(name).render())
    site.text("README.md", env.get_template("site-README.md").render())
