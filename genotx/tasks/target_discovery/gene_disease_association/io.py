"""gene_disease_association's user files: genes (and optional diseases) in, scored pairs out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.errors import InputError
from genotx.tasks.target_discovery.gene_disease_association.features import vocabulary

__all__ = ["read_input", "format_predictions"]


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV (TSV for .tsv/.txt) with column ``gene`` (symbol or NCBI gene id; alias ``gene_symbol``,
    ``gene_id``) and optional ``disease`` (an OMIM id of the graph, e.g. OMIM:619340; alias
    ``disease_id``). Rows with a disease are scored as pairs; rows without one get the top diseases.
    Only the graph's gene and disease ids are read (:func:`~.features.vocabulary`)."""
    frame = read_table(path, required=("gene",), optional=("disease",),
                       aliases={"gene": ("gene_symbol", "gene_id", "symbol"), "disease": ("disease_id",)})
    vocab = vocabulary()
    frame["gene"] = frame["gene"].str.strip()
    number = pd.to_numeric(frame["gene"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):  # 'inf', '1e30', '2.5' read as numbers but are no NCBI gene id
        not_id = ~np.isnan(number) & ~(np.isfinite(number) & (number >= 1) & (number < 2**31) & (number == np.floor(number)))
    check_values(frame, "gene", lambda _s: pd.Series(~not_id), path=str(path), problem="is neither a gene symbol nor an NCBI gene id",
                 fix="use an HGNC symbol (e.g. BRCA1) or a positive whole NCBI gene id (e.g. 672)")
    index = vocab.gene_index(frame["gene"])
    if (index < 0).any():
        row = int(np.flatnonzero(index < 0)[0])
        raise InputError(str(path), f"unknown gene {frame['gene'].iloc[row]!r} (not in the graph, no GO annotation)", line=row + 2,
                         fix="use an HGNC symbol of a gene in HPO's gene list, or an NCBI gene id")
    frame["gene_id"] = vocab.gene_ids[index]
    frame["disease"] = frame["disease"].str.strip() if "disease" in frame else ""
    known = pd.Index(vocab.disease_ids).get_indexer(frame["disease"])
    bad = (known < 0) & (frame["disease"] != "").to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(str(path), f"unknown disease {frame['disease'].iloc[row]!r}", line=row + 2,
                         fix="use an OMIM id with a known gene, such as OMIM:619340, or leave it empty")
    return frame


def format_predictions(frame: pd.DataFrame, estimator, *, top_k: int = 10) -> pd.DataFrame:
    """Score the user's (gene, disease) pairs, or list the ``top_k`` diseases of genes given alone:
    columns gene, disease_id, rank (empty for a pair), score, known_link (a link the model was fitted on)."""
    out = []
    pairs = frame[frame["disease"] != ""]
    if len(pairs):
        ids = pd.DataFrame({"gene_id": pairs["gene_id"].to_numpy(), "disease_id": pairs["disease"].to_numpy()})
        out.append(pd.DataFrame({"gene": pairs["gene"].to_numpy(), "disease_id": pairs["disease"].to_numpy(), "rank": np.nan,
                                 "score": estimator.decision_function(ids), "known_link": estimator.is_known(ids)}))
    genes = frame[frame["disease"] == ""]
    if len(genes):
        rows = estimator.score_targets(genes["gene_id"].to_numpy())
        k = min(top_k, rows.shape[1])
        top = np.argsort(-rows, axis=1, kind="stable")[:, :k]
        ids = pd.DataFrame({"gene_id": np.repeat(genes["gene_id"].to_numpy(), k), "disease_id": estimator.targets_[top.ravel()]})
        out.append(pd.DataFrame({
            "gene": np.repeat(genes["gene"].to_numpy(), k), "disease_id": ids["disease_id"].to_numpy(),
            "rank": np.tile(np.arange(1, k + 1), len(genes)), "score": np.take_along_axis(rows, top, axis=1).ravel(),
            "known_link": estimator.is_known(ids),
        }))
    result = pd.concat(out, ignore_index=True)
    result["rank"] = result["rank"].astype("Int64")
    return result
