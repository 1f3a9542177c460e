"""A labelled single-cell reference (h5ad) and a bulk expression table (CSV/TSV) from a user's files.

Reference (``.h5ad``, AnnData): cells x genes with a label column in ``obs``. The matrix is
``.raw`` when the file has one (scanpy keeps all genes there), else ``.X``. Its scale is detected:
whole numbers are counts (each cell is scaled to 10,000 in total), values up to 30 are taken as
``log1p`` of normalised expression (``expm1`` is applied), larger values as linear already.
Scaled values (negative numbers, e.g. after ``sc.pp.scale``) are refused: mixing needs linear
expression. Cells without a label are left out.

Bulk (``.csv``, ``.tsv``/``.txt`` by extension): a table with one header line and one name column
first, either genes x samples (gene names down the first column) or samples x genes (gene names in
the header). The orientation is detected from which side carries the reference's gene names, or
given. Values must be linear (counts, CPM, TPM); a log-scaled table is recognised (all values up to
30 and not whole numbers) and refused unless ``values=log1p`` or ``values=log2`` says how to undo it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.tasks.spec import HashedPath
from genotx.data.formats.text import check_path, delimiter, parse_delimited, read_text
from genotx.errors import InputError

__all__ = ["Reference", "ReferenceFile", "read_reference", "reference_genes", "read_bulk", "LABEL_COLUMNS"]

log = logging.getLogger(__name__)

#: label columns tried, in order, when none is named
LABEL_COLUMNS = ("cell_type", "celltype", "cell_types", "CellType", "bulk_labels", "labels", "label")
LOG_MAX = 30.0  # a log1p/log2 expression table never goes above this; linear ones do


ReferenceFile = HashedPath  # a path option whose repr carries its sha256 (the model-cache key)


@dataclass(frozen=True)
class Reference:
    """Labelled cells: ``expression`` (cells x genes, linear scale, CSR float32), ``labels`` (one str
    per cell), ``genes`` and ``cells`` (names)."""

    expression: sparse.csr_matrix
    labels: np.ndarray
    genes: tuple[str, ...]
    cells: tuple[str, ...]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))


def _quiet_old_format() -> None:
    """Inside ``catch_warnings``: files written by old anndata (scanpy's pbmc68k_reduced) read fine,
    but anndata says so at every read; nothing the user can act on."""
    warnings.filterwarnings("ignore", category=FutureWarning, module="anndata")
    warnings.filterwarnings("ignore", message=".*(very old version|without encoding metadata).*")


def _read_h5ad(path: Path):
    import anndata

    check_path(path, what="labelled single-cell .h5ad file")
    try:
        with warnings.catch_warnings():
            _quiet_old_format()
            return anndata.read_h5ad(path)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise InputError(str(path), f"cannot be read as an h5ad (AnnData) file ({type(err).__name__}: {err})",
                         fix="write the reference with anndata's AnnData.write_h5ad") from None


def _linear(matrix, where: str) -> sparse.csr_matrix:
    """The matrix on a linear scale (see the module docstring), as CSR float32."""
    X = sparse.csr_matrix(matrix, dtype=np.float64)
    values = X.data
    if values.size and not np.isfinite(values).all():
        raise InputError(where, "holds missing or infinite expression values", fix="fill or drop them before saving")
    if values.size and values.min() < 0:
        raise InputError(where, "holds negative values (scaled expression)",
                         fix="keep counts or log-normalised values in .X or .raw (sc.pp.scale output cannot be mixed)")
    if values.size and np.all(values == np.round(values)):  # counts: every cell to 10,000 in total
        totals = np.asarray(X.sum(axis=1)).ravel()
        X = sparse.diags(np.where(totals > 0, 1e4 / np.where(totals > 0, totals, 1.0), 0.0)) @ X
    elif values.size and values.max() <= LOG_MAX:
        X.data = np.expm1(X.data)
    return sparse.csr_matrix(X, dtype=np.float32)


def read_reference(path: str | Path, *, label: str | None = None, genes: str | None = None) -> Reference:
    """A labelled single-cell reference from an ``.h5ad`` file (see the module docstring); ``genes``
    names a boolean ``var`` column that selects genes (e.g. ``highly_variable``).

    Examples
    --------
    >>> import anndata, tempfile, pathlib
    >>> cells = anndata.AnnData(np.array([[3.0, 0.0], [1.0, 2.0], [0.0, 5.0]]),
    ...                         obs=pd.DataFrame({"cell_type": ["a", "a", "b"]}, index=["c1", "c2", "c3"]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ref.h5ad"; cells.write_h5ad(path)
    >>> ref = read_reference(path)
    >>> ref.types, np.asarray(ref.expression.sum(axis=1)).round().ravel().tolist()  # counts -> 10,000 per cell
    (('a', 'b'), [10000.0, 10000.0, 10000.0])
    """
    path = Path(path)
    adata = _read_h5ad(path)
    if label is None:
        label = next((c for c in LABEL_COLUMNS if c in adata.obs), None)
        if label is None:
            raise InputError(str(path), f"no label column among {list(LABEL_COLUMNS)} (obs has {list(adata.obs.columns)})",
                             fix="name the column of cell types with label=<column>")
    elif label not in adata.obs:
        raise InputError(str(path), f"obs has no column {label!r} (it has {list(adata.obs.columns)})",
                         fix="name the column of cell types with label=<column>")
    source = adata.raw if adata.raw is not None else adata
    where = f"{path} ({'.raw.X' if adata.raw is not None else '.X'})"
    expression = _linear(source.X, where)
    labels = adata.obs[label]
    keep = labels.notna().to_numpy() & (labels.astype(str).str.strip() != "").to_numpy()
    if keep.sum() == 0:
        raise InputError(str(path), f"column {label!r} labels no cell", fix="label the cells' types")
    if (~keep).any():
        log.warning("%s: %d cells without a %r label are left out", path, int((~keep).sum()), label)
    names = tuple(str(g) for g in source.var_names)
    if len(set(names)) != len(names):
        raise InputError(where, "has duplicated gene names", fix="make them unique (adata.var_names_make_unique())")
    columns = np.arange(len(names))
    if genes is not None:
        if genes not in source.var:
            raise InputError(str(path), f"var has no column {genes!r}", fix="name a boolean var column of genes to keep")
        columns = np.flatnonzero(source.var[genes].to_numpy(dtype=bool))
    return Reference(expression[np.flatnonzero(keep)][:, columns], labels[keep].astype(str).str.strip().to_numpy(),
                     tuple(names[i] for i in columns), tuple(str(c) for c in adata.obs_names[keep]))


def reference_genes(path: str | Path) -> tuple[str, ...]:
    """The gene names of a reference ``.h5ad`` (``.raw`` when present), read without loading its matrix."""
    import anndata

    path = Path(path)
    check_path(path, what="labelled single-cell .h5ad file")
    try:
        with warnings.catch_warnings():
            _quiet_old_format()
            adata = anndata.read_h5ad(path, backed="r")
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise InputError(str(path), f"cannot be read as an h5ad (AnnData) file ({type(err).__name__}: {err})",
                         fix="write the reference with anndata's AnnData.write_h5ad") from None
    try:
        names = adata.raw.var_names if adata.raw is not None else adata.var_names
        return tuple(str(g) for g in names)
    finally:
        adata.file.close()


def _table(path: Path) -> pd.DataFrame:
    text = read_text(path, what="CSV or TSV table")  # read once; missing, folder, empty, not UTF-8, damaged gzip named
    raw = parse_delimited(text, str(path), sep=delimiter(path, text), unique=False)  # repeated names: see _numbers
    if raw.shape[0] == 0 or raw.shape[1] < 2:
        raise InputError(str(path), "holds no values", fix="give genes x samples (or samples x genes) with a header line")
    frame = raw.iloc[:, 1:]
    frame.index = raw.iloc[:, 0].astype(str).str.strip().to_numpy()
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.attrs["lines"] = raw.attrs.get("lines") or list(range(2, len(raw) + 2))
    return frame


def _numbers(frame: pd.DataFrame, path: Path, genes_down: bool) -> pd.DataFrame:
    """Numeric values; a bad cell is reported with its line (header = line 1) and column."""
    lines = frame.attrs.get("lines") or list(range(2, len(frame) + 2))
    values = frame.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise InputError(str(path), f"column {frame.columns[col]!r} has the non-numeric or missing value {frame.iat[row, col]!r}",
                         line=lines[row], fix="write a number (0 for no expression)")
    negative = values.to_numpy() < 0
    if negative.any():
        row, col = map(int, np.argwhere(negative)[0])
        raise InputError(str(path), f"column {frame.columns[col]!r} has the negative value {frame.iat[row, col]!r}",
                         line=lines[row], fix="give linear expression (counts, CPM, TPM), not centred or scaled values")
    names = frame.index if genes_down else pd.Index(frame.columns)
    duplicated = names.duplicated()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        raise InputError(str(path), f"{'gene' if genes_down else 'column'} {names[first]!r} appears twice",
                         line=lines[first] if genes_down else 1, fix="sum or drop duplicated genes")
    return values.astype(np.float64)


def read_bulk(path: str | Path, *, genes: tuple[str, ...] | list[str], orientation: str = "auto",
              values: str = "auto", min_overlap: float = 0.5) -> pd.DataFrame:
    """A bulk table as samples x ``genes`` (linear scale; reference genes absent from the file are NaN).

    ``frame.attrs`` holds ``orientation`` (as detected or given), ``n_genes_matched`` and the file's
    own gene count.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "bulk.csv"
    >>> _ = p.write_text("gene,s1,s2\\nA,10,0\\nB,5,7\\nZ,1,1\\n")
    >>> frame = read_bulk(p, genes=("A", "B"))
    >>> frame.to_dict(orient="index"), frame.attrs["orientation"]
    ({'s1': {'A': 10.0, 'B': 5.0}, 's2': {'A': 0.0, 'B': 7.0}}, 'genes_x_samples')
    """
    path = Path(path)
    if orientation not in ("auto", "genes_x_samples", "samples_x_genes"):
        raise InputError("orientation", f"{orientation!r} is not auto, genes_x_samples or samples_x_genes", fix="pick one")
    if values not in ("auto", "linear", "log1p", "log2"):
        raise InputError("values", f"{values!r} is not auto, linear, log1p or log2", fix="pick one")
    raw = _table(path)
    wanted = set(genes)
    down, across = raw.index.isin(list(wanted)).sum(), pd.Index(raw.columns).isin(list(wanted)).sum()
    if orientation == "auto":
        if down == 0 and across == 0:
            raise InputError(str(path), "no row or column name is a gene of the reference "
                             f"(e.g. {', '.join(list(genes)[:3])})", fix="name genes as the reference does (same symbols/ids)")
        orientation = "genes_x_samples" if down >= across else "samples_x_genes"
    genes_down = orientation == "genes_x_samples"
    numbers = _numbers(raw, path, genes_down)
    frame = numbers.T if genes_down else numbers
    frame.index = frame.index.astype(str)
    matched = int(pd.Index(frame.columns).isin(list(wanted)).sum())
    if matched < min_overlap * len(genes):
        raise InputError(str(path), f"only {matched} of the reference's {len(genes)} genes are in the file "
                         f"(read as {orientation.replace('_x_', ' x ')})",
                         fix="give more of the reference's genes, use a reference measured on the same genes, "
                         "or set orientation= if the table was read the wrong way round")
    X = frame.to_numpy()
    if values == "auto" and X.max() <= LOG_MAX and not np.all(X == np.round(X)):
        raise InputError(str(path), f"looks log-transformed (all values <= {LOG_MAX:g}, not whole numbers)",
                         fix="give linear values (counts, CPM, TPM), or say values=log1p or values=log2 to undo the log")
    if values == "log1p":
        frame = np.expm1(frame)
    elif values == "log2":
        frame = np.exp2(frame) - 1.0
    out = frame.reindex(columns=list(genes))
    empty = out.fillna(0.0).sum(axis=1).to_numpy() <= 0
    if empty.any():
        name = out.index[int(np.flatnonzero(empty)[0])]
        raise InputError(str(path), f"sample {name!r} has no expression on the reference's genes", fix="drop that sample")
    out.index.name, out.columns.name = "sample", None
    out.attrs.update(orientation=orientation, n_genes_matched=matched, n_genes_in_file=int(frame.shape[1]))
    return out
