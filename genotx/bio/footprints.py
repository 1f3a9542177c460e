"""PROGENy pathway footprints: the one scorer genotx uses, equal to the R package ``progeny`` 1.20.

A PROGENy model is a long table (``gene``, ``pathway``, ``weight``, ``p_value``; 14 pathways). The R
package scores a genes x samples matrix in three steps, which :func:`progeny_scores` repeats:

1. ``getModel(organism, top)``: each pathway keeps its ``top`` genes of lowest p-value with
   ``dplyr::top_n(top, wt = -p.value)``, which keeps **ties** at the cut (the mouse model's JAK-STAT
   has 101 genes at ``top = 100``); the others weigh 0 (:func:`footprint_matrix`);
2. the genes present in both the input and the model (the first row of a duplicated input gene, as
   R's ``expr[common_genes, ]``), and ``t(expr) %*% weights``;
3. with ``scale = TRUE`` and more than one sample, every pathway's column standardised across
   samples (``apply(x, 2, scale)``: centred, sd with ddof 1) (:func:`footprint_scores`).

The package's own test scores its ``human_input.csv`` / ``mouse_input.csv`` with ``top = 10``, and
``*_def_expected.csv`` were written that way: scored with ``top = 10`` this module matches them to
1e-12 on all 14 pathways (``tests/test_footprints.py``). With ``top = 100`` four pathways differ
because those inputs hold genes of other pathways' top-100 lists, not because the scorer differs.

:func:`permutation_scores` is ``progenyPerm``: for one contrast (a per-gene statistic) the score is
compared with scores of the same weights on statistics drawn at random from all measured genes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["PATHWAYS", "PROGENY_TOP", "top_genes", "footprint_matrix", "footprint_scores", "progeny_scores",
           "permutation_scores"]

PATHWAYS = ("Androgen", "EGFR", "Estrogen", "Hypoxia", "JAK-STAT", "MAPK", "NFkB", "p53", "PI3K", "TGFb",
            "TNFa", "Trail", "VEGF", "WNT")
PROGENY_TOP = 100  # genes per pathway: the package default of progeny() and getModel()
_COLUMNS = ("gene", "pathway", "weight", "p_value")


def _check_model(model: pd.DataFrame) -> None:
    missing = [c for c in _COLUMNS if c not in model]
    if missing:
        raise InputError("PROGENy model", f"has no columns {missing}", fix=f"give a table with columns {list(_COLUMNS)}")


def top_genes(model: pd.DataFrame, top: int) -> pd.DataFrame:
    """The rows ``getModel`` keeps: per pathway, p-value min-rank <= ``top`` (ties at the cut kept).

    Examples
    --------
    >>> m = pd.DataFrame({"gene": list("abcd"), "pathway": "P", "weight": 1.0, "p_value": [0.1, 0.2, 0.2, 0.3]})
    >>> top_genes(m, 2)["gene"].tolist()  # b and c tie at the cut: dplyr::top_n keeps both
    ['a', 'b', 'c']
    """
    _check_model(model)
    if top < 1:
        raise InputError("top", f"must be at least 1, got {top}", fix="give a positive number of genes per pathway")
    rank = model.groupby("pathway", sort=False)["p_value"].rank(method="min")
    return model[rank.to_numpy() <= top]


def footprint_matrix(model: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """Genes x pathways weights of a PROGENy model (0 where a gene is not among a pathway's genes).

    ``top`` keeps each pathway's ``top`` genes of lowest p-value, ties included (:func:`top_genes`).

    Examples
    --------
    >>> m = pd.DataFrame({"gene": ["a", "b", "a", "b"], "pathway": ["P", "P", "Q", "Q"],
    ...                   "weight": [1.0, 2.0, 3.0, 4.0], "p_value": [0.1, 0.2, 0.3, 0.01]})
    >>> footprint_matrix(m, top=1).to_dict()
    {'P': {'a': 1.0, 'b': 0.0}, 'Q': {'a': 0.0, 'b': 4.0}}
    """
    if top is not None:
        model = top_genes(model, top)
    out = model.pivot_table(index="gene", columns="pathway", values="weight", aggfunc="first", fill_value=0.0)
    out.columns = out.columns.astype(str)
    return out.sort_index()


def footprint_scores(expression: np.ndarray, weights: np.ndarray, *, scale: bool = True) -> np.ndarray:
    """Samples x genes expression times genes x pathways weights; with ``scale``, each pathway's
    column standardised across samples (ddof 1; a constant column becomes 0), as ``progeny(scale=TRUE)``.

    Examples
    --------
    >>> footprint_scores(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]), np.array([[1.0], [-1.0]])).ravel().tolist()
    [1.0, -1.0, 0.0]
    """
    raw = np.asarray(expression, dtype=np.float64) @ np.asarray(weights, dtype=np.float64)
    if not scale or raw.shape[0] < 2:  # R scales only when there is more than one sample
        return raw
    sd = raw.std(axis=0, ddof=1)
    return (raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def progeny_scores(expression: pd.DataFrame, model: pd.DataFrame, *, top: int = PROGENY_TOP, scale: bool = True) -> pd.DataFrame:
    """``progeny(expr, scale=, top=)`` of the R package: genes x samples in, samples x pathways out.

    Examples
    --------
    >>> m = pd.DataFrame({"gene": ["a", "b", "c"], "pathway": "P", "weight": [1.0, -1.0, 5.0], "p_value": [0.1, 0.2, 0.9]})
    >>> x = pd.DataFrame({"s1": [1.0, 0.0], "s2": [0.0, 1.0], "s3": [2.0, 2.0]}, index=["a", "b"])
    >>> progeny_scores(x, m, top=2)["P"].tolist()
    [1.0, -1.0, 0.0]
    """
    weights = footprint_matrix(model, top=top)
    expression = expression[~expression.index.duplicated()]  # R's expr[genes, ] takes a name's first row
    common = expression.index.intersection(weights.index, sort=False)
    if len(common) == 0:
        raise InputError("expression", "shares no gene with the PROGENy model",
                         fix="give HGNC (human) or MGI (mouse) gene symbols as row names")
    scores = footprint_scores(expression.loc[common].T.to_numpy(np.float64), weights.loc[common].to_numpy(), scale=scale)
    return pd.DataFrame(scores, index=expression.columns, columns=weights.columns)


def permutation_scores(statistic: pd.Series, weights: pd.DataFrame, *, n_perm: int = 1000,
                       random_state: int = 0) -> pd.DataFrame:
    """``progenyPerm``: one contrast's footprint scores against a gene-sampling null.

    ``statistic`` is a per-gene value (e.g. a t statistic) indexed by gene; ``weights`` is genes x
    pathways (:func:`footprint_matrix`). The null draws, ``n_perm`` times, as many statistics as
    there are shared genes from *all* measured genes (without replacement), as the R function does.
    Returns per pathway ``score`` (``stat @ weights``), ``z`` ((score - null mean) / null sd) and a
    two-sided empirical ``p_value`` ((1 + #|null - mean| >= |score - mean|) / (n_perm + 1)).

    Examples
    --------
    >>> w = pd.DataFrame({"P": [1.0, 1.0, 0.0]}, index=["a", "b", "c"])
    >>> s = pd.Series([3.0, 2.0, -1.0, 0.0, 0.5, -0.5], index=list("abcdef"))
    >>> out = permutation_scores(s, w, n_perm=200)
    >>> float(out.loc["P", "score"]), round(float(out.loc["P", "z"]), 2)
    (5.0, 2.12)
    """
    statistic = statistic[~statistic.index.duplicated()].dropna()
    common = statistic.index.intersection(weights.index, sort=False)
    if len(common) == 0:
        raise InputError("statistic", "shares no gene with the footprint weights", fix="give gene symbols")
    w = weights.loc[common].to_numpy(np.float64)
    score = statistic.loc[common].to_numpy(np.float64) @ w
    rng = np.random.default_rng(random_state)
    values = statistic.to_numpy(np.float64)
    # one permutation per row; the first len(common) values of each are a draw without replacement
    draws = np.argsort(rng.random((n_perm, len(values))), axis=1)[:, : len(common)]
    null = values[draws] @ w
    mean, sd = null.mean(axis=0), null.std(axis=0, ddof=1)
    z = (score - mean) / np.where(sd > 0, sd, 1.0)
    extreme = (np.abs(null - mean) >= np.abs(score - mean)).sum(axis=0)
    return pd.DataFrame({"score": score, "z": z, "p_value": (1 + extreme) / (n_perm + 1)}, index=weights.columns)
