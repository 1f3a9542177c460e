"""The drug_combination datasets: the semi-synthetic default screen and the measured screens.

:func:`default_screen`: a seeded panel of real GDSC2 drugs and cell lines (``N_DRUGS`` drugs with a
SMILES measured in >= 95 % of ``N_CELLS`` cell lines that carry a mutation/CNV profile, a tissue label
and >= 90 % of the drugs measured), dose-response matrices simulated by
:func:`genotx.simulate.synergy.simulate_synergy_screen` around their real ln IC50s, scored by
:mod:`.synergy`. The planted interaction's drug classes are k-means classes of the drugs' rank-
normalised physicochemical descriptors (:data:`PLANT_DESCRIPTORS`) and its cell features the GDSC2
alterations of :data:`~.io.DRIVERS`. Drug order within a row is randomised (seeded), so order
carries no information.

:func:`real_screen`: a measured screen (``oneil_deepsynergy``, ``drugcomb``, ``nci_almanac``) from
the user's files, read by :mod:`.screens`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.featurize.descriptors import descriptor_names, rdkit_descriptors
from genotx.simulate.synergy import simulate_synergy_screen
from genotx.tasks.therapeutics.drug_combination.io import DRIVERS, GDSC2, TISSUES, driver_table, gdsc2_ic50, smiles_table
from genotx.tasks.therapeutics.drug_combination.screens import read_almanac, read_drugcomb, read_oneil
from genotx.tasks.therapeutics.drug_combination.synergy import METHODS, bliss, hsa, loewe, zip_score

__all__ = ["default_screen", "real_screen", "N_CELLS", "N_DRUGS", "PLANT_DESCRIPTORS", "REAL_SOURCES", "SCREEN"]

N_CELLS = 80
N_DRUGS = 40
PLANT_DESCRIPTORS = ("MolWt", "MolLogP", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "NumAromaticRings",
                     "FractionCSP3")
#: the simulator's settings for the default screen
SCREEN = {"fraction": 0.4, "n_doses": 5, "dose_step": 3.0, "n_classes": 5, "strength": 1.8, "noise": 5.0}
REAL_SOURCES = ("oneil_deepsynergy", "drugcomb", "nci_almanac")
_SCORERS = {"bliss": bliss, "loewe": loewe, "hsa": hsa, "zip": zip_score}


def _panel() -> tuple[pd.DataFrame, pd.Series]:
    """The seeded GDSC2 panel: ln IC50 (cell lines x drugs) and the drugs' SMILES."""
    matrix = gdsc2_ic50()
    rng = np.random.default_rng(0)
    complete = matrix.index[matrix.notna().mean(axis=1).to_numpy() >= 0.9]
    cells = np.sort(rng.choice(complete, size=N_CELLS, replace=False))
    measured = matrix.columns[matrix.loc[cells].notna().mean().to_numpy() >= 0.95]
    drugs = np.sort(rng.choice(measured, size=N_DRUGS, replace=False))
    return matrix.loc[cells, drugs], smiles_table()[drugs]


def _plant_features(smiles: pd.Series) -> np.ndarray:
    """Rank-normalised physicochemical descriptors of the panel's drugs (what the drug classes are built on)."""
    names = descriptor_names()
    table = pd.DataFrame(rdkit_descriptors(smiles.tolist()), columns=names)[list(PLANT_DESCRIPTORS)]
    return table.rank(pct=True).fillna(0.5).to_numpy()


@lru_cache(maxsize=4)
def default_screen(score: str = "bliss") -> Dataset:
    """The semi-synthetic default screen scored by ``score`` (one of :data:`~.synergy.METHODS`)."""
    if score not in METHODS:
        raise InputError("score", f"{score!r} is not a synergy score", fix=f"use one of {list(METHODS)}")
    log_ic50, smiles = _panel()
    drivers = driver_table(log_ic50.index)
    screen = simulate_synergy_screen(log_ic50.to_numpy(), _plant_features(smiles), drivers.to_numpy(), random_state=0, **SCREEN)
    observed = _SCORERS[score](screen.response, screen.doses_a, screen.doses_b)
    expected = _SCORERS[score](screen.expected_response, screen.doses_a, screen.doses_b)
    a, b = screen.triplets["drug_a"].to_numpy(), screen.triplets["drug_b"].to_numpy()
    swap = np.random.default_rng(1).random(len(a)) < 0.5  # drug order carries no information
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    response = np.where(swap[:, None, None], screen.response.transpose(0, 2, 1), screen.response)
    doses_a = np.where(swap[:, None], screen.doses_b, screen.doses_a)
    doses_b = np.where(swap[:, None], screen.doses_a, screen.doses_b)
    names = smiles.index.to_numpy()
    cells = log_ic50.index.to_numpy()[screen.triplets["cell"].to_numpy()]
    inputs = pd.DataFrame({"drug_a": names[a], "drug_b": names[b], "smiles_a": smiles.to_numpy()[a],
                           "smiles_b": smiles.to_numpy()[b], "cell_line": cells})
    groups = _groups(inputs)
    truth = {
        "score": score, "drugs": list(names), "cell_lines": list(cells), "drivers": drivers,
        "membership": pd.DataFrame(screen.membership, index=names), "class_matrix": screen.class_matrix,
        "class_driver": np.asarray(list(DRIVERS))[screen.class_feature],
    }
    return Dataset(
        "drug_combination", inputs, np.asarray(observed, float), groups,
        meta={"sources": (GDSC2, TISSUES), "data_kind": "semi-synthetic", "score": score,
              "simulated": "dose-response matrices (Hill curves anchored on real GDSC2 ln IC50), the planted "
                           "interaction and well noise (genotx.simulate.synergy, seed 0); real: drugs, SMILES, "
                           "cell lines, mutation/CNV profiles, monotherapy IC50s"},
        arrays={"expected": np.asarray(expected, float), "interaction": screen.interaction, "response": response,
                "doses_a": doses_a, "doses_b": doses_b},
        context={"truth": truth},
    )


def _groups(inputs: pd.DataFrame) -> pd.DataFrame:
    first = inputs["drug_a"] <= inputs["drug_b"]
    pair = inputs["drug_a"].where(first, inputs["drug_b"]) + " + " + inputs["drug_b"].where(first, inputs["drug_a"])
    return pd.DataFrame({"drug_a": inputs["drug_a"].to_numpy(), "drug_b": inputs["drug_b"].to_numpy(),
                         "pair": pair.to_numpy(), "cell_line": inputs["cell_line"].to_numpy()})


def real_screen(source: str, *, score: str = "loewe") -> Dataset:
    """A measured screen from the user's files (O'Neil: Loewe; DrugComb: ``score``; ALMANAC: ComboScore)."""
    files = source_files(source)
    if source == "oneil_deepsynergy":
        smiles = files.get("smiles")  # optional: names are otherwise looked up in the GDSC2 table
        rows, kind = read_oneil(files["labels"], smiles if smiles is not None and smiles.exists() else None), "loewe"
    elif source == "drugcomb":
        rows, kind = read_drugcomb(files["summary"], files["drugs"], score=score), score
    else:
        rows, kind = read_almanac(files["growth"], files["smiles"]), "combo_score"
    inputs = rows[["drug_a", "drug_b", "smiles_a", "smiles_b", "cell_line"]]
    groups = _groups(inputs)
    for extra in ("fold", "study"):
        if extra in rows:
            groups[extra] = rows[extra].to_numpy()
    return Dataset("drug_combination", inputs.reset_index(drop=True), rows["score"].to_numpy(float), groups,
                   meta={"sources": (source, GDSC2, TISSUES), "data_kind": "real", "score": kind,
                         "dropped": dict(rows.attrs.get("dropped", {}))})
