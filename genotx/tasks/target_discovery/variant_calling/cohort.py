"""The variant-calling pipeline pieces: simulate and align samples (cached), pileups per BAM, VCF out.

:func:`simulated_cohort` simulates ``n_samples`` diploid samples from a reference (seeded), reads
from each (Illumina-like), aligns them with :class:`~genotx.bio.aligner.KmerAligner` and
writes one sorted, indexed BAM and one truth table per sample, cached under
``$GENOTX_HOME/simulated/variant_calling/<key>`` (the key hashes the reference and every setting).
:func:`bam_pileups` reads a BAM and returns its candidates and their pileup tensors.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path, genotx_home, sha256_bytes
from genotx.bio.alignments import read_alignments, write_bam
from genotx.tasks.target_discovery.variant_calling.features import find_candidates, pileup_tensors
from genotx.bio.aligner import KmerAligner
from genotx.seq.codes import reverse_complement
from genotx.simulate.reads import haplotypes, simulate_reads, simulate_variants

__all__ = ["CohortSettings", "SimulatedSample", "simulated_cohort", "bam_pileups", "label_candidates"]

SIMULATION_VERSION = 2


@dataclass(frozen=True)
class CohortSettings:
    """Everything that defines the simulated cohort (part of the cache key)."""

    n_samples: int = 4
    coverages: tuple[float, ...] = (25.0, 15.0, 30.0, 20.0)
    read_length: int = 100
    variant_rate: float = 1 / 80
    indel_fraction: float = 0.3
    hom_fraction: float = 0.35
    random_state: int = 0


@dataclass(frozen=True)
class SimulatedSample:
    name: str
    bam: Path
    truth: pd.DataFrame


def _plain_reference(contig: str, sequence: str, folder: Path) -> Path:
    path = folder / "reference.fa"
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_text(f">{contig}\n" + "\n".join(sequence[i : i + 60] for i in range(0, len(sequence), 60)) + "\n")
    if not Path(str(path) + ".fai").exists():
        import pysam

        pysam.faidx(str(path))
    return path


def simulated_cohort(contig: str, sequence: str, settings: CohortSettings = CohortSettings()) -> tuple[Path, list[SimulatedSample]]:
    """(plain reference FASTA, samples) for the simulated cohort, built once and cached."""
    key = sha256_bytes(json.dumps({"v": SIMULATION_VERSION, "ref": sha256_bytes(sequence.encode()), **asdict(settings)},
                                  sort_keys=True).encode())[:16]
    folder = genotx_home() / "simulated" / "variant_calling" / key
    folder.mkdir(parents=True, exist_ok=True)
    reference = _plain_reference(contig, sequence, folder)
    aligner = None
    samples = []
    for s in range(settings.n_samples):
        name = f"sim{s}"
        bam, truth_path = folder / f"{name}.bam", folder / f"{name}.truth.tsv"
        if not (bam.exists() and Path(str(bam) + ".bai").exists() and truth_path.exists()):
            aligner = aligner or KmerAligner(sequence)
            _simulate_one(name, contig, sequence, settings, s, aligner, bam, truth_path)
        samples.append(SimulatedSample(name, bam, pd.read_csv(truth_path, sep="\t")))
    return reference, samples


def _simulate_one(name, contig, sequence, settings, index, aligner, bam, truth_path) -> None:
    seed = settings.random_state * 1000 + index
    truth = simulate_variants(sequence, random_state=seed, variant_rate=settings.variant_rate,
                              indel_fraction=settings.indel_fraction, hom_fraction=settings.hom_fraction)
    coverage = settings.coverages[index % len(settings.coverages)]
    reads = simulate_reads(haplotypes(sequence, truth), coverage=coverage, read_length=settings.read_length, random_state=seed + 500)
    hits = aligner.align(reads.bases)
    # BAM stores reference orientation: reverse-strand hits get reverse-complemented bases, reversed qualities
    bases = np.where(hits.reverse[:, None], reverse_complement(reads.bases), reads.bases)
    quals = np.where(hits.reverse[:, None], reads.quals[:, ::-1], reads.quals)
    names = [f"{name}_r{i}" for i in range(len(reads))]
    tmp_bam = bam.with_suffix(".tmp.bam")
    write_bam(tmp_bam, contig=contig, reference=sequence, names=names, bases=bases, quals=quals, start=hits.start,
              reverse=hits.reverse, mapq=hits.mapq, cigars=hits.cigars, sample=name)
    shutil.move(str(tmp_bam) + ".bai", str(bam) + ".bai")
    shutil.move(tmp_bam, bam)
    with atomic_path(truth_path) as tmp:
        truth.assign(contig=contig).to_csv(tmp, sep="\t", index=False)


def bam_pileups(bam: str | Path, reference: dict[str, str], *, rows: int = 40, half_window: int = 12,
                random_state: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Candidates (all contigs) and their pileup tensors for one BAM/SAM file."""
    frames, tensors = [], []
    for contig, images in read_alignments(bam, reference).items():
        candidates = find_candidates(images, reference[contig])
        frames.append(candidates)
        tensors.append(pileup_tensors(images, candidates, reference[contig], rows=rows, half_window=half_window,
                                      random_state=random_state))
    if not frames:
        return pd.DataFrame(columns=["contig", "pos", "ref", "alt", "kind", "depth", "alt_count"]), np.zeros((0, 8, rows, 2 * half_window + 1), np.float32)
    return pd.concat(frames, ignore_index=True), np.concatenate(tensors)


def label_candidates(candidates: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Alt copies of each candidate allele in the truth (0 when the candidate is not a true variant)."""
    copies = {(int(p), r, a): int(g) for p, r, a, g in zip(truth["pos"], truth["ref"], truth["alt"], truth["genotype"])}
    return np.array([copies.get((int(p), r, a), 0) for p, r, a in zip(candidates["pos"], candidates["ref"], candidates["alt"])], dtype=np.int64)

