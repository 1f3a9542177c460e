"""The real CFD and MOFF factor tables as arrays, read once per process from the converted sources.

Layout (bases A, C, G, T = 0..3; spacer index 0 = the guide's 5' end, PAM-distal, 19 = PAM-proximal):

* :class:`CFDTable`: ``mismatch`` ``(20, 4, 4)`` factor of guide base ``g`` facing site base ``s`` at
  each spacer index (1 on the diagonal: a match), ``pam`` ``(4, 4)`` factor of the PAM's 2nd and 3rd
  site bases (``pam[G, G] = 1``);
* :class:`MOFFTable`: ``mismatch`` as above, ``pam`` ``(2, 4)`` factor of a non-G base at the PAM's
  2nd / 3rd position (1 for G), ``pairs`` ``(20, 20)`` symmetric combination factor of two mismatched
  spacer indices (diagonal 1, unused).

The tables store ``rna`` (guide base, U for T) and ``dna`` (complement of the site's protospacer
base); here ``s`` is the protospacer base itself, so ``s = complement(dna)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from genotx.data.source import source_files

__all__ = ["CFDTable", "MOFFTable", "cfd_table", "moff_table", "BASE_INDEX"]

BASE_INDEX = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3}
_COMPLEMENT_INDEX = {"A": 3, "C": 2, "G": 1, "T": 0}


@dataclass(frozen=True)
class CFDTable:
    mismatch: np.ndarray
    pam: np.ndarray


@dataclass(frozen=True)
class MOFFTable:
    mismatch: np.ndarray
    pam: np.ndarray
    pairs: np.ndarray


def _mismatch_array(frame: pd.DataFrame) -> np.ndarray:
    out = np.ones((20, 4, 4))
    pos = frame["position"].astype(int).to_numpy() - 1
    g = frame["rna"].map(BASE_INDEX).to_numpy()
    s = frame["dna"].map(_COMPLEMENT_INDEX).to_numpy()
    out[pos, g, s] = frame["factor"].to_numpy(float)
    return out


def cfd_from_frames(mismatch: pd.DataFrame, pam: pd.DataFrame) -> CFDTable:
    """A :class:`CFDTable` from the converted CSVs' frames."""
    pam_array = np.zeros((4, 4))
    for key, factor in zip(pam["pam"], pam["factor"]):
        pam_array[BASE_INDEX[key[0]], BASE_INDEX[key[1]]] = float(factor)
    return CFDTable(_mismatch_array(mismatch), pam_array)


@lru_cache(maxsize=1)
def cfd_table() -> CFDTable:
    """The Doench 2016 CFD tables (source ``cfd_doench2016``, fetched and verified on first use)."""
    files = source_files("cfd_doench2016")
    return cfd_from_frames(pd.read_csv(files["mismatch"]), pd.read_csv(files["pam"], keep_default_na=False))


@lru_cache(maxsize=1)
def moff_table() -> MOFFTable:
    """MOFF's single-mismatch, PAM and pairwise factors (source ``moff_matrices``)."""
    files = source_files("moff_matrices")
    single = pd.read_csv(files["single"], dtype={"position": str})
    spacer = single[~single["position"].str.startswith("pam")]
    pam = np.ones((2, 4))
    for row in single[single["position"].str.startswith("pam")].itertuples():
        pam[int(row.position[-1]) - 2, _COMPLEMENT_INDEX[row.dna]] = row.factor
    pairs_frame = pd.read_csv(files["pairs"])
    pairs = np.ones((20, 20))
    a, b = pairs_frame["position_a"].to_numpy() - 1, pairs_frame["position_b"].to_numpy() - 1
    pairs[a, b] = pairs[b, a] = pairs_frame["factor"].to_numpy(float)
    return MOFFTable(_mismatch_array(spacer), pam, pairs)
