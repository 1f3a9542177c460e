"""SIMULATED genotypes of three human populations and a polygenic phenotype with shared causal effects.

The design of Martin et al. (2017, Am J Hum Genet 100:635), scaled down to run in seconds:

* genotypes: :func:`simulate_genotypes` runs stdpopsim's ``HomSap`` ``OutOfAfrica_3G09`` model
  (Gutenkunst et al. 2009: YRI, CEU, CHB, with the out-of-Africa bottleneck, the European / East
  Asian split and migration) through msprime, on ``n_contigs`` independent generic contigs of
  ``contig_length`` bp each (stdpopsim's flat recombination map at the species' mean rate, no
  HapMap map; the model's mutation rate). Diploid individuals; biallelic sites whose minor allele
  frequency over all simulated individuals is at least ``min_maf``;
* phenotype: :func:`plant_phenotype` draws ``n_causal`` causal sites at random among those sites
  and one effect per causal site, the same in every population, ``beta_j ~ N(0, h2 / M)`` on the
  genotype standardised with the pooled allele frequency (rarer alleles have larger per-allele
  effects); the genetic value is scaled to variance ``h2`` over the pooled sample and Gaussian
  environmental noise is added with a variance per population that gives each population the same
  heritability ``h2`` (the genetic variance differs between populations with the allele frequencies).

:func:`simulate_cohort` does both and returns an :class:`AncestryCohort`. Nothing is written; the
same ``random_state`` gives the same cohort.

Examples
--------
>>> cohort = simulate_cohort({"YRI": 30, "CEU": 30, "CHB": 30}, n_contigs=1, contig_length=100_000,
...                          n_causal=5, random_state=1)
>>> cohort.genotypes.shape[0], sorted(set(cohort.population)), cohort.genotypes.dtype.name
(90, ['CEU', 'CHB', 'YRI'], 'int8')
>>> bool(abs(cohort.phenotype.var() - 1.0) < 0.5), len(cohort.causal)
(True, 5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genotx.errors import InputError, require_extra

__all__ = ["POPULATIONS", "MODEL", "AncestryCohort", "simulate_genotypes", "plant_phenotype", "simulate_cohort"]

#: The three populations of the demographic model, as stdpopsim names them.
POPULATIONS: tuple[str, ...] = ("YRI", "CEU", "CHB")
#: stdpopsim species and demographic model.
MODEL: tuple[str, str] = ("HomSap", "OutOfAfrica_3G09")


@dataclass(frozen=True)
class AncestryCohort:
    """Simulated individuals: ``genotypes`` (individuals x sites, derived-allele counts 0/1/2,
    int8), ``population`` (per individual), ``phenotype`` and its ``genetic_value``; the
    ``variants`` table (``contig``, ``position``, pooled ``frequency`` of the derived allele); the
    ``causal`` site indices and their ``effects`` (per standardised genotype); ``meta`` says how it
    was simulated (model, sizes, seed, heritability per population)."""

    genotypes: np.ndarray
    population: np.ndarray
    phenotype: np.ndarray
    genetic_value: np.ndarray
    variants: pd.DataFrame
    causal: np.ndarray
    effects: np.ndarray
    meta: Mapping = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.phenotype)

    def __repr__(self) -> str:
        sizes = dict(zip(*np.unique(self.population, return_counts=True)))
        return (f"AncestryCohort(SIMULATED {MODEL[1]}, individuals={ {k: int(v) for k, v in sizes.items()} }, "
                f"sites={self.genotypes.shape[1]}, causal={len(self.causal)})")


def _check_samples(samples: Mapping[str, int]) -> dict[str, int]:
    unknown = [p for p in samples if p not in POPULATIONS]
    if unknown:
        raise InputError("simulate_genotypes", f"unknown population {unknown[0]!r}", fix=f"use some of {list(POPULATIONS)}")
    counts = {p: int(n) for p, n in samples.items() if int(n) > 0}
    if sum(counts.values()) < 2:
        raise InputError("simulate_genotypes", "fewer than 2 individuals requested", fix="ask for more individuals")
    return counts


def simulate_genotypes(samples: Mapping[str, int], *, n_contigs: int = 5, contig_length: int = 1_000_000,
                       min_maf: float = 0.01, random_state: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Diploid genotypes of ``samples`` (population -> number of individuals) under OutOfAfrica_3G09.

    Returns ``(genotypes, population, variants)``: derived-allele counts (individuals x sites, int8,
    individuals in the order of ``samples``), each individual's population, and a table of the kept
    sites (``contig``, ``position``, ``frequency``). Contig ``i`` is simulated with seed
    ``random_state * 1000 + i + 1`` (msprime needs seeds > 0), so contigs are independent.
    """
    require_extra("stdpopsim", "ancestry")
    require_extra("msprime", "ancestry")
    import stdpopsim  # imported on use: the simulator is the only user in genotx

    counts = _check_samples(samples)
    if n_contigs < 1 or contig_length < 1_000:
        raise InputError("simulate_genotypes", f"{n_contigs} contigs of {contig_length} bp", fix="ask for >= 1 contig of >= 1 kb")
    species = stdpopsim.get_species(MODEL[0])
    model = species.get_demographic_model(MODEL[1])
    engine = stdpopsim.get_engine("msprime")
    blocks, tables = [], []
    population = None
    for i in range(n_contigs):
        contig = species.get_contig(length=contig_length, mutation_rate=model.mutation_rate)
        ts = engine.simulate(model, contig, counts, seed=random_state * 1000 + i + 1)
        n = ts.num_samples
        # derived-allele counts of every site in one C pass (a Python loop over sites is 4x slower)
        derived = ts.sample_count_stat([ts.samples()], lambda x: x, 1, windows="sites", mode="site", polarised=True,
                                       span_normalise=False, strict=False)[:, 0]
        n_mutations = np.bincount(ts.tables.mutations.site, minlength=ts.num_sites)
        keep = (n_mutations == 1) & (np.minimum(derived, n - derived) >= min_maf * n)
        kept = ts.delete_sites(np.flatnonzero(~keep))
        haplotypes = kept.genotype_matrix()  # sites x sample nodes
        nodes = np.array([ind.nodes for ind in kept.individuals()])
        blocks.append((haplotypes[:, nodes[:, 0]] + haplotypes[:, nodes[:, 1]]).T.astype(np.int8))
        tables.append(pd.DataFrame({"contig": i, "position": kept.tables.sites.position.astype(np.int64),
                                    "frequency": derived[keep] / n}))
        if population is None:
            names = np.array([kept.population(p).metadata["name"] for p in range(kept.num_populations)], dtype=object)
            population = names[kept.individuals_population]
    return np.hstack(blocks), population, pd.concat(tables, ignore_index=True)


def plant_phenotype(genotypes: np.ndarray, *, population: np.ndarray | None = None, n_causal: int = 100,
                    heritability: float = 0.5, random_state: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A phenotype with ``n_causal`` causal sites (effects shared by all individuals) and ``heritability``.

    With ``population`` (one label per individual), the environmental variance is set per population
    so that the heritability is ``heritability`` within each (the genetic variance differs with the
    allele frequencies; accuracy gaps then come from LD and frequency differences, not from unequal
    heritability). Without it, one environmental variance for all. Returns ``(phenotype, genetic_value, causal, effects)``: see the module docstring for the model.

    Examples
    --------
    >>> g = np.random.default_rng(0).binomial(2, 0.3, size=(2000, 50)).astype(np.int8)
    >>> y, gv, causal, beta = plant_phenotype(g, n_causal=10, heritability=0.6, random_state=0)
    >>> round(float(gv.var()), 3), bool(abs(np.corrcoef(y, gv)[0, 1] ** 2 - 0.6) < 0.06)
    (0.6, True)
    """
    if not 0 < heritability < 1:
        raise InputError("plant_phenotype", f"heritability {heritability}", fix="choose a heritability in (0, 1)")
    genotypes = np.asarray(genotypes)
    frequency = genotypes.mean(axis=0) / 2
    usable = np.flatnonzero((frequency > 0) & (frequency < 1))
    if not 1 <= n_causal <= len(usable):
        raise InputError("plant_phenotype", f"{n_causal} causal sites among {len(usable)} polymorphic ones",
                         fix="ask for fewer causal sites or simulate more contigs")
    rng = np.random.default_rng(random_state)
    causal = np.sort(rng.choice(usable, n_causal, replace=False))
    effects = rng.normal(0.0, np.sqrt(heritability / n_causal), n_causal)
    p = frequency[causal]
    standardised = (genotypes[:, causal] - 2 * p) / np.sqrt(2 * p * (1 - p))
    genetic = standardised @ effects
    genetic = (genetic - genetic.mean()) / genetic.std() * np.sqrt(heritability)
    noise = rng.normal(0.0, 1.0, len(genetic))
    if population is None:
        return genetic + noise * np.sqrt(1 - heritability), genetic, causal, effects
    # the same effects everywhere; the environmental variance of each population gives it the same h2
    phenotype = np.empty_like(genetic)
    for name in pd.unique(np.asarray(population)):
        rows = np.asarray(population) == name
        phenotype[rows] = genetic[rows] + noise[rows] * np.sqrt(genetic[rows].var() * (1 - heritability) / heritability)
    return phenotype, genetic, causal, effects


def simulate_cohort(samples: Mapping[str, int], *, n_contigs: int = 5, contig_length: int = 1_000_000,
                    n_causal: int = 100, heritability: float = 0.5, min_maf: float = 0.01,
                    random_state: int = 0) -> AncestryCohort:
    """Genotypes (:func:`simulate_genotypes`) and a phenotype (:func:`plant_phenotype`), one seed for both."""
    genotypes, population, variants = simulate_genotypes(samples, n_contigs=n_contigs, contig_length=contig_length,
                                                         min_maf=min_maf, random_state=random_state)
    phenotype, genetic, causal, effects = plant_phenotype(genotypes, population=population, n_causal=n_causal,
                                                          heritability=heritability, random_state=random_state)
    per_population = {}
    for name in pd.unique(population):
        rows = population == name
        per_population[str(name)] = round(float(genetic[rows].var() / phenotype[rows].var()), 4)
    meta = {"data_kind": "simulated", "species": MODEL[0], "demographic_model": MODEL[1], "engine": "msprime",
            "samples": dict(samples), "n_contigs": n_contigs, "contig_length": contig_length,
            "recombination_map": "flat (stdpopsim generic contig, species mean rate)", "min_maf": min_maf,
            "n_causal": n_causal, "heritability": heritability, "realised_heritability": per_population,
            "random_state": random_state}
    return AncestryCohort(genotypes, population, phenotype, genetic, variants, causal, effects, meta)
