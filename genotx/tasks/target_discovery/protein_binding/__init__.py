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

Evaluation fits on the training rows, scores the test rows, then (for models that read one-hot)
attributes the fitted model by in-silico saturation mutagenesis on up to 1,000 test sequences
(:mod:`genotx.evaluate.attribution`) and stores the motifs in the run record's ``details``: for
sort-seq the important windows, their positions relative to the known CRP / -35 / -10 sites, and
the Pearson r of the model's effect matrix with Kinney's CRP energy matrix (best offset and strand,
with a shuffled-matrix p-value); for ChIP a de-novo matrix per factor matched with JASPAR 2024
(Oct4 MA1115, Pou5f1::Sox2 MA0142, MafK MA0496).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from torch import nn

from genotx.evaluate.attribution import counts_to_logodds, motifs_from_model
from genotx.data.formats.fasta import looks_like_fasta, read_fasta
from genotx.data.formats.motif import read_jaspar, read_matrix_table
from genotx.data.formats.table import check_values, read_table
from genotx.data.source import source_files
from genotx.errors import UnknownNameError
from genotx.evaluate.metrics import evaluate as score_metrics
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import PredefinedSplit, RandomSplit
from genotx.seq.codes import kmer_counts, one_hot
from genotx.featurize.transformer import Featurizer
from genotx.models.nets import TorchClassifier, TorchRegressor, cnn1d
from genotx.tasks.spec import Dataset, TaskSpec

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
    data_note="Real sort-seq (lac promoter, 75 nt, target = read-weighted mean FACS bin; 97% of "
    "sequences have one read). Motif references: Kinney 2010 CRP energy matrix (logomaker) and JASPAR "
    "2024 (pyJASPAR). janggu_chip: real ChIP-seq peaks, binary Oct4 vs MafK, AUROC/AUPR.",
    citation="Kinney et al. (2010) PNAS 107:9158; Tareen et al. (2022) Genome Biol 23:98 (MAVE-NN)",
)

SEQUENCE_LENGTH = 75
BINARY_METRICS = ("auroc", "aupr")
#: known sites of the lac promoter in the 75-nt frame (0-based, stop exclusive)
LAC_SITES = {"CRP": (6, 22), "RNAP -35": (39, 45), "RNAP -10": (63, 69)}
#: JASPAR 2024 references for the ChIP factors: factor -> profile base ids
CHIP_REFERENCES = {"Oct4": ("MA1115", "MA0142"), "MafK": ("MA0496",)}


# ---------------------------------------------------------------------------------------------
# data


def load(*, source: str = "mavenn_sortseq") -> Dataset:
    """Sort-seq (regression, default) or ChIP-seq peaks (``source="janggu_chip"``, binary)."""
    if source == "janggu_chip":
        return _load_chip()
    if source != "mavenn_sortseq":
        raise UnknownNameError("source", source, SPEC.sources)
    raw = pd.read_csv(source_files(source)["sortseq"])
    counts = raw[[f"ct_{i}" for i in range(10)]].to_numpy(float)
    reads = counts.sum(axis=1)
    target = counts @ np.arange(10) / reads
    inputs = pd.DataFrame({"sequence": raw["x"].str.upper()})
    groups = pd.DataFrame({"set": raw["set"].to_numpy(), "n_reads": reads.astype(int)})
    return Dataset("protein_binding", inputs, target, groups, meta={"sources": (source, "kinney2010_crp"), "data_kind": "real", "target": "regression"})


def _load_chip() -> Dataset:
    table = pd.read_parquet(source_files("janggu_chip")["peaks"])
    inputs = pd.DataFrame({"sequence": table["sequence"].str.upper()})
    groups = pd.DataFrame({"set": table["set"].to_numpy(), "factor": table["factor"].to_numpy(), "peak": table["name"].to_numpy()})
    return Dataset("protein_binding", inputs, table["label"].to_numpy(int), groups, meta={"sources": ("janggu_chip", "jaspar2024"), "data_kind": "real", "target": "binary"})


def crp_reference() -> np.ndarray:
    """Kinney 2010 CRP matrix as binding preference ``(26, 4)``: minus the energy (kcal/mol)."""
    return -read_matrix_table(source_files("kinney2010_crp")["energy"])


def jaspar_references() -> dict[str, tuple[str, np.ndarray]]:
    """{profile id: (factor, log-odds matrix)} of the JASPAR 2024 profiles for the ChIP factors."""
    path = source_files("jaspar2024")["sqlite"]
    out = {}
    for factor, ids in CHIP_REFERENCES.items():
        for base_id in ids:
            counts, name = read_jaspar(path, base_id)
            out[f"{base_id} {name}"] = (factor, counts_to_logodds(counts))
    return out


# ---------------------------------------------------------------------------------------------
# models


def sequence_one_hot(frame: pd.DataFrame) -> np.ndarray:
    return one_hot(frame["sequence"], name="sequence").astype(np.float32)


def flat_one_hot(frame: pd.DataFrame) -> np.ndarray:
    return sequence_one_hot(frame).reshape(len(frame), -1)


def kmer_profile(frame: pd.DataFrame) -> np.ndarray:
    return kmer_counts(frame["sequence"], k=5, name="sequence")


class _ChannelsFirst(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class PromoterCNN(nn.Module):
    """Convolution + additive path -> a few latent phenotypes -> a small nonlinear head.

    For aligned promoter libraries: the convolution's feature maps keep their positions (no pooling),
    an additive (PWM-like) path reads the one-hot directly, and both feed ``latent`` linear
    combinations passed through tanh and an MLP (global epistasis: sort-seq bins saturate).
    """

    def __init__(self, input_shape: tuple[int, int], n_outputs: int = 1, *, channels: int = 16, kernel: int = 5,
                 latent: int = 8, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        length, alphabet = input_shape
        self.features = nn.Sequential(
            _ChannelsFirst(), nn.Conv1d(alphabet, channels, kernel, padding="same"), nn.ReLU(),
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(length * channels, latent),
        )
        self.additive = nn.Sequential(nn.Flatten(), nn.Linear(length * alphabet, latent))
        self.head = nn.Sequential(nn.Tanh(), nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.head(self.features(x) + self.additive(x))


class GlobalEpistasis(nn.Module):
    """Additive latent phenotypes (linear in one-hot) -> tanh -> MLP, as MAVE-NN's GE models."""

    def __init__(self, input_shape: tuple[int, int], n_outputs: int = 1, *, latent: int = 8, hidden: int = 32) -> None:
        super().__init__()
        length, alphabet = input_shape
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(length * alphabet, latent), nn.Tanh(),
                                 nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x):
        return self.net(x)


def _chip_cnn(shape: tuple[int, int], n_outputs: int) -> nn.Module:
    return cnn1d(shape, n_outputs, channels=32, kernel=11, dropout=0.2)


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

#: the same baselines for the binary ChIP source (global_epistasis needs aligned sequences)
BINARY_MODELS = {
    "cnn": lambda random_state=0: make_pipeline(
        Featurizer(sequence_one_hot, cache=False),
        TorchClassifier(network=_chip_cnn, epochs=25, lr=1e-3, batch_size=64, patience=5, random_state=random_state),
    ),
    "additive": lambda random_state=0: make_pipeline(Featurizer(kmer_profile, cache=False), LogisticRegression(C=1.0, max_iter=2000)),
    "mean": lambda random_state=0: DummyClassifier(strategy="prior"),
}

#: models whose input is the one-hot sequence (attribution reads them directly), per target kind
_ONE_HOT_MODELS = {"regression": ("cnn", "additive", "global_epistasis"), "binary": ("cnn",)}

SPLITS = {
    "predefined": PredefinedSplit("set", train=("training", "validation"), test=("test",)),
    "random": RandomSplit(test_size=0.2),
}


# ---------------------------------------------------------------------------------------------
# evaluation: supervised fit/score, then motifs from the fitted model


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """Fit on each fold's training rows, score the test rows, and interpret the fitted model."""
    binary = dataset.meta.get("target") == "binary"
    table = BINARY_MODELS if binary else MODELS
    if model not in table:
        raise UnknownNameError("model for this source", model, table)
    names = BINARY_METRICS if binary else SPEC.metrics
    fold_metrics, predictions, details = [], [], {}
    for fold in SPLITS[split].split(dataset.groups, random_state=seed):
        estimator = table[model](random_state=seed)
        estimator.fit(dataset.inputs.iloc[fold.train], dataset.target[fold.train])
        test = dataset.inputs.iloc[fold.test]
        score = estimator.predict_proba(test)[:, 1] if binary else estimator.predict(test)
        y = dataset.target[fold.test]
        fold_metrics.append({"fold": fold.name, "n_test": len(fold.test), **score_metrics(names, y, score)})
        predictions.append(dataset.groups.iloc[fold.test].reset_index(drop=True).assign(y_true=y, y_pred=score, fold=fold.name))
        if model in _ONE_HOT_MODELS["binary" if binary else "regression"] and not details:
            if binary:  # motifs describe the fitted model: read them on all peaks (few test peaks)
                details = chip_motifs(estimator, dataset.inputs, labels=dataset.target, random_state=seed)
            else:
                details = sortseq_motifs(estimator, test["sequence"], random_state=seed)
    pooled = pd.concat(predictions, ignore_index=True)
    metrics = score_metrics(names, pooled["y_true"].to_numpy(), pooled["y_pred"].to_numpy())
    n_train = int(np.mean([len(dataset) - f["n_test"] for f in fold_metrics]))
    return Outcome(metrics, n_train, len(pooled), fold_metrics, pooled, details)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def sortseq_motifs(model, sequences, *, n_sequences: int = 1000, random_state: int = 0) -> dict:
    """Important windows of a fitted sort-seq model, named by the known lac site they overlap, and
    the match of its effect matrix to the Kinney 2010 CRP matrix."""
    reference = crp_reference()
    report = motifs_from_model(model, list(sequences), references={"CRP (Kinney 2010)": reference},
                               n_sequences=n_sequences, random_state=random_state)
    sites = []
    for site in sorted(report.sites, key=lambda s: s.start):
        known = max(LAC_SITES, key=lambda k: _overlap((site.start, site.stop), LAC_SITES[k]))
        overlap = _overlap((site.start, site.stop), LAC_SITES[known])
        sites.append({"start": site.start, "stop": site.stop, "score": round(site.score, 4), "preferred": site.preferred,
                      "known_site": known if overlap else None, "overlap_nt": overlap})
    match = report.matches["CRP (Kinney 2010)"]
    crp_stop = match.offset + len(reference)
    return {
        "method": report.method,
        "n_sequences": report.n_sequences,
        "positions": "0-based, stop exclusive",
        "known_sites": {k: list(v) for k, v in LAC_SITES.items()},
        "motifs": sites,
        "recovered_known_sites": sorted({s["known_site"] for s in sites if s["known_site"]}),
        "crp_similarity": round(match.r, 4),
        "crp_p_value": match.p_value,
        "crp_match": {"start": match.offset, "stop": crp_stop, "strand": match.strand,
                      "overlap_with_known_crp_nt": _overlap((match.offset, crp_stop), LAC_SITES["CRP"])},
        "importance": np.round(report.importance, 4).tolist(),
    }


def chip_motifs(model, inputs: pd.DataFrame, *, labels: np.ndarray, width: int = 12, n_sequences: int = 2000, random_state: int = 0) -> dict:
    """De-novo motifs of a fitted Oct4-vs-MafK classifier, each matched with its factor's JASPAR
    profiles: Oct4 from what raises the Oct4 score in Oct4 peaks, MafK from what lowers it in MafK
    peaks (gradient attribution, best ``width``-long window of the top half of the peaks)."""
    references = jaspar_references()
    out = {"method": "gradient", "width": width, "motifs": []}
    for factor, label, sign in (("Oct4", 1, 1.0), ("MafK", 0, -1.0)):
        seqs = inputs["sequence"].to_numpy()[np.asarray(labels) == label]
        refs = {name: m for name, (f, m) in references.items() if f == factor}
        report = motifs_from_model(model, list(seqs), references=refs, aligned=False, method="gradient", width=width,
                                   sign=sign, top_fraction=0.5, n_sequences=n_sequences, random_state=random_state)
        counts = report.seqlets["de_novo"]
        consensus = "".join(np.array(list("ACGT"))[counts.argmax(axis=1)])
        matches = {name: {"r": round(m.r, 4), "offset": m.offset, "strand": m.strand, "n_positions": m.n_positions, "p_value": m.p_value}
                   for name, m in report.matches.items()}
        out["motifs"].append({"factor": factor, "n_sequences": report.n_sequences, "consensus": consensus, "jaspar": matches,
                              "counts": counts.astype(int).tolist()})
    return out


# ---------------------------------------------------------------------------------------------
# user files


def read_input(path: str | Path) -> pd.DataFrame:
    """A FASTA file, or a CSV/TSV with a ``sequence`` column (aliases ``x``, ``seq``), of 75-nt lac
    promoter variants (A/C/G/T/N). An ``id``/``name`` column or FASTA names are kept."""
    path = Path(path)
    if path.exists() and looks_like_fasta(path):
        frame = read_fasta(path, alphabet="ACGTN", length=SEQUENCE_LENGTH)
        return frame.rename(columns={"name": "id"})[["id", "sequence"]]
    frame = read_table(path, required=("sequence",), optional=("id",), aliases={"sequence": ("x", "seq"), "id": ("name",)})
    frame["sequence"] = frame["sequence"].str.strip().str.upper()
    check_values(
        frame, "sequence", lambda s: (s.str.len() == SEQUENCE_LENGTH) & s.str.fullmatch(r"[ACGTN]+").fillna(False),
        path=str(path), problem=f"is not a {SEQUENCE_LENGTH}-nt sequence of A/C/G/T/N",
        fix=f"give {SEQUENCE_LENGTH}-nt lac promoter variants in the MAVE-NN frame (CRP site at 7-22, 1-based)",
    )
    return frame[[c for c in ("id", "sequence") if c in frame]]
