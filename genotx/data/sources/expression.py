"""Single-cell expression references: labelled cells x genes (AnnData)."""

from __future__ import annotations

from genotx.data.source import PackageFile, Source, declare

__all__ = ["SCANPY_PBMC68K_REDUCED"]

SCANPY_PBMC68K_REDUCED = declare(
    Source(
        id="scanpy_pbmc68k_reduced",
        title="700 real PBMCs x 765 genes (10x Genomics 68k PBMC subset) with 10 cell-type labels (bulk_labels)",
        kind="real",
        licence="BSD-3-Clause (scanpy); 10x Genomics data (CC BY 4.0)",
        citation="Zheng et al. (2017) Nat Commun 8:14049, doi:10.1038/ncomms14049; "
        "scanpy: Wolf, Angerer & Theis (2018) Genome Biol 19:15",
        origin="https://support.10xgenomics.com/single-cell-gene-expression/datasets (Fresh 68k PBMCs, "
        "Donor A); reduced and labelled as scanpy.datasets.pbmc68k_reduced",
        package=PackageFile(
            registry="pypi",
            name="scanpy",
            version="1.11.5",
            sha256="fcd383ddcf7acbf7c0ca232c25ad51b00aec9f8d2f7c8954b8c6ee0962257166",
        ),
        members={"h5ad": "scanpy/datasets/10x_pbmc68k_reduced.h5ad"},
        notes="obs['bulk_labels']: 10 types (Dendritic 240 ... CD4+/CD45RA+/CD25- Naive T 8). .X is scaled; "
        ".raw.X is log1p of per-cell normalised expression (expm1 gives linear scale; no raw counts).",
    )
)
