"""Molecules: SMILES -> RDKit 2-D descriptors and Morgan count fingerprints, per distinct molecule.

Both return one row per input SMILES (``float32``), computed once per distinct molecule; an
unparsable SMILES raises :class:`~genotx.errors.InputError` naming its record.

* :func:`rdkit_descriptors`: ``(n, n_descriptors)`` RDKit's 2-D descriptor list (``descriptor_names``
  gives the columns); values that RDKit cannot compute are NaN.
* :func:`morgan_counts`: ``(n, n_bits)`` hashed Morgan (ECFP) atom-environment counts, for min-max
  (count Tanimoto) similarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from genotx.errors import InputError

__all__ = ["rdkit_descriptors", "descriptor_names", "morgan_counts", "minmax_similarity"]


def _molecules(smiles: Sequence[str], name: str):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    codes, unique = pd.factorize(pd.Series(list(smiles), dtype=object))
    mols = []
    for i, s in enumerate(unique):
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
        if mol is None:
            record = int(np.flatnonzero(codes == i)[0])
            raise InputError(name, f"record {record}: cannot parse SMILES {s!r}", fix="give a valid SMILES string")
        mols.append(mol)
    return codes, mols


def descriptor_names() -> list[str]:
    """Names of the columns :func:`rdkit_descriptors` returns (RDKit's ``Descriptors.descList``)."""
    from rdkit.Chem import Descriptors

    return [n for n, _ in Descriptors.descList]


def rdkit_descriptors(smiles: Sequence[str], *, name: str = "smiles") -> np.ndarray:
    """RDKit 2-D descriptors ``float32 (n, n_descriptors)``; non-finite values become NaN.

    Examples
    --------
    >>> x = rdkit_descriptors(["CCO", "c1ccccc1", "CCO"])
    >>> x.shape[0], bool((x[0] == x[2]).all()), x.shape[1] == len(descriptor_names())
    (3, True, True)
    """
    from rdkit.Chem import Descriptors

    codes, mols = _molecules(smiles, name)
    functions = [f for _, f in Descriptors.descList]
    table = np.full((len(mols), len(functions)), np.nan, dtype=np.float64)
    for i, mol in enumerate(mols):
        for j, fn in enumerate(functions):
            try:
                table[i, j] = fn(mol)
            except Exception:  # noqa: BLE001 - RDKit raises assorted errors on odd molecules; keep NaN
                pass
    table[~np.isfinite(table)] = np.nan
    table = np.clip(table, -1e6, 1e6)  # e.g. Ipc overflows float32 for large molecules
    return table.astype(np.float32)[codes]


def morgan_counts(smiles: Sequence[str], *, radius: int = 2, n_bits: int = 2048, name: str = "smiles") -> np.ndarray:
    """Hashed Morgan count fingerprints ``float32 (n, n_bits)``.

    Examples
    --------
    >>> morgan_counts(["CCO", "CCCCO"], n_bits=64).sum(axis=1).tolist()
    [6.0, 13.0]
    """
    from rdkit.Chem import rdFingerprintGenerator

    codes, mols = _molecules(smiles, name)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    table = np.zeros((len(mols), n_bits), dtype=np.float32)
    for i, mol in enumerate(mols):
        table[i] = generator.GetCountFingerprintAsNumPy(mol)
    return table[codes]


def minmax_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Min-max (count Tanimoto) similarity between the rows of ``a`` and ``b``: ``(len(a), len(b))``.

    Examples
    --------
    >>> minmax_similarity(np.array([[1., 2.]]), np.array([[1., 2.], [0., 1.], [0., 0.]])).round(2).tolist()
    [[1.0, 0.33, 0.0]]
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    out = np.zeros((len(a), len(b)), dtype=np.float64)
    for start in range(0, len(a), 64):  # chunks bound memory at 64 x len(b) x n_bits
        chunk = a[start : start + 64, None, :]
        low = np.minimum(chunk, b[None]).sum(-1)
        high = np.maximum(chunk, b[None]).sum(-1)
        out[start : start + 64] = np.divide(low, high, out=np.zeros_like(low, dtype=np.float64), where=high > 0)
    return out
