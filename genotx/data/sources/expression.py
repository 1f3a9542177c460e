"""Single-cell expression references: labelled cells x genes (AnnData)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = ["SCANPY_PBMC68K_REDUCED", "DECOUPLER_PBMC3K", "seurat_to_h5ad"]

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


def seurat_to_h5ad(rds: str | Path, out: str | Path) -> Path:
    """A Seurat object saved with ``saveRDS`` (parsed, never run) as an ``.h5ad``: ``X`` = the RNA
    assay's ``data`` slot (log-normalised, cells x genes, CSR), ``obs["cell_type"]`` = the active
    identities, ``var["highly_variable"]`` = the assay's variable features."""
    import anndata

    from genotx.data.formats.rdata import read_rda

    seurat = read_rda(rds)
    try:
        assay = seurat.assays[str(np.asarray(seurat.__dict__["active.assay"]).ravel()[0])]
        data = assay.data
        genes, cells = (np.asarray(names).astype(str) for names in data.Dimnames)
        n_genes, n_cells = (int(v) for v in data.Dim)
        matrix = sparse.csc_matrix((np.asarray(data.x, dtype=np.float32), np.asarray(data.i), np.asarray(data.p)),
                                   shape=(n_genes, n_cells))
        identity = pd.Categorical(seurat.__dict__["active.ident"])
        variable = set(np.asarray(assay.__dict__["var.features"]).astype(str))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as err:
        raise InputError(str(rds), f"is not a Seurat v3/v4 object with an RNA data slot ({type(err).__name__}: {err})",
                         fix="re-fetch the source") from None
    if len(identity) != n_cells:
        raise InputError(str(rds), f"{len(identity)} identities for {n_cells} cells", fix="re-fetch the source")
    adata = anndata.AnnData(
        sparse.csr_matrix(matrix.T),
        obs=pd.DataFrame({"cell_type": identity.astype(str)}, index=cells),
        var=pd.DataFrame({"highly_variable": [g in variable for g in genes]}, index=genes),
    )
    adata.write_h5ad(out)
    return Path(out)


def _convert_seurat(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    path = seurat_to_h5ad(files["rds"], folder / "pbmc3k_subset.h5ad")
    Path(files.pop("rds")).unlink()
    return {**files, "h5ad": path}


DECOUPLER_PBMC3K = declare(
    Source(
        id="decoupler_pbmc3k",
        title="160 real PBMCs (10x pbmc3k) x 8,674 genes, 8 annotated types x 20 cells (decoupleR's sc_data)",
        kind="real",
        licence="GPL-3 (decoupleR package); 10x Genomics data (CC BY 4.0)",
        citation="Badia-i-Mompel et al. (2022) Bioinformatics Advances 2:vbac016 (decoupleR); "
        "10x Genomics pbmc3k; Hao et al. (2021) Cell 184:3573 (Seurat)",
        origin="https://www.bioconductor.org/packages/decoupleR (inst/extdata/sc_data.rds)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-decoupler",
            version="2.4.0+dfsg-1",
            sha256="d1e196deae02474f1db371cf0dcdb9efd6d835a0bc4e0eb513f51c12703c6d73",
        ),
        members={"rds": "usr/lib/R/site-library/decoupleR/extdata/sc_data.rds"},
        convert=_convert_seurat,
        notes="A Seurat object, parsed without R (genotx.data.formats.rdata) and stored as h5ad: X is Seurat's "
        "LogNormalize output (log1p of counts per 10,000), obs['cell_type'] the 8 identities, "
        "var['highly_variable'] Seurat's 1,645 variable features.",
    )
)
