"""drug_response side information, looked up per distinct entity of a frame of pairs (the callables
the models of :mod:`.models` are built with):

* :func:`cell_profiles`: one row per distinct ``cell_line``, the source's ``<block>_<feature>`` profile;
* :func:`drug_structures`: one row per distinct ``drug`` key, Morgan counts (``fp_*``) and RDKit
  descriptors (``desc_*``) of that row's SMILES, or ``None`` when the rows carry no structure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.cache import cached_array
from genotx.errors import InputError
from genotx.featurize.descriptors import descriptor_names, morgan_counts, rdkit_descriptors
from genotx.tasks.therapeutics.drug_response.io import DEFAULT_SOURCE, cell_table

__all__ = ["MORGAN_BITS", "cell_profiles", "drug_structures"]

MORGAN_BITS = 2048


def _source_of(frame: pd.DataFrame) -> str:
    sources = frame["source"].unique() if "source" in frame else [DEFAULT_SOURCE]
    if len(sources) != 1:
        raise InputError("drug_response", f"rows mix sources {list(sources)}", fix="predict one source at a time")
    return str(sources[0])


def cell_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    """Genomic profile of each distinct ``cell_line`` of ``frame`` (one row each)."""
    table = cell_table(_source_of(frame))
    return table.reindex(pd.unique(frame["cell_line"]))


def drug_structures(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Morgan counts (``fp_*``) and RDKit descriptors (``desc_*``) of each distinct ``drug``; ``None``
    when the rows carry no SMILES (drug identity only)."""
    if "smiles" not in frame or not (frame["smiles"].astype(str) != "").any():
        return None
    first = frame.drop_duplicates("drug")
    smiles = first["smiles"].tolist()
    fp = cached_array(("morgan_counts", 2, MORGAN_BITS, tuple(smiles)), lambda: morgan_counts(smiles, n_bits=MORGAN_BITS))
    desc = cached_array(("rdkit_descriptors", tuple(smiles)), lambda: rdkit_descriptors(smiles))
    columns = [f"fp_{i}" for i in range(MORGAN_BITS)] + [f"desc_{n}" for n in descriptor_names()]
    return pd.DataFrame(np.hstack([fp, desc]), index=first["drug"].to_numpy(), columns=columns)
