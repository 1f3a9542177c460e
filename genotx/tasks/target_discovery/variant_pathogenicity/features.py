"""Protein variants of one wild type (deep mutational scans): one-hot with stop codons, the wild
type as the per-position consensus, and mutation counts.

Stop codons: DMS libraries write a nonsense mutation as ``*``. :mod:`genotx.seq.codes`
accepts letters only, so ``*`` is encoded as a 21st letter: it is translated to :data:`STOP_LETTER`
(``J``, an IUPAC code that no measured protein uses) and one-hot encoded with
:data:`PROTEIN_STOP_ALPHABET`. ``X`` stays the all-zero "unknown residue" column.

Inputs are equal-length protein strings (a list, numpy array or pandas Series). Outputs:

* :func:`variant_one_hot` -> ``float32 (n, length * 21)`` (flattened N, L, C);
* :func:`consensus` -> ``str`` of the most frequent letter per position;
* :func:`mutation_counts` -> ``int64 (n,)`` positions differing from a reference;
* :func:`variant_strings` -> the protein strings of :func:`variant_indices` codes (the inverse).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError
from genotx.seq.codes import ALPHABETS, encode_indices, one_hot

__all__ = [
    "STOP_LETTER",
    "PROTEIN_STOP_ALPHABET",
    "variant_indices",
    "variant_one_hot",
    "consensus",
    "mutation_counts",
    "variant_strings",
    "MutationCounter",
]

STOP_LETTER = "J"
PROTEIN_STOP_ALPHABET = ALPHABETS["protein"] + STOP_LETTER


def _with_stop_letter(seqs: Sequence[str]) -> pd.Series:
    series = pd.Series(np.asarray(seqs, dtype=object)) if not isinstance(seqs, pd.Series) else seqs
    return series.str.replace("*", STOP_LETTER, regex=False)


def variant_indices(seqs: Sequence[str], *, name: str = "sequence") -> np.ndarray:
    """Letter indices ``uint8 (n, length)`` in :data:`PROTEIN_STOP_ALPHABET` (``*`` -> 20, X -> 21).

    Examples
    --------
    >>> variant_indices(["AC*", "ACX"]).tolist()
    [[0, 1, 20], [0, 1, 21]]
    """
    return encode_indices(_with_stop_letter(seqs).to_numpy(), alphabet=PROTEIN_STOP_ALPHABET, name=name)


def variant_strings(idx: np.ndarray) -> np.ndarray:
    """Protein strings from :func:`variant_indices` codes (vectorised through a fixed-width bytes view).

    Examples
    --------
    >>> variant_strings(variant_indices(["AC*", "ACX"])).tolist()
    ['AC*', 'ACX']
    """
    letters = np.frombuffer((PROTEIN_STOP_ALPHABET.replace(STOP_LETTER, "*") + "X").encode(), dtype=np.uint8)
    raw = np.ascontiguousarray(letters[idx])
    return raw.view(f"S{idx.shape[1]}").ravel().astype(str)


def variant_one_hot(frame: pd.DataFrame) -> np.ndarray:
    """Flattened one-hot ``float32 (n, length * 21)`` of ``frame['sequence']`` (``*`` is a letter).

    Examples
    --------
    >>> variant_one_hot(pd.DataFrame({"sequence": ["A*"]})).reshape(2, 21).argmax(axis=1).tolist()
    [0, 20]
    """
    seqs = _with_stop_letter(frame["sequence"]).to_numpy()
    hot = one_hot(seqs, alphabet=PROTEIN_STOP_ALPHABET, name="sequence", dtype=np.float32)
    return hot.reshape(len(frame), -1)


def consensus(seqs: Sequence[str]) -> str:
    """The most frequent letter at each position (ties: first in alphabet order).

    Examples
    --------
    >>> consensus(["MKV", "MRV", "AKV", "MK*"])
    'MKV'
    """
    idx = variant_indices(seqs).astype(np.int64)
    n, length = idx.shape
    if n == 0:
        raise InputError("sequence", "no sequences to take a consensus of", fix="pass at least one sequence")
    size = len(PROTEIN_STOP_ALPHABET) + 1
    counts = np.bincount((np.arange(length) * size + idx).ravel(), minlength=length * size).reshape(length, size)
    counts[:, -1] = -1  # never pick the unknown residue
    letters = np.array(list(PROTEIN_STOP_ALPHABET.replace(STOP_LETTER, "*")))
    return "".join(letters[counts.argmax(axis=1)])


def mutation_counts(seqs: Sequence[str], reference: str) -> np.ndarray:
    """Number of positions where each sequence differs from ``reference`` (vectorised).

    Examples
    --------
    >>> mutation_counts(["MKV", "MRV", "A*V"], "MKV").tolist()
    [0, 1, 2]
    """
    idx = variant_indices(seqs)
    ref = variant_indices([reference], name="reference")[0]
    if idx.shape[1] != len(ref):
        raise InputError(
            "sequence", f"sequences have length {idx.shape[1]}, the wild type has {len(ref)}",
            fix="give full-length variants of the same protein",
        )
    return (idx != ref).sum(axis=1).astype(np.int64)


class MutationCounter(TransformerMixin, BaseEstimator):
    """Learns the wild type (consensus of the training variants); ``transform`` -> ``(n, 1)`` counts.

    Examples
    --------
    >>> frame = pd.DataFrame({"sequence": ["MKV", "MRV", "AKV"]})
    >>> MutationCounter().fit(frame).transform(frame).ravel().tolist()
    [0.0, 1.0, 1.0]
    """

    def fit(self, X: pd.DataFrame, y=None) -> "MutationCounter":  # noqa: ARG002 - unsupervised
        self.wild_type_ = consensus(X["sequence"])
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "wild_type_")
        return mutation_counts(X["sequence"], self.wild_type_).astype(np.float32)[:, None]
