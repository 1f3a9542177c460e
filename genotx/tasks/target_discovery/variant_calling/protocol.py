"""How variant_calling is evaluated: candidates -> genotypes -> a call set, scored against the truth.

:class:`VariantCalling` is :class:`~genotx.evaluate.protocols.Supervised` with four hooks:

* ``fit``/``predict`` hand every model the candidate table of :func:`~.features.model_input` (with
  each row's pileup tensor and the files it was read from) and turn what the model says into calls:
  a genotyper's probabilities through :func:`~.models.calls_from_predictions`, a caller's own calls
  (any estimator with ``call(bam, reference, sample=)``, e.g. bcftools) restricted to the part's
  samples and regions. The prediction is a :class:`CallSet`.
* ``score`` compares the calls with the truth of the part's samples and regions
  (:func:`~.scoring.variant_scores`): a true variant that never became a candidate is a false
  negative, so these are not row metrics.
* ``finish`` scores the union of every fold's calls (the pooled rows cannot carry a caller's calls
  away from the candidates) and adds details: counts, what the model learned (best epochs, QUAL
  threshold), and for the ``cnn`` baseline bcftools and the allele-fraction rule on the same
  region and a concordance check on real 1000 Genomes reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.bio.alignments import read_reference
from genotx.data.dataset import Dataset
from genotx.data.source import source_files
from genotx.errors import InputError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.protocols import FoldFit, Prediction, Supervised
from genotx.tasks.target_discovery.variant_calling.cohort import bam_pileups
from genotx.tasks.target_discovery.variant_calling.features import MODEL_COLUMNS, model_frame, model_input
from genotx.tasks.target_discovery.variant_calling.models import bcftools_calls, calls_from_predictions, indexed_copy
from genotx.tasks.target_discovery.variant_calling.scoring import variant_scores
from genotx.tasks.target_discovery.variant_calling.splits import TEST_START, TRAIN_END, region_of

__all__ = ["VariantCalling", "CallSet", "call_variants", "truth_of", "real_read_check"]

#: the metrics ``details["side_by_side"]`` reports for each model
SIDE_BY_SIDE = ("f1", "snv_f1", "indel_f1", "snv_precision", "snv_recall", "indel_precision", "indel_recall")


@dataclass
class CallSet(Prediction):
    """A variant caller's prediction for a part: per-candidate genotype probabilities (``score``,
    ``(n, 3)``), the called genotype (``label``) and the calls (``calls``: one row per called
    variant, ``sample contig pos ref alt genotype qual ...``; a caller may call non-candidates)."""

    calls: pd.DataFrame = field(default_factory=pd.DataFrame)


def _one_hot(genotype: np.ndarray) -> np.ndarray:
    return np.eye(3)[np.asarray(genotype, dtype=int)] * 0.98 + 0.01


def call_variants(estimator, frame: pd.DataFrame, files: Mapping[str, tuple[str, str]]) -> tuple[np.ndarray, pd.DataFrame]:
    """(per-candidate genotype probabilities, calls) of any variant_calling model on the candidate
    table ``frame`` (a :func:`~.features.model_frame`) of the samples whose reads are ``files``
    (sample -> (BAM, reference FASTA))."""
    candidates = frame.drop(columns=[c for c in MODEL_COLUMNS if c in frame])
    if callable(getattr(estimator, "call", None)):  # a caller reads the alignments itself
        calls = pd.concat([estimator.call(bam, reference, sample=s) for s, (bam, reference) in files.items()], ignore_index=True)
        called = dict(zip(zip(calls["sample"], calls["pos"], calls["ref"], calls["alt"]), calls["genotype"]))
        genotype = [called.get(k, 0) for k in zip(candidates["sample"], candidates["pos"], candidates["ref"], candidates["alt"])]
        return _one_hot(genotype), calls
    if not len(frame):
        return np.zeros((0, 3)), calls_from_predictions(candidates, np.zeros((0, 3)))
    proba = estimator.predict_proba(frame) if hasattr(estimator, "predict_proba") else _one_hot(estimator.predict(frame))
    return np.asarray(proba, dtype=float), calls_from_predictions(candidates, proba)


def _pairs(part: Dataset) -> set[tuple[str, str]]:
    return set(zip(part.groups["sample"], part.groups["region"]))


def _within(frame: pd.DataFrame, pairs: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Rows of ``frame`` (``sample``, ``pos``) whose sample and region are among ``pairs``."""
    keep = pd.MultiIndex.from_arrays([frame["sample"], region_of(frame["pos"].to_numpy())]).isin(list(pairs))
    return frame[keep].reset_index(drop=True)


def truth_of(part: Dataset) -> pd.DataFrame:
    """The simulated variants of the part's samples in the part's regions (candidates or not)."""
    return _within(part.context["truth"], _pairs(part))


class VariantCalling(Supervised):
    """Supervised genotyping of candidates, scored as a variant call set (see the module docstring).

    Estimator contract: ``fit(X, y)`` with ``X`` the candidate table of :func:`~.features.model_input`
    (``sample contig pos ref alt kind depth alt_count region`` + ``pileup``, ``bam``, ``reference``)
    and ``y`` the true alt copies (0, 1, 2); then ``predict_proba(X) -> (n, 3)`` (or ``predict``), or,
    for a caller that reads the alignments itself, ``call(bam, reference, sample=) -> calls``.
    """

    def fit(self, estimator, train: Dataset):
        return estimator.fit(model_input(train), train.target)

    def predict(self, estimator, test: Dataset) -> CallSet:
        files = {s: (test.context["bams"][s], test.context["reference_fasta"]) for s in pd.unique(test.groups["sample"])}
        proba, calls = call_variants(estimator, model_input(test), files)
        return CallSet(proba, proba.argmax(1), calls=_within(calls, _pairs(test)))

    def score(self, task, part: Dataset, prediction: Prediction, *, seed: int) -> dict[str, float]:  # noqa: ARG002
        """Genotype-aware precision/recall/F1 of the prediction's calls; a plain prediction (per-row
        probabilities ``(n, 3)`` or genotypes 0/1/2, as ``genotx evaluate`` reads them) is turned into
        calls first."""
        calls = getattr(prediction, "calls", None)
        if calls is None:
            score = np.asarray(prediction.score, dtype=float)
            if score.ndim == 1:
                if not np.isin(score, (0, 1, 2)).all():
                    raise InputError("predictions", "a variant_calling prediction is a genotype 0, 1 or 2 per candidate",
                                     fix="give the alt copies of each candidate (or its three genotype probabilities)")
                score = _one_hot(score)
            calls = calls_from_predictions(part.inputs, score)
        scores = variant_scores(calls, truth_of(part))
        return {name: float(scores[name]) for name in task.spec.metrics}

    def prediction_table(self, part: Dataset, prediction: Prediction, fold: np.ndarray) -> pd.DataFrame:
        table = part.inputs[["sample", "pos", "ref", "alt", "kind"]].reset_index(drop=True)
        return table.assign(y_true=part.target, y_pred=np.asarray(prediction.label), fold=fold)

    def finish(self, task, dataset: Dataset, outcome: Outcome, fits: list[FoldFit], *, split: str, model: str | None,  # noqa: ARG002
               seed: int) -> None:
        pairs = set().union(*(_pairs(f.test) for f in fits))
        truth = _within(dataset.context["truth"], pairs)
        scores = variant_scores(pd.concat([f.prediction.calls for f in fits], ignore_index=True), truth)
        outcome.metrics = {name: float(scores[name]) for name in task.spec.metrics}
        details = {"counts": {k: v for k, v in scores.items() if k not in outcome.metrics}}
        estimator = fits[0].estimator
        if hasattr(estimator, "history_"):
            details["best_epoch"] = estimator.history_["best_epoch"]
        if hasattr(estimator, "qual_threshold_"):
            unfiltered = pd.concat([_within(estimator.call(dataset.context["bams"][s], dataset.context["reference_fasta"], sample=s,
                                                           min_qual=0.0), pairs) for s in sorted({s for s, _ in pairs})])
            details.update({"qual_threshold": estimator.qual_threshold_, "train_f1_by_qual": estimator.f1_by_qual_,
                            "unfiltered": {k: variant_scores(unfiltered, truth)[k] for k in ("f1", "snv_f1", "indel_f1", "precision", "recall")}})
        details.update({"train_region": [0, TRAIN_END], "test_region": [TEST_START, max(dataset.context["contigs"].values())],
                        "n_truth_test": int(len(truth)), "n_candidates_test": int(outcome.n_test)})
        if model == "cnn":  # the default baseline is shown beside the classical caller and the rule, on the same folds
            side = {"cnn": {k: outcome.metrics[k] for k in SIDE_BY_SIDE}}
            for other in ("bcftools", "allele_fraction"):
                other_fits = self.fit_folds(task, dataset, [f.fold for f in fits], model=other, estimator=None, seed=seed)
                s = variant_scores(pd.concat([f.prediction.calls for f in other_fits], ignore_index=True), truth)
                side[other] = {k: float(s[k]) for k in SIDE_BY_SIDE}
                if other == "bcftools":
                    side[other]["qual_threshold"] = other_fits[0].estimator.qual_threshold_
            details["side_by_side"] = side
            details["real_reads"] = real_read_check(estimator)
        outcome.details.update(details)


def real_read_check(estimator) -> dict:
    """A genotyper on REAL 1000 Genomes reads (3 samples) vs bcftools (QUAL >= 20) on the same reads:
    concordance only (these reads have no truth)."""
    files = source_files("samtools_mpileup_1000g")
    reference = read_reference(files["reference"])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        fasta = indexed_copy(files["reference"], Path(tmp))
        for member in ("bam1", "bam2", "bam3"):
            candidates, X = bam_pileups(files[member], reference)
            frame = model_frame(candidates.assign(sample=member), X, bam=str(files[member]), reference=str(fasta))
            ours = call_variants(estimator, frame, {member: (str(files[member]), str(fasta))})[1]
            theirs = bcftools_calls(files[member], fasta, min_qual=20.0)
            a = set(zip(ours["pos"], ours["ref"], ours["alt"]))
            b = set(zip(theirs["pos"], theirs["ref"], theirs["alt"]))
            ag = set(zip(ours["pos"], ours["ref"], ours["alt"], ours["genotype"]))
            bg = set(zip(theirs["pos"], theirs["ref"], theirs["alt"], theirs["genotype"]))
            out[Path(files[member]).name] = {
                "n_candidates": int(len(candidates)), "mean_depth": float(candidates["depth"].mean()) if len(candidates) else 0.0,
                "cnn_calls": len(a), "bcftools_calls_qual20": len(b), "both": len(a & b), "both_same_genotype": len(ag & bg),
                "jaccard": len(a & b) / len(a | b) if a | b else float("nan"),
            }
    return out
