"""DNA-protein binding: sequence -> binding-driven expression (sort-seq) or bound by which factor
(ChIP-seq); attribution over the trained model -> motifs, compared with known ones.

Default data (``mavenn_sortseq``): Kinney et al. 2010 sort-seq of 50,518 mutagenised 75-nt E. coli
lac-promoter variants. Each was sorted by fluorescence into 10 bins (``ct_0`` dimmest .. ``ct_9``); the
target is the read-count-weighted mean bin (0..9). 97% of sequences have a single read, so the
target is very noisy and the attainable Pearson r is well below 1. The promoter is regulated by CRP
(site at 0-based positions 6-22, TGTGAGTTAGCTCACT) and RNA polymerase (-35 box TTTACA at 39-45, -10
box TATGTT at 63-69). Default split ``predefined``: MAVE-NN's shipped training+validation vs test.

Second source (``janggu_chip``, binary): 200-bp human ChIP-seq peaks of Oct4 (label 1) vs MafK
(label 0), with janggu's own 100 + 100 test peaks as the ``predefined`` test set; metrics AUROC/AUPR.
Load it with ``load(source="janggu_chip")`` and pass the dataset to ``genotx.run(..., dataset=...)``.

Evaluation (:mod:`.protocol`) fits on the training rows, scores the test rows, then (for models that
read one-hot) attributes the fitted model by in-silico saturation mutagenesis on up to 1,000 test
sequences (:mod:`genotx.evaluate.attribution`) and stores the motifs in the run record's ``details``
(:mod:`.motifs`): for sort-seq the important windows, their positions relative to the known CRP /
-35 / -10 sites, and the Pearson r of the model's effect matrix with Kinney's CRP energy matrix (best
offset and strand, with a shuffled-matrix p-value); for ChIP a de-novo matrix per factor matched with
JASPAR 2024 (Oct4 MA1115, Pou5f1::Sox2 MA0142, MafK MA0496).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline

from genotx.data.dataset import Dataset
from genotx.data.source import source_files
from genotx.errors import UnknownNameError
from genotx.evaluate.splits import PredefinedSplit, RandomSplit
from genotx.featurize.transformer import Featurizer
from genotx.models.nets import TorchRegressor
from genotx.tasks.spec import TaskSpec
from genotx.tasks.target_discovery.protein_binding.features import flat_one_hot, sequence_one_hot
from genotx.tasks.target_discovery.protein_binding.io import read_input
from genotx.tasks.target_discovery.protein_binding.models import GlobalEpistasis, PromoterCNN
from genotx.tasks.target_discovery.protein_binding.protocol import ProteinBinding

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "read_input"]

SPEC = TaskSpec(
    name="protein_binding",
    number=1,
    stage="target_discovery",
    title="DNA/RNA-protein binding",
    formulation="DNA sequence -> binding-driven expression (sort-seq, regression) or bound by Oct4 vs "
    "MafK (ChIP-seq, binary); attribution over the model -> motifs vs known ones",
    protocol="supervised",
    target="regression",
    data_kind="real",
    sources=("mavenn_sortseq", "janggu_chip"),
    splits=("predefined", "random"),
    metrics=("pearson", "spearman", "rmse"),
    baselines=("cnn", "additive", "global_epistasis", "mean"),
    trivial="mean",
    reference='additive',
    data_note="Real sort-seq (lac promoter, 75 nt, target = read-weighted mean FACS bin; 97% of "
    "sequences have one read). Motif references: Kinney 2010 CRP energy matrix (logomaker) and JASPAR "
    "2024 (pyJASPAR). janggu_chip: real ChIP-seq peaks, binary Oct4 vs MafK, AUROC/AUPR.",
    citation="Kinney et al. (2010) PNAS 107:9158; Tareen et al. (2022) Genome Biol 23:98 (MAVE-NN)",
)


def load(*, source: str = "mavenn_sortseq") -> Dataset:
    """Sort-seq (regression, default) or ChIP-seq peaks (``source="janggu_chip"``, binary 0/1 labels)."""
    if source == "janggu_chip":
        table = pd.read_parquet(source_files(source)["peaks"])
        inputs = pd.DataFrame({"sequence": table["sequence"].str.upper()})
        groups = pd.DataFrame({"set": table["set"].to_numpy(), "factor": table["factor"].to_numpy(), "peak": table["name"].to_numpy()})
        return Dataset("protein_binding", inputs, table["label"].to_numpy(int), groups, meta={"sources": (source, "jaspar2024"), "data_kind": "real"})
    if source != "mavenn_sortseq":
        raise UnknownNameError("source", source, SPEC.sources)
    raw = pd.read_csv(source_files(source)["sortseq"])
    counts = raw[[f"ct_{i}" for i in range(10)]].to_numpy(float)
    reads = counts.sum(axis=1)
    target = counts @ np.arange(10) / reads
    inputs = pd.DataFrame({"sequence": raw["x"].str.upper()})
    groups = pd.DataFrame({"set": raw["set"].to_numpy(), "n_reads": reads.astype(int)})
    return Dataset("protein_binding", inputs, target, groups, meta={"sources": (source, "kinney2010_crp"), "data_kind": "real"})


SPLITS = {
    "predefined": PredefinedSplit("set", train=("training", "validation"), test=("test",)),
    "random": RandomSplit(test_size=0.2),
}

#: the sort-seq baselines; the binary ChIP source uses their variants in ``models.BINARY_MODELS``
MODELS = {
    "cnn": lambda random_state=0: make_pipeline(
        Featurizer(sequence_one_hot, cache=False),
        TorchRegressor(network=PromoterCNN, epochs=15, lr=2e-3, batch_size=128, patience=4, random_state=random_state),
    ),
    "additive": lambda random_state=0: make_pipeline(Featurizer(flat_one_hot, cache=False), Ridge(alpha=10.0)),
    "global_epistasis": lambda random_state=0: make_pipeline(
        Featurizer(sequence_one_hot, cache=False),
        TorchRegressor(network=GlobalEpistasis, epochs=20, lr=2e-3, batch_size=128, patience=4, random_state=random_state),
    ),
    "mean": lambda random_state=0: DummyRegressor(),
}

PROTOCOL = ProteinBinding()
