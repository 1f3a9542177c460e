"""Pairwise response models: a (cell line x drug) response matrix, its features, and its floor.

Inputs are DataFrames with one row per pair and columns ``cell_line`` and ``drug`` (plus whatever the
side-information callables need). Side information comes from two callables given at construction:

* ``cell_features(frame) -> DataFrame``: one row per distinct ``cell_line`` of ``frame`` (index =
  the cell-line key), numeric columns named ``<block>_<feature>`` (e.g. ``mut_BRAF``, ``cnv_MYC``,
  ``tissue_lung``); blocks are compared separately.
* ``drug_features(frame) -> DataFrame | None``: one row per distinct ``drug`` (index = drug name),
  columns ``fp_<bit>`` (Morgan counts) and ``desc_<name>`` (RDKit descriptors); ``None`` when only
  the drug's identity is known.

Everything learned from responses (per-drug means and spreads, per-cell offsets, the low-rank
completion) is fitted inside ``fit`` on the training pairs only, so a cross-validation fold never sees
its test responses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from genotx.errors import InputError
from genotx.featurize.descriptors import minmax_similarity

__all__ = ["GroupMeanRegressor", "ResponseMatrixRegressor", "PairFeaturizer", "soft_impute", "mlp_network"]

CellFn = Callable[[pd.DataFrame], pd.DataFrame]
DrugFn = Callable[[pd.DataFrame], "pd.DataFrame | None"]


def _require_columns(X, columns: tuple[str, ...], who: str) -> None:
    missing = [c for c in columns if not isinstance(X, pd.DataFrame) or c not in X]
    if missing:
        found = list(X.columns) if isinstance(X, pd.DataFrame) else type(X).__name__
        raise InputError(who, f"needs a DataFrame with columns {list(columns)}; missing {missing} (got {found})",
                         fix="pass the task's inputs (cell_line, drug, ...)")


class GroupMeanRegressor(RegressorMixin, BaseEstimator):
    """Predict the training mean of the row's group (e.g. per-drug mean); unseen groups get the global mean.

    Examples
    --------
    >>> X = pd.DataFrame({"drug": ["a", "a", "b"]})
    >>> GroupMeanRegressor(group="drug").fit(X, [1.0, 3.0, 5.0]).predict(pd.DataFrame({"drug": ["a", "c"]})).tolist()
    [2.0, 3.0]
    """

    def __init__(self, *, group: str = "drug") -> None:
        self.group = group

    def fit(self, X, y):
        _require_columns(X, (self.group,), type(self).__name__)
        y = np.asarray(y, dtype=float)
        self.means_ = pd.Series(y).groupby(X[self.group].to_numpy()).mean()
        self.global_mean_ = float(y.mean())
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "means_")
        _require_columns(X, (self.group,), type(self).__name__)
        return X[self.group].map(self.means_).fillna(self.global_mean_).to_numpy(float)


def soft_impute(values: np.ndarray, *, rank: int, n_iter: int = 60) -> np.ndarray:
    """Rank-``rank`` completion of a matrix with NaNs (hard impute: iterated truncated SVD).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> full = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 12))
    >>> holey = np.where(rng.random(full.shape) < 0.2, np.nan, full)
    >>> float(np.abs(soft_impute(holey, rank=2, n_iter=200) - full).max()) < 0.05
    True
    """
    observed = ~np.isnan(values)
    current = np.where(observed, values, 0.0)
    rank = max(1, min(rank, *values.shape))
    low = current
    wide = values.shape[0] < values.shape[1]
    for _ in range(n_iter):
        # the top singular subspace from the eigenvectors of the small Gram matrix: much faster than a
        # full SVD on a busy machine, and the same projection
        gram = current @ current.T if wide else current.T @ current
        _, vectors = np.linalg.eigh(gram)
        top = vectors[:, -rank:]
        low = top @ (top.T @ current) if wide else (current @ top) @ top.T
        current = np.where(observed, values, low)
    return low


def _blocks(columns: pd.Index) -> dict[str, np.ndarray]:
    prefix = columns.str.split("_", n=1).str[0]
    return {b: np.flatnonzero(prefix == b) for b in pd.unique(prefix)}


def _informative(table: np.ndarray, min_frequency: float) -> np.ndarray:
    """Columns whose most common value leaves at least ``min_frequency`` of rows with another value.

    Tables of a few discrete values (mutation/CNV calls, one-hot) are checked value by value;
    continuous tables keep every non-constant column.
    """
    values = np.nan_to_num(table, nan=0.0)
    distinct = np.unique(values)
    if len(distinct) > 16:
        return values.std(axis=0) > 0
    share = np.zeros(values.shape[1])
    for value in distinct:
        share = np.maximum(share, (values == value).mean(axis=0))
    return (1.0 - share) >= min_frequency


def _knn_weights(similarity: np.ndarray, k: int, power: float) -> np.ndarray:
    """Row-normalised weights on each row's ``k`` most similar columns (similarity ** power)."""
    k = max(1, min(k, similarity.shape[1]))
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weights = np.zeros_like(similarity)
    values = np.clip(np.take_along_axis(similarity, top, axis=1), 0.0, None) ** power + 1e-9
    np.put_along_axis(weights, top, values, axis=1)
    return weights / weights.sum(axis=1, keepdims=True)


class _CellSimilarity:
    """Standardised per-block cosine similarity of cell-line profiles, weighted across blocks."""

    def __init__(self, table: pd.DataFrame, weights: dict[str, float] | None, min_frequency: float) -> None:
        values = table.to_numpy(np.float64)
        values = np.nan_to_num(values, nan=0.0)
        keep = _informative(values, min_frequency)
        self.columns = table.columns[keep]
        values = values[:, keep]
        self.mean, self.scale = values.mean(axis=0), values.std(axis=0) + 1e-3
        self.blocks = _blocks(self.columns)
        self.weights = {b: (weights or {}).get(b, 1.0) for b in self.blocks}
        self.train = self._normalised(values)

    def _normalised(self, values: np.ndarray) -> dict[str, np.ndarray]:
        z = (values - self.mean) / self.scale
        out = {}
        for block, idx in self.blocks.items():
            part = z[:, idx]
            out[block] = part / (np.linalg.norm(part, axis=1, keepdims=True) + 1e-9)
        return out

    def to_train(self, table: pd.DataFrame) -> np.ndarray:
        values = np.nan_to_num(table.reindex(columns=self.columns).to_numpy(np.float64), nan=0.0)
        query = self._normalised(values)
        total = sum(self.weights.values()) or 1.0
        return sum(self.weights[b] * (query[b] @ self.train[b].T) for b in self.blocks) / total


class _DescriptorSpace:
    """Cosine similarity of drugs' RDKit descriptors: signed log scale, standardised on training drugs."""

    def __init__(self, table: pd.DataFrame) -> None:
        values = self._log(table)
        some = ~np.isnan(values).all(axis=0)  # a descriptor RDKit never computed stays 0 (then dropped)
        self.fill = np.zeros(values.shape[1])
        self.fill[some] = np.nanmedian(values[:, some], axis=0)
        values = np.where(np.isnan(values), self.fill, values)
        self.mean, scale = np.nan_to_num(values.mean(axis=0)), np.nan_to_num(values.std(axis=0))
        self.keep = scale > 1e-6
        self.scale = np.where(self.keep, scale, 1.0)
        self.columns = table.columns
        self.train = self.unit(table)

    @staticmethod
    def _log(table: pd.DataFrame) -> np.ndarray:
        values = table.to_numpy(np.float64)
        return np.sign(values) * np.log1p(np.abs(values))

    def unit(self, table: pd.DataFrame) -> np.ndarray:
        values = self._log(table.reindex(columns=self.columns))
        values = np.where(np.isnan(values), self.fill, values)
        z = np.nan_to_num(((values - self.mean) / self.scale)[:, self.keep])
        return z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-9)

    def to_train(self, table: pd.DataFrame) -> np.ndarray:
        return self.unit(table) @ self.train.T


class ResponseMatrixRegressor(RegressorMixin, BaseEstimator):
    """Low-rank completion of the standardised (cell line x drug) matrix, extended by similarity.

    ``fit`` builds the training matrix of responses, standardises each drug's column (training mean
    and spread), takes each cell line's mean standardised residual (its overall sensitivity) and
    completes the rest at rank ``rank``. ``predict`` for a pair (c, d):

    * seen cell line: its completed row; unseen: the similarity-weighted mean of the completed rows
      of its ``cell_neighbours`` most similar training cell lines (genomic profile blocks);
    * seen drug: its column, mean and spread; unseen: a weighted mean (weights similarity **
      ``drug_power``) over its ``drug_neighbours`` most similar training drugs for the column, spread
      and mean. Drug similarity is min-max similarity of Morgan counts, mixed with weight
      ``descriptor_weight`` with the cosine of standardised signed-log RDKit descriptors; with
      ``mean_model_weight > 0`` the mean is blended with an extra-trees regression on the descriptors
      (global values when drugs have no structure).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cells, drugs = np.repeat(np.arange(20), 6).astype(str), np.tile(np.arange(6), 20).astype(str)
    >>> y = drugs.astype(float) + rng.normal(size=120)
    >>> X = pd.DataFrame({"cell_line": cells, "drug": drugs})
    >>> model = ResponseMatrixRegressor(rank=2).fit(X, y)
    >>> float(np.corrcoef(model.predict(X), y)[0, 1]) > 0.8
    True
    """

    def __init__(
        self,
        *,
        cell_features: CellFn | None = None,
        drug_features: DrugFn | None = None,
        rank: int = 16,
        n_iter: int = 60,
        cell_neighbours: int = 50,
        cell_power: float = 1.0,
        block_weights: dict[str, float] | None = None,
        drug_neighbours: int = 30,
        drug_power: float = 3.0,
        descriptor_weight: float = 0.0,
        mean_model_weight: float = 0.5,
        min_frequency: float = 0.02,
        n_estimators: int = 300,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.cell_features = cell_features
        self.drug_features = drug_features
        self.rank = rank
        self.n_iter = n_iter
        self.cell_neighbours = cell_neighbours
        self.cell_power = cell_power
        self.block_weights = block_weights
        self.drug_neighbours = drug_neighbours
        self.drug_power = drug_power
        self.descriptor_weight = descriptor_weight
        self.mean_model_weight = mean_model_weight
        self.min_frequency = min_frequency
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X, y):
        _require_columns(X, ("cell_line", "drug"), type(self).__name__)
        y = np.asarray(y, dtype=float)
        cell_codes, cells = pd.factorize(X["cell_line"], sort=True)
        drug_codes, drugs = pd.factorize(X["drug"], sort=True)
        total = np.zeros((len(cells), len(drugs)))
        count = np.zeros_like(total)
        np.add.at(total, (cell_codes, drug_codes), y)
        np.add.at(count, (cell_codes, drug_codes), 1.0)
        matrix = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(matrix, axis=0)
            spread = np.nanstd(matrix, axis=0)
        spread = np.maximum(np.nan_to_num(spread, nan=0.0), max(np.nanmedian(spread) * 0.2, 1e-3))
        z = (matrix - mean) / spread
        offset = np.nan_to_num(np.nanmean(z, axis=1), nan=0.0)
        with threadpool_limits(limits=1):  # small matrices: BLAS threads only spin on a busy machine
            low = soft_impute(z - offset[:, None], rank=self.rank, n_iter=self.n_iter)
        self.cells_, self.drugs_ = pd.Index(cells), pd.Index(drugs)
        self.completed_ = (offset[:, None] + low).astype(np.float32)
        self.drug_mean_, self.drug_spread_ = mean, spread
        self.global_mean_, self.global_spread_ = float(np.mean(mean)), float(np.mean(spread))
        self._fit_cells(X)
        self._fit_drugs(X)
        return self

    def _fit_cells(self, X) -> None:
        self.cell_similarity_ = None
        if self.cell_features is not None:
            table = self.cell_features(X.drop_duplicates("cell_line")).reindex(self.cells_)
            self.cell_similarity_ = _CellSimilarity(table, self.block_weights, self.min_frequency)

    def _fit_drugs(self, X) -> None:
        self.drug_fp_ = self.drug_model_ = self.drug_desc_ = None
        table = self.drug_features(X.drop_duplicates("drug")) if self.drug_features is not None else None
        if table is None:
            return
        table = table.reindex(self.drugs_)
        fp = table.filter(regex="^fp_")
        self.fp_columns_ = fp.columns
        self.drug_fp_ = fp.to_numpy(np.float32)
        desc = table.filter(regex="^desc_")
        if desc.shape[1] and self.descriptor_weight > 0:
            self.drug_desc_ = _DescriptorSpace(desc)
        if desc.shape[1] and len(self.drugs_) >= 5 and self.mean_model_weight > 0:
            self.desc_columns_ = desc.columns
            self.desc_fill_ = desc.median().fillna(0.0)
            self.drug_model_ = ExtraTreesRegressor(
                n_estimators=self.n_estimators, min_samples_leaf=2, max_features=0.3,
                random_state=self.random_state, n_jobs=self.n_jobs,
            ).fit(desc.fillna(self.desc_fill_).to_numpy(np.float32), self.drug_mean_)

    # -- predict -------------------------------------------------------------------------------
    def _cell_rows(self, X, cells: pd.Index) -> np.ndarray:
        """Completed standardised rows (over training drugs) for each of ``cells``."""
        pos = self.cells_.get_indexer(cells)
        rows = np.empty((len(cells), len(self.drugs_)), dtype=np.float32)
        seen = pos >= 0
        rows[seen] = self.completed_[pos[seen]]
        if (~seen).any():
            if self.cell_similarity_ is None:
                rows[~seen] = self.completed_.mean(axis=0)
            else:
                new = cells[~seen]
                frame = X.drop_duplicates("cell_line").set_index("cell_line", drop=False).loc[new].reset_index(drop=True)
                table = self.cell_features(frame).reindex(new)
                weights = _knn_weights(self.cell_similarity_.to_train(table), self.cell_neighbours, self.cell_power)
                rows[~seen] = weights @ self.completed_
        return rows

    def _drug_columns(self, X, drugs: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights over training drugs, mean and spread for each of ``drugs``."""
        pos = self.drugs_.get_indexer(drugs)
        seen = pos >= 0
        weights = np.zeros((len(drugs), len(self.drugs_)))
        weights[np.flatnonzero(seen), pos[seen]] = 1.0
        mean = np.where(seen, self.drug_mean_[np.maximum(pos, 0)], self.global_mean_)
        spread = np.where(seen, self.drug_spread_[np.maximum(pos, 0)], self.global_spread_)
        if (~seen).any():
            new = drugs[~seen]
            table = None
            if self.drug_fp_ is not None:
                frame = X.drop_duplicates("drug").set_index("drug", drop=False).loc[new].reset_index(drop=True)
                table = self.drug_features(frame)
            if table is None:
                weights[~seen] = 1.0 / len(self.drugs_)
            else:
                table = table.reindex(new)
                fp = table.reindex(columns=self.fp_columns_).fillna(0.0).to_numpy(np.float32)
                similarity = minmax_similarity(fp, self.drug_fp_)
                if self.drug_desc_ is not None:
                    by_desc = self.drug_desc_.to_train(table.reindex(columns=self.drug_desc_.columns))
                    similarity = (1 - self.descriptor_weight) * similarity + self.descriptor_weight * by_desc
                w = _knn_weights(similarity, self.drug_neighbours, self.drug_power)
                weights[~seen] = w
                knn_mean = w @ self.drug_mean_
                spread[~seen] = w @ self.drug_spread_
                if self.drug_model_ is not None:
                    desc = table.reindex(columns=self.desc_columns_).fillna(self.desc_fill_).to_numpy(np.float32)
                    knn_mean = (1 - self.mean_model_weight) * knn_mean + self.mean_model_weight * self.drug_model_.predict(desc)
                mean[~seen] = knn_mean
        return weights, mean, spread

    def _parts(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the drug's (estimated) mean and spread, and the standardised cell effect."""
        cell_codes, cells = pd.factorize(X["cell_line"])
        drug_codes, drugs = pd.factorize(X["drug"])
        rows = self._cell_rows(X, pd.Index(cells))
        weights, mean, spread = self._drug_columns(X, pd.Index(drugs))
        z = rows.astype(np.float64) @ weights.T  # (distinct cells x distinct drugs)
        return mean[drug_codes], spread[drug_codes], z[cell_codes, drug_codes]

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "completed_")
        _require_columns(X, ("cell_line", "drug"), type(self).__name__)
        mean, spread, z = self._parts(X)
        return mean + spread * z


class PairFeaturizer(TransformerMixin, BaseEstimator):
    """(cell line, drug) -> [cell profile features | drug features], via per-entity lookup tables.

    ``fit`` chooses informative profile columns on the training cell lines (and optionally a PCA of
    them), the Morgan bits present in the training drugs and descriptor scaling; ``transform``
    gathers the rows of those tables by code (no per-row work). Drugs without structure are one-hot
    encoded by identity (unseen drugs: all zeros).

    Examples
    --------
    >>> cells = lambda f: pd.DataFrame({"mut_A": [0, 1], "mut_B": [1, 1]}, index=["c1", "c2"]).loc[f["cell_line"].unique()]
    >>> X = pd.DataFrame({"cell_line": ["c1", "c2", "c1"], "drug": ["x", "x", "y"]})
    >>> PairFeaturizer(cell_features=cells, min_frequency=0.1).fit_transform(X).round(2).tolist()
    [[-1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]]
    """

    def __init__(
        self,
        *,
        cell_features: CellFn | None = None,
        drug_features: DrugFn | None = None,
        min_frequency: float = 0.02,
        cell_components: int | None = None,
        keep_blocks: tuple[str, ...] = (),
        drug_components: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.cell_features = cell_features
        self.drug_features = drug_features
        self.min_frequency = min_frequency
        self.cell_components = cell_components
        self.keep_blocks = keep_blocks
        self.drug_components = drug_components
        self.random_state = random_state

    def fit(self, X, y=None):  # noqa: ARG002 - unsupervised
        _require_columns(X, ("cell_line", "drug"), type(self).__name__)
        table = self.cell_features(X.drop_duplicates("cell_line"))
        values = np.nan_to_num(table.to_numpy(np.float64), nan=0.0)
        keep = _informative(values, self.min_frequency)
        self.cell_columns_ = table.columns[keep]
        values = values[:, keep]
        self.cell_mean_, self.cell_scale_ = values.mean(axis=0), values.std(axis=0) + 1e-3
        self.cell_pca_ = None
        if self.cell_components and self.cell_components < values.shape[1]:
            n = min(self.cell_components, len(values) - 1)
            self.cell_pca_ = PCA(n, random_state=self.random_state).fit((values - self.cell_mean_) / self.cell_scale_)
        drugs = X.drop_duplicates("drug")
        dtable = self.drug_features(drugs) if self.drug_features is not None else None
        self.drug_identity_ = None
        if dtable is None:
            self.drug_identity_ = pd.Index(sorted(drugs["drug"].unique()))
        else:
            fp = (dtable.filter(regex="^fp_") > 0).astype(np.float32)
            present = fp.sum(axis=0) >= max(2, self.min_frequency * len(fp))
            self.fp_columns_ = fp.columns[present.to_numpy()]
            desc = dtable.filter(regex="^desc_")
            self.desc_columns_ = desc.columns[desc.std().fillna(0).to_numpy() > 0]
            desc = desc[self.desc_columns_]
            self.desc_fill_ = desc.median().fillna(0.0)
            self.desc_mean_ = desc.fillna(self.desc_fill_).mean()
            self.desc_scale_ = desc.fillna(self.desc_fill_).std().fillna(1.0) + 1e-6
            self.drug_pca_ = None
            if self.drug_components:
                drug_values = self._drug_values(dtable)
                n = min(self.drug_components, len(drug_values) - 1, drug_values.shape[1])
                self.drug_pca_ = PCA(n, random_state=self.random_state).fit(drug_values)
        return self

    def _drug_values(self, dtable: pd.DataFrame) -> np.ndarray:
        fp = (dtable.reindex(columns=self.fp_columns_).fillna(0) > 0).to_numpy(np.float32)
        desc = dtable.reindex(columns=self.desc_columns_).fillna(self.desc_fill_)
        desc = np.clip(((desc - self.desc_mean_) / self.desc_scale_).to_numpy(np.float32), -10, 10)
        return np.hstack([fp, desc])

    def _cells(self, X) -> tuple[np.ndarray, np.ndarray]:
        codes, cells = pd.factorize(X["cell_line"])
        first = X.iloc[np.unique(codes, return_index=True)[1]]
        table = self.cell_features(first).reindex(cells)
        values = np.nan_to_num(table.reindex(columns=self.cell_columns_).to_numpy(np.float64), nan=0.0)
        z = (values - self.cell_mean_) / self.cell_scale_
        if self.cell_pca_ is not None:
            kept = [z[:, np.flatnonzero(self.cell_columns_.str.startswith(f"{b}_"))] for b in self.keep_blocks]
            z = np.hstack([self.cell_pca_.transform(z), *kept])
        return z.astype(np.float32), codes

    def _drugs(self, X) -> tuple[np.ndarray, np.ndarray]:
        codes, drugs = pd.factorize(X["drug"])
        if self.drug_identity_ is not None:
            onehot = np.zeros((len(drugs), len(self.drug_identity_)), dtype=np.float32)
            pos = self.drug_identity_.get_indexer(drugs)
            onehot[np.flatnonzero(pos >= 0), pos[pos >= 0]] = 1.0
            return onehot, codes
        first = X.iloc[np.unique(codes, return_index=True)[1]]
        values = self._drug_values(self.drug_features(first).reindex(drugs))
        if self.drug_pca_ is not None:
            values = self.drug_pca_.transform(values)
        return values.astype(np.float32), codes

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "cell_columns_")
        _require_columns(X, ("cell_line", "drug"), type(self).__name__)
        cell_table, cell_codes = self._cells(X)
        drug_table, drug_codes = self._drugs(X)
        return np.hstack([cell_table[cell_codes], drug_table[drug_codes]])


def mlp_network(shape: tuple[int, ...], n_outputs: int):
    """The ``mlp`` baseline's network (pair features -> 256 -> 64 -> 1); module-level so fitted models pickle."""
    from genotx.models.nets import mlp  # torch is imported only by the model that uses it

    return mlp(int(np.prod(shape)), n_outputs, hidden=(256, 64), dropout=0.1)
