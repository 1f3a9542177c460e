"""The three default contrasts from their sources, the contrast split, and a user's contrast file.

A user's file (``genotx predict pathway_analysis --input contrast.csv``) is a CSV or TSV with a
header and one row per gene: a gene column (``gene``, ``symbol``, ``gene_symbol`` or the first
column) and a numeric statistic (``t``, ``stat``, ``statistic``, ``logfc``, ``log2foldchange``,
``score``, or the only numeric column; ``-o column=NAME`` picks another). Positive = up in the
condition of interest. Genes are symbols of the chosen organism; a repeated gene keeps its first row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import read_table
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.splits import Fold
from genotx.tasks.target_discovery.pathway_analysis import contrasts as C
from genotx.tasks.target_discovery.pathway_analysis.genesets import ensembl_symbols, entrez_symbols

__all__ = ["contrast_tables", "ContrastSplit", "read_contrast", "GENE_COLUMNS", "STAT_COLUMNS"]

GENE_COLUMNS = ("gene", "symbol", "gene_symbol", "genes", "hgnc_symbol", "id")
STAT_COLUMNS = ("t", "stat", "statistic", "logfc", "log2foldchange", "score")


def contrast_tables() -> dict[str, pd.DataFrame]:
    """{contrast: genes x (logfc, t, p_value)} of the three real experiments (:mod:`.contrasts`)."""
    from genotx.data.sources.cross_species import progeny_tables

    progeny = progeny_tables(source_files("progeny_models"))
    airway = source_files("airway_counts")
    leukemia = source_files("all_leukemia")
    probes = pd.read_parquet(source_files("hgu95_probes")["probes"])
    probe_symbol = pd.Series(entrez_symbols().reindex(probes["entrez"].astype("float64").to_numpy()).to_numpy(),
                             index=probes["probe"].to_numpy())
    return {
        "foxa2_knockout": C.foxa2_knockout(progeny["panc1"], progeny["panc1_design"]),
        "dexamethasone": C.dexamethasone(pd.read_parquet(airway["counts"]).set_index("gene"),
                                         pd.read_parquet(airway["samples"]), ensembl_symbols()),
        "bcr_abl": C.bcr_abl(pd.read_parquet(leukemia["expression"]).set_index("probe"),
                             pd.read_parquet(leukemia["phenotype"]), probe_symbol),
    }


@dataclass(frozen=True)
class ContrastSplit:
    """One fold on one contrast: nothing is learned, so the method "trains" on the row it scores.

    Examples
    --------
    >>> fold, = ContrastSplit("b").split(pd.DataFrame({"contrast": ["a", "b", "c"]}), random_state=0)
    >>> fold.train.tolist(), fold.test.tolist(), fold.name
    ([1], [1], 'b')
    """

    contrast: str

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:  # noqa: ARG002 - deterministic
        rows = np.flatnonzero(groups["contrast"].to_numpy() == self.contrast)
        if len(rows) == 0:
            raise InputError(f"split {self.contrast!r}", "the dataset has no such contrast",
                             fix=f"use one of {sorted(set(groups['contrast']))}")
        return [Fold(rows, rows, self.contrast)]


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[w] for w in wanted if w in lower), None)


def _header(path: Path) -> list[str]:
    read_table(path, required=())  # refuses a missing, empty or unparsable file, naming it
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt") else ","
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [c.strip().strip('"') for c in handle.readline().rstrip("\r\n").split(sep)]


def read_contrast(path: str | Path, *, column: str | None = None) -> pd.DataFrame:
    """A user's per-gene statistic as a one-row frame (contrast x genes), named after the file."""
    path = Path(path)
    columns = _header(path)
    if len(columns) < 2:
        raise InputError(str(path), f"has {len(columns)} column(s); a gene column and a statistic are needed", line=1,
                         fix="write a header such as gene,t and one row per gene (comma-separated; .tsv for tabs)")
    gene = _pick(columns, GENE_COLUMNS) or columns[0]
    if column is not None and column not in columns:
        raise InputError(str(path), f"has no column {column!r} (found {columns})", line=1, fix="give -o column=<one of them>")
    others = [c for c in columns if c != gene]
    stat = column or _pick(others, STAT_COLUMNS) or (others[0] if len(others) == 1 else None)
    if stat is None:
        raise InputError(str(path), f"cannot tell which column is the statistic (columns: {columns})", line=1,
                         fix="name it t, stat, logfc or score, or give -o column=NAME")
    frame = read_table(path, required=(gene, stat), numeric=(stat,))
    genes = frame[gene].astype(str).str.strip()
    empty = np.flatnonzero((genes == "").to_numpy())
    if len(empty):
        raise InputError(str(path), "no gene name", line=int(empty[0]) + 2, fix="give a gene symbol on every row")
    series = pd.Series(frame[stat].to_numpy(np.float64), index=genes.to_numpy())
    series = series[~series.index.duplicated()].dropna()
    if len(series) < 50:
        raise InputError(str(path), f"has {len(series)} genes with a statistic; pathway scores need many genes",
                         fix="give the statistic of every measured gene (not only the significant ones)")
    out = series.to_frame(path.stem).T
    out.attrs.update({"statistic": stat, "gene_column": gene})
    return out
