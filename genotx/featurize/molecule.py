"""Molecules: SMILES -> Morgan (ECFP) fingerprints with RDKit, one RDKit call per distinct molecule."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["morgan_fingerprints"]


def morgan_fingerprints(smiles: Sequence[str], *, radius: int = 2, n_bits: int = 1024, name: str = "smiles") -> np.ndarray:
    """Morgan bit vectors ``uint8 (n, n_bits)``; an unparsable SMILES raises naming the record.

    Examples
    --------
    >>> morgan_fingerprints(["CCO", "CCO"], n_bits=64).shape
    (2, 64)
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdFingerprintGenerator

    RDLogger.DisableLog("rdApp.*")
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    codes, unique = pd.factorize(pd.Series(list(smiles), dtype=object))
    table = np.zeros((len(unique), n_bits), dtype=np.uint8)
    for i, s in enumerate(unique):
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) else None
        if mol is None:
            record = int(np.flatnonzero(codes == i)[0])
            raise InputError(name, f"record {record}: cannot parse SMILES {s!r}", fix="give a valid SMILES string")
        table[i] = generator.GetFingerprintAsNumPy(mol)
    return table[codes]
