"""rare_disease's user files: patients' HPO terms in, their top-k candidate diseases out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.bio.phenotypes import encode_patients, ontology
from genotx.data.formats.table import read_table
from genotx.errors import InputError

__all__ = ["read_input", "top_diseases"]

_TERM_COLUMNS = ("hpo_terms", "hpo_ids", "hpo", "terms")


def read_input(path: str | Path) -> pd.DataFrame:
    """Patients' HPO terms -> DataFrame with ``patient_id`` and ``hpo_terms`` (ids joined by ``;``).

    Accepted: a CSV (TSV for .tsv/.txt) with a header holding ``hpo_terms`` (or ``hpo_ids``,
    ``hpo``, ``terms``) and optionally ``patient_id``; or a text file with one patient per line,
    ``patient_id<TAB or space>HP:0001250;HP:0004322`` or only the terms (blank lines and lines
    starting with ``#`` are skipped). Alternative and obsolete-but-replaced ids are accepted; an
    unknown id raises :class:`InputError` naming the line and the id. Only the ontology is read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path")
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    header = [c.strip().lower() for c in first.replace("\t", ",").split(",")]
    if any(c in _TERM_COLUMNS for c in header):
        frame = read_table(path, required=("hpo_terms",), optional=("patient_id",),
                           aliases={"hpo_terms": _TERM_COLUMNS[1:], "patient_id": ("patient", "id", "sample")})
        line_no = np.arange(2, 2 + len(frame))
        if "patient_id" not in frame:
            frame["patient_id"] = [f"patient_{i}" for i in range(1, len(frame) + 1)]
    else:
        lines = pd.Series(text.splitlines(), dtype=object)
        keep = ((lines.str.strip() != "") & ~lines.str.startswith("#")).to_numpy()
        line_no = np.arange(1, len(lines) + 1)[keep]
        lines = lines[keep].str.strip().reset_index(drop=True)
        if lines.empty:
            raise InputError(str(path), "no patients", fix="write one patient per line: id<TAB>HP:0001250;HP:0004322")
        parts = lines.str.split(r"[\t ]+", n=1, regex=True)
        has_id = ~parts.str[0].str.upper().str.startswith("HP:")
        frame = pd.DataFrame({
            "patient_id": np.where(has_id, parts.str[0], [f"patient_{n}" for n in line_no]),
            "hpo_terms": np.where(has_id, parts.str[1].fillna(""), lines),
        })
    frame["hpo_terms"] = frame["hpo_terms"].astype(str).str.replace(r"\s+", "", regex=True)
    try:
        encode_patients(frame["hpo_terms"], ontology(), where=str(path), first_line=0)
    except InputError as err:  # the row position -> the file's own line number
        raise InputError(str(path), err.problem, line=int(line_no[err.line]), fix=err.fix) from None
    return frame[["patient_id", "hpo_terms"]].reset_index(drop=True)


def top_diseases(frame: pd.DataFrame, ranker, *, k: int = 10) -> pd.DataFrame:
    """The ``k`` best diseases per patient of ``frame`` (``patient_id``, ``hpo_terms``) by a fitted
    ranker: columns patient_id, rank (tied diseases share the best rank: 1, 1, 3...), disease_id,
    disease_name, score, genes (``;``-joined symbols)."""
    kb = ranker.knowledge_
    scores = ranker.decision_function(frame)
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    best = np.take_along_axis(scores, top, axis=1)
    flat = top.ravel()
    return pd.DataFrame({
        "patient_id": np.repeat(frame["patient_id"].to_numpy(), k),
        "rank": (1 + (scores[:, None, :] > best[:, :, None]).sum(axis=2)).ravel(),
        "disease_id": kb.disease_ids[flat],
        "disease_name": kb.disease_names[flat],
        "score": best.ravel(),
        "genes": kb.genes_of(flat),
    })
