"""crispr_on_target features of a frame of guides (column ``sequence``: 30-mers, 4 nt 5' context + 20 nt
spacer + NGG PAM + 3 nt 3' context; optional ``percent_peptide``), each ``float32 (n, d)``:

* :func:`rule_set2_features`: Rule Set 2-style features (631 columns) for the tree model;
* :func:`cnn_inputs`: the flat one-hot 30-mer and % peptide (121 columns) for the CNN;
* :func:`spacer_gc`: the spacer's GC fraction (1 column), the trivial floor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.featurize.guides import SPACER, microhomology_scores, pam_context, segment_melting_temperatures
from genotx.seq.codes import gc_fraction, kmer_counts, one_hot, positional_kmers

__all__ = ["SEQUENCE_LENGTH", "rule_set2_features", "cnn_inputs", "spacer_gc"]

SEQUENCE_LENGTH = 30


def _percent_peptide(frame: pd.DataFrame) -> np.ndarray:
    return frame["percent_peptide"].to_numpy(float) if "percent_peptide" in frame else np.full(len(frame), np.nan)


def rule_set2_features(frame: pd.DataFrame) -> np.ndarray:
    """Rule Set 2-style features of each 30-mer (+ % peptide, NaN when unknown), ``float32 (n, 631)``.

    One-hot (120), position-specific dinucleotides (464), spacer GC count and > 10 / < 10 (3), % peptide
    (1), Tm of the 30-mer and spacer 16-20, 8-15, 3-7 (4), base and dinucleotide counts (4 + 16),
    microhomology scores (3), NGGX (16).
    """
    seqs = frame["sequence"]
    n = len(frame)
    gc = gc_fraction(seqs.str.slice(SPACER.start, SPACER.stop), name="sequence") * (SPACER.stop - SPACER.start)
    parts = [
        one_hot(seqs, name="sequence").reshape(n, -1),
        positional_kmers(seqs, k=2, name="sequence"),
        np.column_stack([gc, gc > 10, gc < 10]),
        _percent_peptide(frame)[:, None],
        segment_melting_temperatures(seqs, name="sequence"),
        kmer_counts(seqs, k=1, normalize=False, name="sequence"),
        kmer_counts(seqs, k=2, normalize=False, name="sequence"),
        microhomology_scores(seqs, name="sequence"),
        pam_context(seqs, name="sequence"),
    ]
    return np.hstack([p.astype(np.float32) for p in parts])


def cnn_inputs(frame: pd.DataFrame) -> np.ndarray:
    """Flat one-hot 30-mer (120) + % peptide / 100 (unknown -> 0.5), ``float32 (n, 121)``."""
    peptide = np.nan_to_num(_percent_peptide(frame) / 100.0, nan=0.5)
    return np.hstack([one_hot(frame["sequence"], name="sequence").reshape(len(frame), -1), peptide[:, None]]).astype(np.float32)


def spacer_gc(frame: pd.DataFrame) -> np.ndarray:
    """GC fraction of the 20-nt spacer, ``float32 (n, 1)``."""
    return gc_fraction(frame["sequence"].str.slice(SPACER.start, SPACER.stop), name="sequence")[:, None]
