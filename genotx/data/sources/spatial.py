"""Spatial transcriptomics with histology: squidpy's co-registered H&E + Visium test pair, and its
minimal Space Ranger folder (both inside the squidpy 1.8.2 sdist, read at fetch time only).

The members are extracted flat into the cache (one folder per source);
:func:`genotx.data.formats.visium.read_visium` reads a Space Ranger folder whether its spatial
files sit in ``spatial/`` or beside the matrix, so the cached minimal folder is a folder it reads.
"""

from __future__ import annotations

from genotx.data.source import PackageFile, Source, declare

__all__ = ["SQUIDPY", "SQUIDPY_VISIUM_TEST", "SQUIDPY_SPACERANGER_MINIMAL"]

SQUIDPY = PackageFile(
    registry="pypi",
    name="squidpy",
    version="1.8.2",
    sha256="6c79c95dea9f812c6aee39cab5740b034e8a90e74e84b0a9e9f0c6c5a6956a64",
    sdist=True,
)
_DATA = "squidpy-1.8.2/tests/_data/"
_LICENCE = "BSD-3-Clause (squidpy); 10x Genomics Visium example data (CC BY 4.0)"
_CITATION = ("Palla et al. (2022) Nat Methods 19:171-178, doi:10.1038/s41592-021-01358-2 (squidpy); "
             "10x Genomics Visium V1_Adult_Mouse_Brain (Space Ranger 1.0.0)")
_ORIGIN = "https://github.com/scverse/squidpy/tree/main/tests/_data"

SQUIDPY_VISIUM_TEST = declare(
    Source(
        id="squidpy_visium_test",
        title="49 real Visium spots x 1,999 genes (adult mouse brain cortex) with the co-registered H&E crop "
        "(950 x 1717 px jpg, spot diameter ~89 px)",
        kind="real",
        licence=_LICENCE,
        citation=_CITATION,
        origin=_ORIGIN,
        package=SQUIDPY,
        members={"image": _DATA + "test_img.jpg", "h5ad": _DATA + "test_data.h5ad"},
        notes="test_data.h5ad: X log-normalised (CSR), var = scanpy's 1,999 highly variable genes (598 are zero in "
        "all 49 spots), obsm['spatial'] = (x, y) pixel centres inside test_img.jpg, uns['spatial'][...]"
        "['scalefactors']['spot_diameter_fullres'] = 89.4 (the jpg is at full resolution). Tiny: a test fixture "
        "of squidpy, real and co-registered.",
    )
)

SQUIDPY_SPACERANGER_MINIMAL = declare(
    Source(
        id="squidpy_spaceranger_minimal",
        title="A minimal Space Ranger output folder: 100 spots x 100 genes (GRCh38), positions, scale factors, "
        "hires and lowres tissue images",
        kind="real",
        licence=_LICENCE,
        citation=_CITATION,
        origin=_ORIGIN + "/spatial",
        package=SQUIDPY,
        members={
            "counts": _DATA + "filtered_feature_bc_matrix.h5",
            "positions": _DATA + "spatial/tissue_positions_list.csv",
            "scalefactors": _DATA + "spatial/scalefactors_json.json",
            "hires": _DATA + "spatial/tissue_hires_image.png",
            "lowres": _DATA + "spatial/tissue_lowres_image.png",
        },
        notes="For reading Space Ranger folders (genotx.data.formats.visium) and the predict path only: the hires "
        "image is blank (all black) and the lowres one shows a spot as ~4 px, so it carries no usable histology.",
    )
)
