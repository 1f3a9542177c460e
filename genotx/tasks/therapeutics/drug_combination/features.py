"""drug_combination features: each drug's structure and each cell line's genomic profile, looked up per
distinct entity, and two featurizers of a (drug A, drug B, cell line) row.

Input rows (a DataFrame): ``smiles_a``, ``smiles_b`` (drug structures) and ``cell_line`` (a GDSC2 key);
drug names are not read, so every row is featurized from its own structures.

* :func:`drug_table`: per distinct SMILES, Morgan bits (radius 2, 1,024 bits: ``fp_*``) and RDKit 2-D
  descriptors (``desc_*``), cached on disk by content;
* :class:`PairFeaturizer`: ``fit`` learns, on the training rows only, a compact drug vector ``u``
  (whitened principal components of the Morgan bits present in >= 2 training drugs, and of the
  standardised descriptors) and a cell vector (principal components of the mutation/CNV profile,
  mutation calls of genes altered in >= ``min_frequency`` of the training cell lines, mutation /
  copy-number gain / loss of the :data:`CANCER_GENES` panel, tissue); ``transform`` gives either
  features **invariant to drug order** (``symmetric=True``: ``u_a + u_b``, ``|u_a - u_b|`` and every
  symmetrised product ``(u_a,k u_b,l + u_a,l u_b,k) / 2``, so bilinear pair effects are in reach,
  beside the cell vector) or the ordered concatenation ``[u_a, u_b, cell]`` (DeepSynergy's layout);
* :func:`swap_drugs`: the same rows with drug A and drug B exchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from genotx.data.cache import cached_array
from genotx.errors import InputError
from genotx.featurize.descriptors import descriptor_names, rdkit_descriptors
from genotx.featurize.molecule import morgan_fingerprints
from genotx.tasks.therapeutics.drug_combination.io import cell_table

__all__ = ["MORGAN_BITS", "CANCER_GENES", "drug_table", "cell_profiles", "PairFeaturizer", "swap_drugs", "COLUMNS"]

MORGAN_BITS = 1024
#: canonical cancer genes (oncogenes and tumour suppressors of targeted sequencing panels); a cell
#: vector carries each one's mutation, copy-number gain and loss where the GDSC2 profiles have the gene
CANCER_GENES = (
    "TP53 PTEN RB1 CDKN2A CDKN2B MYC MYCN MYCL EGFR ERBB2 ERBB3 MDM2 MDM4 CCND1 CCND2 CCND3 CCNE1 CDK4 CDK6 KRAS NRAS "
    "HRAS BRAF PIK3CA PIK3R1 AKT1 AKT2 AKT3 MTOR TSC1 TSC2 STK11 KEAP1 NFE2L2 NF1 NF2 APC CTNNB1 SMAD4 SMAD2 SMAD3 "
    "TGFBR2 ARID1A ARID1B ARID2 SMARCA4 SMARCB1 PBRM1 BAP1 KMT2A KMT2C KMT2D KDM6A CREBBP EP300 ATM ATR BRCA1 BRCA2 "
    "PALB2 CHEK2 MLH1 MSH2 MSH6 PMS2 POLE FBXW7 NOTCH1 NOTCH2 NOTCH3 FGFR1 FGFR2 FGFR3 MET ALK ROS1 RET KIT PDGFRA "
    "JAK2 IDH1 IDH2 DNMT3A TET2 ASXL1 EZH2 SETD2 VHL WT1 GATA3 FOXA1 ESR1 AR SOX2 SOX9 TERT BCL2 MCL1 CASP8 B2M FAT1 "
    "LRP1B PTPRD"
).split()
COLUMNS = ("smiles_a", "smiles_b", "cell_line")
_SWAP = {"drug_a": "drug_b", "drug_b": "drug_a", "smiles_a": "smiles_b", "smiles_b": "smiles_a"}


def _require(X, where: str) -> None:
    missing = [c for c in COLUMNS if c not in getattr(X, "columns", ())]
    if missing:
        raise InputError(where, f"input rows lack columns {missing}", fix=f"pass a DataFrame with columns {list(COLUMNS)}")


def swap_drugs(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with drug A and drug B exchanged (names and structures).

    >>> swap_drugs(pd.DataFrame({"smiles_a": ["C"], "smiles_b": ["CC"], "cell_line": ["X"]})).to_dict("records")
    [{'smiles_a': 'CC', 'smiles_b': 'C', 'cell_line': 'X'}]
    """
    return frame.rename(columns={k: v for k, v in _SWAP.items() if k in frame})[list(frame.columns)]


def drug_table(smiles: list[str]) -> pd.DataFrame:
    """Morgan bits (``fp_*``) and RDKit descriptors (``desc_*``) of each distinct SMILES (index)."""
    smiles = list(dict.fromkeys(smiles))
    fp = cached_array(("morgan_bits", 2, MORGAN_BITS, tuple(smiles)), lambda: morgan_fingerprints(smiles, n_bits=MORGAN_BITS))
    desc = cached_array(("rdkit_descriptors", tuple(smiles)), lambda: rdkit_descriptors(smiles))
    columns = [f"fp_{i}" for i in range(MORGAN_BITS)] + [f"desc_{n}" for n in descriptor_names()]
    return pd.DataFrame(np.hstack([fp.astype(np.float32), desc]), index=smiles, columns=columns)


def cell_profiles(cells: pd.Index) -> pd.DataFrame:
    """GDSC2 mutation/CNV/tissue profile of each of ``cells`` (one row each; unknown cells all zero)."""
    return cell_table().reindex(cells).fillna(0)


def _panel(cells: pd.DataFrame) -> pd.DataFrame:
    """0/1 ``<gene>_mut``, ``<gene>_gain``, ``<gene>_loss`` of the :data:`CANCER_GENES` a profile table has."""
    out = {}
    for gene in CANCER_GENES:
        if f"mut_{gene}" in cells:
            out[f"{gene}_mut"] = cells[f"mut_{gene}"].to_numpy() == 1
        if f"cnv_{gene}" in cells:
            out[f"{gene}_gain"] = cells[f"cnv_{gene}"].to_numpy() == 1
            out[f"{gene}_loss"] = cells[f"cnv_{gene}"].to_numpy() == -1
    return pd.DataFrame(out, index=cells.index, dtype=np.int8)


class PairFeaturizer(TransformerMixin, BaseEstimator):
    """(drug A, drug B, cell line) rows -> numeric features (see the module docstring).

    Examples
    --------
    >>> cells = lambda idx: pd.DataFrame({"mut_A": [0, 1, 1], "cnv_B": [1, -1, 0]}, index=["c1", "c2", "c3"]).reindex(idx)
    >>> X = pd.DataFrame({"smiles_a": ["CCO", "c1ccccc1", "CCN"], "smiles_b": ["CCN", "CCO", "c1ccccc1"],
    ...                   "cell_line": ["c1", "c2", "c3"]})
    >>> f = PairFeaturizer(cell_features=cells, fingerprint_components=1, descriptor_components=1, cell_components=1).fit(X)
    >>> Z = f.transform(X)
    >>> bool(np.allclose(Z, f.transform(swap_drugs(X)))), Z.shape[0]
    (True, 3)
    """

    def __init__(self, *, symmetric: bool = True, fingerprint_components: int = 4, descriptor_components: int = 8,
                 cell_components: int = 16, min_frequency: float = 0.25,
                 cell_features: Callable[[pd.Index], pd.DataFrame] | None = None, random_state: int = 0) -> None:
        self.symmetric = symmetric
        self.fingerprint_components = fingerprint_components
        self.descriptor_components = descriptor_components
        self.cell_components = cell_components
        self.min_frequency = min_frequency
        self.cell_features = cell_features
        self.random_state = random_state

    def _cells_of(self, cells: pd.Index) -> pd.DataFrame:
        return (self.cell_features or cell_profiles)(cells)

    def fit(self, X, y=None):  # noqa: ARG002 - unsupervised
        _require(X, type(self).__name__)
        smiles = pd.unique(pd.concat([X["smiles_a"], X["smiles_b"]]))
        table = drug_table(list(smiles))
        fp = table.filter(regex="^fp_")
        counts = (fp > 0).sum(axis=0)
        self.fp_columns_ = fp.columns[(counts >= 2).to_numpy() & (counts < len(fp)).to_numpy()]
        desc = table.filter(regex="^desc_")
        desc = desc.loc[:, desc.std().fillna(0).to_numpy() > 0]
        self.desc_columns_ = desc.columns
        self.desc_fill_ = desc.median()
        filled = np.arcsinh(desc.fillna(self.desc_fill_))  # heavy-tailed descriptors (weights, counts): tame the tails
        self.desc_mean_, self.desc_scale_ = filled.mean(), filled.std().replace(0, 1.0) + 1e-6
        fp_values, desc_values = self._drug_values(table)
        self.drug_pcas_ = [self._pca(v, k) for v, k in ((fp_values, self.fingerprint_components),
                                                         (desc_values, self.descriptor_components))]
        cells = self._cells_of(pd.Index(pd.unique(X["cell_line"])))
        mutation = cells.filter(regex="^mut_")
        frequency = mutation.mean()
        self.mutation_columns_ = mutation.columns[((frequency >= self.min_frequency) & (frequency <= 1 - self.min_frequency)).to_numpy()]
        panel = _panel(cells)
        self.panel_columns_ = panel.columns[(panel.std() > 0).to_numpy()]
        self.tissue_columns_ = cells.filter(regex="^tissue_").columns
        profile = cells.filter(regex="^(mut|cnv)_")
        varied = profile.std().to_numpy() > 0
        self.profile_columns_ = profile.columns[varied]
        z = profile.loc[:, varied].to_numpy(np.float64)
        self.profile_mean_, self.profile_scale_ = z.mean(axis=0), z.std(axis=0)
        n = max(1, min(self.cell_components, len(z) - 1, z.shape[1]))
        self.cell_pca_ = PCA(n, random_state=self.random_state).fit((z - self.profile_mean_) / self.profile_scale_)
        return self

    def _pca(self, values: np.ndarray, k: int) -> PCA | None:
        n = min(k, len(values) - 1, values.shape[1])
        return PCA(n, whiten=True, random_state=self.random_state).fit(values) if n >= 1 else None

    def _drug_values(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        fp = (table.reindex(columns=self.fp_columns_).fillna(0) > 0).to_numpy(np.float32)
        desc = np.arcsinh(table.reindex(columns=self.desc_columns_).fillna(self.desc_fill_))
        desc = np.clip(((desc - self.desc_mean_) / self.desc_scale_).to_numpy(np.float32), -5, 5)
        return fp, desc

    def drug_vectors(self, smiles: list[str]) -> np.ndarray:
        """The fitted drug vector of each SMILES: whitened principal components of its fingerprint and
        of its descriptors."""
        check_is_fitted(self, "drug_pcas_")
        values = self._drug_values(drug_table(smiles))
        parts = [pca.transform(v) for pca, v in zip(self.drug_pcas_, values) if pca is not None]
        return np.hstack(parts) if parts else np.zeros((len(smiles), 0))

    def cell_vectors(self, cells: pd.Index) -> np.ndarray:
        """The fitted cell vector of each cell line: frequent mutations, profile components, tissue."""
        check_is_fitted(self, "cell_pca_")
        table = self._cells_of(cells)
        profile = table.reindex(columns=self.profile_columns_).fillna(0).to_numpy(np.float64)
        components = self.cell_pca_.transform((profile - self.profile_mean_) / self.profile_scale_)
        mutations = table.reindex(columns=self.mutation_columns_).fillna(0).to_numpy(np.float64)
        tissue = table.reindex(columns=self.tissue_columns_).fillna(0).to_numpy(np.float64)
        panel = _panel(table).reindex(columns=self.panel_columns_).fillna(0).to_numpy(np.float64)
        return np.hstack([components / np.sqrt(self.cell_pca_.explained_variance_ + 1e-6), mutations, panel, tissue])

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "drug_pcas_")
        _require(X, type(self).__name__)
        codes, smiles = pd.factorize(pd.concat([X["smiles_a"], X["smiles_b"]], ignore_index=True))
        drugs = self.drug_vectors(list(smiles))
        ua, ub = drugs[codes[: len(X)]], drugs[codes[len(X):]]
        cell_codes, cells = pd.factorize(X["cell_line"])
        cell = self.cell_vectors(pd.Index(cells))[cell_codes]
        if self.symmetric:
            upper = np.triu_indices(ua.shape[1])  # every product u_a,k u_b,l + u_a,l u_b,k: bilinear forms in reach
            outer = (ua[:, :, None] * ub[:, None, :] + ub[:, :, None] * ua[:, None, :])[:, upper[0], upper[1]] / 2
            return np.hstack([ua + ub, np.abs(ua - ub), outer, cell]).astype(np.float32)
        return np.hstack([ua, ub, cell]).astype(np.float32)
