"""Genotype callers on candidate variants, and their scoring against a truth set.

* :class:`PileupGenotyper`: a small CNN over pileup tensors (:mod:`genotx.tasks.target_discovery.variant_calling.features`). Each
  read row goes through the same 1-D convolutions along the reference window; the read features are
  pooled over reads (mean, depth-scaled sum, max), so the call does not depend on read order, then a
  small head gives P(0, 1, 2 alternative copies). Trains through :func:`genotx.models.nets.train_network`;
  with ``n_models > 1`` it is a :class:`PileupEnsemble` (several seeds, probabilities averaged).
* :class:`AlleleFractionGenotyper`: the trivial rule (alt fraction < 0.2 -> 0, < 0.8 -> 1, else 2).
* :class:`BcftoolsCaller`: the classical caller, ``bcftools mpileup | call -mv | norm`` run through
  pysam's bundled bcftools (no external binary, :func:`bcftools_calls`); it reads the BAMs itself and
  learns only its QUAL threshold.

Every model takes the candidate table of :func:`~.features.model_frame` as ``X`` (the genotypers read
its ``pileup`` or ``depth``/``alt_count`` columns, the caller its ``bam``/``reference`` columns) and
the true alt copies as ``y``. Genotypers give ``predict_proba(X) -> (n, 3)``
(:func:`calls_from_predictions` turns it into calls); a caller gives ``call(bam, reference, sample=)``
(every call of a BAM, candidates or not).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from genotx.bio.alignments import read_reference
from genotx.data.formats.vcf import read_vcf
from genotx.models.nets import train_network
from genotx.settings import settings
from genotx.tasks.target_discovery.variant_calling.features import CHANNELS
from genotx.tasks.target_discovery.variant_calling.scoring import variant_scores

__all__ = ["PileupNet", "PileupEnsemble", "PileupGenotyper", "AlleleFractionGenotyper", "BcftoolsCaller", "bcftools_calls",
           "calls_from_predictions", "indexed_copy", "QUAL_GRID"]

QUAL_GRID = (0.0, 3.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0)


def _tensors(X) -> np.ndarray:
    """The pileup tensors of ``X``: a :func:`~.features.model_frame` (its ``pileup`` column) or an array."""
    if isinstance(X, pd.DataFrame):
        return np.stack(X["pileup"].to_numpy()).astype(np.float32, copy=False) if len(X) else np.zeros((0, CHANNELS, 1, 1), np.float32)
    return np.asarray(X, dtype=np.float32)


def centre_evidence(x: torch.Tensor) -> torch.Tensor:
    """Per-candidate summaries of the reads at the centre column: (b, 6).

    Genotype log-likelihood ratios from base qualities (bcftools-style: a read supports the alt or
    not, and is wrong with probability 10^(-Q/10); deleted bases count as Q20) for 1 vs 0 and 2 vs 1
    alt copies (/10, clipped), the alt fraction, the alt reads' forward-strand fraction, the
    reference reads' forward-strand fraction and the depth / 30.
    """
    centre = x[:, :, :, x.shape[-1] // 2]  # (b, c, r)
    present = (centre[:, 3] != 0).float()
    alt = (centre[:, 4] > 0).float() * present
    ref = present - alt
    q = centre[:, 1] * 40.0
    e = torch.where(q > 0, torch.pow(10.0, -q / 10.0), torch.full_like(q, 0.01)).clamp(1e-4, 0.5)
    p_ref = torch.where(alt > 0, e, 1 - e)
    p_alt = torch.where(alt > 0, 1 - e, e)
    gl0 = (present * torch.log(p_ref)).sum(1)
    gl1 = (present * torch.log(0.5 * p_ref + 0.5 * p_alt)).sum(1)
    gl2 = (present * torch.log(p_alt)).sum(1)
    depth = present.sum(1)
    forward = (centre[:, 3] > 0).float()
    return torch.stack([
        ((gl1 - gl0) / 10).clamp(-5, 5), ((gl2 - gl1) / 10).clamp(-5, 5),
        alt.sum(1) / depth.clamp(min=1),
        (alt * forward).sum(1) / alt.sum(1).clamp(min=1), (ref * forward).sum(1) / ref.sum(1).clamp(min=1),
        depth / 30.0,
    ], 1)


class PileupNet(nn.Module):
    """Per-read, per-position features (1x1 convolutions), pooled over reads, then 1-D convolutions
    along the reference window and a genotype head (3 classes) that also sees :func:`centre_evidence`.

    Pooling over reads (masked mean and depth-scaled sum) makes the call independent of read order;
    doing it before the window convolutions keeps the network small and fast on a CPU.
    """

    def __init__(self, channels: int = CHANNELS, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.cell = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU())
        self.window = nn.Sequential(
            nn.Conv1d(2 * hidden + channels, hidden, 5, padding=2), nn.ReLU(),
            nn.Conv1d(hidden, hidden, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(2 * hidden + 6, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, r, w = x.shape
        mask = (x[:, 3] != 0).float()[:, None]  # (b, 1, r, w): a read covers the cell
        z = self.cell(x) * mask  # (b, h, r, w)
        count = mask.sum(2)  # (b, 1, w)
        mean = z.sum(2) / count.clamp(min=1.0)
        summed = z.sum(2) / 30.0
        raw = (x * mask).sum(2) / count.clamp(min=1.0)  # mean of each input channel per column
        y = self.window(torch.cat([mean, summed, raw], 1))  # (b, h, w)
        centre = y[:, :, w // 2 - 2 : w // 2 + 3].amax(-1)
        return self.head(torch.cat([centre, y.amax(-1), centre_evidence(x)], 1))


class PileupEnsemble(nn.Module):
    """Several :class:`PileupNet` whose softmax outputs are averaged; ``forward`` returns log mean probabilities."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proba = torch.stack([torch.softmax(member(x), 1) for member in self.members]).mean(0)
        return torch.log(proba.clamp_min(1e-12))


class PileupGenotyper(ClassifierMixin, BaseEstimator):
    """CNN genotype classifier on pileup tensors ``(n, CHANNELS, rows, width)``; classes 0, 1, 2.

    ``X`` is a :func:`~.features.model_frame` (its ``pileup`` column is read) or the tensors themselves.

    ``n_models`` networks are trained from different seeds (``random_state * 1000 + k``) and their
    probabilities averaged: one network's calls depend visibly on its seed, the average's less so.
    ``class_weight``: ``"balanced"`` (inverse class frequency in the loss) or ``None``.
    ``validation_fraction=0`` trains each for exactly ``epochs`` epochs (no early stopping on a
    small, noisy validation slice).
    """

    def __init__(self, *, hidden: int = 32, epochs: int = 60, batch_size: int = 32, lr: float = 1e-3,
                 weight_decay: float = 1e-4, patience: int = 12, validation_fraction: float = 0.1, n_models: int = 1,
                 class_weight: str | None = "balanced", n_threads: int = 1, random_state: int = 0) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_models = n_models
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.random_state = random_state

    def build(self, channels: int = CHANNELS) -> nn.Module:
        """The (untrained) network: one :class:`PileupNet`, or a :class:`PileupEnsemble` of ``n_models``."""
        nets = [PileupNet(channels, self.hidden) for _ in range(self.n_models)]
        return nets[0] if self.n_models == 1 else PileupEnsemble(nets)

    def fit(self, X, y: np.ndarray) -> "PileupGenotyper":
        X = _tensors(X)
        y = np.asarray(y, dtype=np.int64)
        torch.manual_seed(self.random_state)
        self.network_ = self.build(X.shape[1])
        members = [self.network_] if self.n_models == 1 else list(self.network_.members)
        counts = np.bincount(y, minlength=3).astype(float)
        if self.class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, not {self.class_weight!r}")
        balanced = counts.sum() / (3 * np.maximum(counts, 1)) if self.class_weight == "balanced" else np.ones(3)
        weight = torch.as_tensor(balanced, dtype=torch.float32)
        self.history_ = {"best_epoch": [], "members": []}
        with settings.limit_threads(self.n_threads):  # torch's 2-thread spin-waiting is ~10x slower on a busy machine
            for k, member in enumerate(members):
                seed = self.random_state if self.n_models == 1 else self.random_state * 1000 + k
                history = train_network(member, X, y, loss=nn.CrossEntropyLoss(weight=weight), epochs=self.epochs,
                                        batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                                        validation_fraction=self.validation_fraction, patience=self.patience, random_state=seed)
                self.history_["members"].append(history)
                self.history_["best_epoch"].append(history["best_epoch"] if self.validation_fraction else self.epochs - 1)
        if self.n_models == 1:
            self.history_["best_epoch"] = self.history_["best_epoch"][0]
        self.network_.eval()
        self.classes_ = np.arange(3)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = _tensors(X)
        self.network_.eval()
        out = []
        with torch.no_grad(), settings.limit_threads(self.n_threads):
            for lo in range(0, len(X), 512):
                batch = torch.as_tensor(np.asarray(X[lo : lo + 512], dtype=np.float32))
                out.append(torch.softmax(self.network_(batch), 1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 3))

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(1)


class AlleleFractionGenotyper(ClassifierMixin, BaseEstimator):
    """Trivial genotyper on a candidate table (``depth``, ``alt_count``): thresholds on the alt fraction."""

    def __init__(self, *, het: float = 0.2, hom: float = 0.8) -> None:
        self.het = het
        self.hom = hom

    def fit(self, X: pd.DataFrame, y=None) -> "AlleleFractionGenotyper":  # noqa: ARG002 - nothing to learn
        self.classes_ = np.arange(3)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "classes_")
        fraction = X["alt_count"].to_numpy(float) / np.maximum(X["depth"].to_numpy(float), 1.0)
        return np.where(fraction < self.het, 0, np.where(fraction < self.hom, 1, 2))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The rule's genotype at probability 0.98 (0.01 each other one), so calls get a QUAL and GQ."""
        return np.eye(3)[self.predict(X)] * 0.98 + 0.01


def calls_from_predictions(candidates: pd.DataFrame, proba: np.ndarray) -> pd.DataFrame:
    """Variant calls (genotype 1 or 2) with QUAL = -10 log10 P(no variant) and GQ from the probabilities:
    one per sample, position and kind (the most likely allele).

    >>> candidates = pd.DataFrame({"sample": ["a", "b", "a"], "contig": "c", "pos": [5, 5, 5], "ref": "A",
    ...                            "alt": ["G", "G", "T"], "kind": "snv"})
    >>> proba = np.array([[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.5, 0.5, 0.0]])
    >>> calls_from_predictions(candidates, proba)[["sample", "alt", "genotype"]].values.tolist()
    [['a', 'G', 1], ['b', 'G', 1]]
    """
    genotype = proba.argmax(1)
    eps = 1e-10
    out = candidates.assign(
        genotype=genotype,
        qual=np.round(-10 * np.log10(np.clip(proba[:, 0], eps, 1.0)), 2),
        gq=np.minimum(np.round(-10 * np.log10(np.clip(1 - proba.max(1), eps, 1.0))), 99).astype(int),
        filter="PASS",
    )
    out = out[out["genotype"] > 0]
    # one call per sample, position and kind: keep the most likely allele (samples are called apart)
    keys = [c for c in ("sample", "contig", "pos", "kind") if c in out]
    out = out.sort_values("qual", ascending=False).drop_duplicates(keys).sort_values(["contig", "pos"])
    return out.reset_index(drop=True)


def bcftools_calls(bam: str | Path, reference_fasta: str | Path, *, min_qual: float = 0.0) -> pd.DataFrame:
    """``bcftools mpileup -f ref -a AD,DP | call -mv | norm -f ref -m -any`` (pysam's bcftools), read back.

    ``reference_fasta`` must be plain (uncompressed or bgzip) with a ``.fai`` index next to it.
    """
    import pysam
    import pysam.bcftools as bcftools

    reference_fasta = str(reference_fasta)
    if not Path(reference_fasta + ".fai").exists():
        pysam.faidx(reference_fasta)
    with tempfile.TemporaryDirectory() as tmp:
        pile, called, normed = (str(Path(tmp) / name) for name in ("p.bcf", "c.bcf", "n.vcf"))
        bcftools.mpileup("-f", reference_fasta, "-a", "AD,DP", "-Ou", "-o", pile, str(bam), catch_stdout=False)
        bcftools.call("-mv", "-Ou", "-o", called, pile, catch_stdout=False)
        bcftools.norm("-f", reference_fasta, "-m", "-any", "-Ov", "-o", normed, called, catch_stdout=False)
        calls = read_vcf(normed)
    calls = calls[calls["qual"].fillna(0) >= min_qual]
    kind = np.where(calls["ref"].str.len() == calls["alt"].str.len(), "snv",
                    np.where(calls["ref"].str.len() > calls["alt"].str.len(), "deletion", "insertion"))
    return calls.assign(kind=kind).reset_index(drop=True)


def indexed_copy(fasta: str | Path, folder: Path) -> Path:
    """A plain, faidx-indexed copy of a (gzip) reference inside ``folder`` (bcftools needs one; the
    user's folder is never written to)."""
    import pysam

    reference = read_reference(fasta)
    path = Path(folder) / "reference.fa"
    path.write_text("".join(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n" for name, seq in reference.items()))
    pysam.faidx(str(path))
    return path


class BcftoolsCaller(BaseEstimator):
    """The classical caller on a sample's BAM; the one thing it learns is its QUAL threshold.

    ``fit(X, y)`` calls every BAM named in ``X`` (a :func:`~.features.model_frame`) and keeps the
    threshold of ``qual_grid`` with the best genotype-aware F1 on the training candidates (a call at a
    candidate against the candidate's true genotype; ties go to the lower threshold).
    ``call(bam, reference, sample=)`` returns every call of a BAM at QUAL >= the threshold (or
    ``min_qual``), candidates or not. Calls of the training files are kept (``calls_``), so a part of
    the same files is not called twice.
    """

    def __init__(self, *, qual_grid: tuple[float, ...] = QUAL_GRID, random_state: int = 0) -> None:
        self.qual_grid = qual_grid
        self.random_state = random_state

    @staticmethod
    def _key(bam, reference) -> tuple:
        bam = Path(bam)
        return str(bam), str(reference), bam.stat().st_size, bam.stat().st_mtime_ns

    def _all_calls(self, bam, reference) -> pd.DataFrame:
        known = getattr(self, "calls_", {}).get(self._key(bam, reference))
        if known is not None:
            return known
        reference = str(reference)
        if Path(reference + ".fai").exists() and not reference.endswith(".gz"):
            return bcftools_calls(bam, reference)
        with tempfile.TemporaryDirectory() as tmp:
            return bcftools_calls(bam, indexed_copy(reference, Path(tmp)))

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> BcftoolsCaller:
        files = X[["sample", "bam", "reference"]].drop_duplicates()
        self.calls_ = {}
        frames = []
        for sample, bam, reference in files.itertuples(index=False):
            calls = self._all_calls(bam, reference)
            self.calls_[self._key(bam, reference)] = calls
            frames.append(calls.assign(sample=sample))
        calls = pd.concat(frames, ignore_index=True)
        keys = ["sample", "pos", "ref", "alt"]
        at_candidates = calls.merge(X[keys].drop_duplicates(), on=keys)
        y = np.asarray(y)
        truth = X.loc[y > 0, keys].assign(genotype=y[y > 0])
        self.f1_by_qual_ = {q: variant_scores(at_candidates[at_candidates["qual"].fillna(0) >= q], truth)["f1"] for q in self.qual_grid}
        self.qual_threshold_ = max(self.f1_by_qual_, key=lambda q: (self.f1_by_qual_[q], -q))
        return self

    def call(self, bam: str | Path, reference: str | Path, *, sample: str, min_qual: float | None = None) -> pd.DataFrame:
        """Calls of ``bam`` (``sample contig pos ref alt kind genotype qual ...``) at QUAL >= the fitted threshold."""
        check_is_fitted(self, "qual_threshold_")
        calls = self._all_calls(bam, reference)
        threshold = self.qual_threshold_ if min_qual is None else min_qual
        return calls[calls["qual"].fillna(0) >= threshold].assign(sample=sample).reset_index(drop=True)
