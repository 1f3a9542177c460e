"""Sequence encodings the protein_binding baselines read (inside their pipelines, so ``predict`` runs
the same path): one-hot ``(n, L, 4)`` float32, flattened one-hot, and 5-mer counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.seq.codes import kmer_counts, one_hot

__all__ = ["sequence_one_hot", "flat_one_hot", "kmer_profile"]


def sequence_one_hot(frame: pd.DataFrame) -> np.ndarray:
    """``(n, L, 4)`` float32 one-hot of the ``sequence`` column (N = all zeros)."""
    return one_hot(frame["sequence"], name="sequence").astype(np.float32)


def flat_one_hot(frame: pd.DataFrame) -> np.ndarray:
    """``(n, 4 L)``: the one-hot flattened, for linear models."""
    return sequence_one_hot(frame).reshape(len(frame), -1)


def kmer_profile(frame: pd.DataFrame) -> np.ndarray:
    """5-mer counts of each sequence (position-free: ChIP peaks are not aligned)."""
    return kmer_counts(frame["sequence"], k=5, name="sequence")
