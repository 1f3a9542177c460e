"""Gene Ontology annotations of human genes (Bioconductor org.Hs.eg.db, Debian package)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from genotx.data.source import PackageFile, Source, declare

_SQLITE = "./usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite"


def _convert_org_hs_eg(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Keep only gene -> GO term links (propagated to ancestors, ND evidence dropped) as Parquet.

    The 344 MB SQLite is read once here with the standard library and then deleted.
    """
    sqlite_path = Path(files.pop("sqlite"))
    query = " UNION ".join(
        f"SELECT genes.gene_id AS gene_id, g.go_id AS go_id, '{aspect}' AS aspect FROM {table} AS g "
        f"JOIN genes ON genes._id = g._id WHERE g.evidence != 'ND'"
        for table, aspect in (("go_bp_all", "BP"), ("go_mf_all", "MF"), ("go_cc_all", "CC"))
    )
    with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True) as connection:
        links = pd.read_sql_query(query, connection)
        release = pd.read_sql_query("SELECT name, value FROM metadata", connection)
    links["gene_id"] = links["gene_id"].astype("int64")
    out = folder / "gene_go.parquet"
    links.sort_values(["gene_id", "go_id"]).to_parquet(out, index=False)
    release.to_csv(folder / "org_hs_eg_metadata.csv", index=False)
    sqlite_path.unlink()
    return {**files, "gene_go": out, "metadata": folder / "org_hs_eg_metadata.csv"}


ORG_HS_EG_GO = declare(
    Source(
        id="org_hs_eg_go",
        title="GO annotations of human Entrez genes (org.Hs.eg.db 3.16; GO 2022-07-01, Entrez Gene 2022-09-12)",
        kind="real",
        licence="Artistic-2.0 (org.Hs.eg.db); GO annotations CC-BY-4.0",
        citation="Carlson M. org.Hs.eg.db: Genome wide annotation for Human (Bioconductor); "
        "Gene Ontology Consortium (2023) Genetics 224:iyad031",
        origin="https://bioconductor.org/packages/org.Hs.eg.db (Debian r-bioc-org.hs.eg.db)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-org.hs.eg.db",
            version="3.16.0-1",
            sha256="0f61810d35b858915b1a9787d8dcab08b7e164c14c20a9e1d86eb9837308c2c2",
        ),
        members={"sqlite": _SQLITE},
        convert=_convert_org_hs_eg,
        notes="Only gene -> GO links (tables go_*_all, evidence != ND) are kept; the OMIM table is "
        "never read (it would leak gene-disease links).",
    )
)
