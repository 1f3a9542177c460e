"""rna_splicing features of a frame of 5' splice-site 9-mers (column ``sequence``, A/C/G/U, T read as U,
N unknown), each ``float32 (n, d)``:

* :func:`splice_one_hot`: flattened one-hot (36 columns);
* :func:`splice_pairwise`: one-hot plus an indicator of every (position i, position j, letter pair), 612 columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.seq.codes import encode_indices, one_hot

__all__ = ["LENGTH", "RNA", "splice_one_hot", "splice_pairwise"]

LENGTH = 9
RNA = "ACGU"
_PAIRS = np.triu_indices(LENGTH, 1)  # the 36 position pairs of a 9-mer


def splice_one_hot(frame: pd.DataFrame) -> np.ndarray:
    """Flattened one-hot ``float32 (n, 36)`` of the 9-mers (T and U are one letter, N all-zero)."""
    return one_hot(frame["sequence"].to_numpy(), alphabet=RNA, name="sequence", dtype=np.float32).reshape(len(frame), -1)


def splice_pairwise(frame: pd.DataFrame) -> np.ndarray:
    """One-hot plus indicators of every (position i, position j, letter pair) ``float32 (n, 36 + 576)``.

    Examples
    --------
    >>> splice_pairwise(pd.DataFrame({"sequence": ["CAGGUAAGU"]})).shape
    (1, 612)
    """
    idx = encode_indices(frame["sequence"].to_numpy(), alphabet=RNA, name="sequence").astype(np.int64)
    i, j = _PAIRS
    valid = (idx[:, i] < 4) & (idx[:, j] < 4)  # pairs with an N are left all-zero
    code = np.arange(len(i)) * 16 + np.minimum(idx[:, i], 3) * 4 + np.minimum(idx[:, j], 3)
    pairs = np.zeros((len(frame), len(i) * 16), dtype=np.float32)
    rows, cols = np.nonzero(valid)
    pairs[rows, code[rows, cols]] = 1.0
    return np.hstack([splice_one_hot(frame), pairs])
