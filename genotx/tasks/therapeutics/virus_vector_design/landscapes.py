"""The fitness landscapes a design run starts from: measured (or semi-synthetic) variants as a Dataset.

Every builder returns a :class:`~genotx.data.dataset.Dataset` whose ``inputs`` has one column,
``mutations`` (canonical mutation lists, :mod:`.variants`), ``groups`` the number of mutations
(``n_mutations``: the few -> more split reads it) and ``context`` the wild type (``wild_type``,
numbered from ``first``). A semi-synthetic landscape also puts its noise-free fitness function in
``context["landscape"]``, so the design protocol scores designs by the truth the oracle never saw.

``spike_semisynthetic`` (the task's default) builds multi-mutant fitness from real parts: the
measured cell-entry effect of each single spike mutation (real, Dadonaite et al. 2023) and the real
genotypes of the barcoded library Lib-2 (1-18 mutations per variant), combined by a global-epistasis
sigmoid (:class:`genotx.simulate.landscapes.GlobalEpistasis`: effects add on a latent scale and saturate at a floor and a
ceiling, as in the Bloom lab's own models) plus measurement noise at the effects' median
between-library standard deviation. No multi-mutant entry measurement ships offline; the library's
only measured phenotype (antibody escape) is too noisy to design on (barcode halves: Spearman ~0.1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.simulate.landscapes import global_epistasis_library
from genotx.tasks.therapeutics.virus_vector_design import variants as V

__all__ = ["spike_effects", "spike_wild_type", "spike_semisynthetic", "spike_entry", "gb1",
           "from_table", "AAV2_REGION", "AAV2_FIRST"]

log = logging.getLogger(__name__)

#: AAV2 VP1 residues 561-588 (UniProt P03135), the region Bryant et al. 2021 diversified
AAV2_REGION = "DEEEIRTTNPVATEQYGSVSTNLQRGNR"
AAV2_FIRST = 561
GB1_FIRST = 2  # mavenn's GB1 sequences start at residue 2 of protein G's B1 domain (Olson et al. 2014)


def spike_effects(path: str | Path) -> pd.DataFrame:
    """The polyclonal entry-effect table with a ``token`` column (``S443P``; sequential numbering)."""
    table = pd.read_csv(path)
    table["token"] = table["wildtype"] + table["sequential_site"].astype(str) + table["mutant"]
    return table


def spike_wild_type(effects: pd.DataFrame) -> str:
    """The BA.1 spike sequence (sequential sites 1..1250) from the wild-type rows of the effect table."""
    wild = effects.drop_duplicates("sequential_site").sort_values("sequential_site")
    if wild["sequential_site"].tolist() != list(range(1, len(wild) + 1)):
        raise ValueError("the effect table does not cover every spike site once")
    return "".join(wild["wildtype"])


def _dataset(name: str, mutations: list[str], target: np.ndarray, *, wild_type: str, first: int, meta: dict,
             arrays: dict | None = None, extra_groups: dict | None = None, landscape=None) -> Dataset:
    n_mut = np.array([len(m.split()) for m in mutations])
    groups = pd.DataFrame({"n_mutations": n_mut, **(extra_groups or {})})
    context = {"wild_type": wild_type, "first": first}
    if landscape is not None:
        context["landscape"] = landscape
    return Dataset(name, pd.DataFrame({"mutations": mutations}), np.asarray(target, dtype=float), groups, meta,
                   arrays or {}, context)


def spike_semisynthetic(effects_path: str | Path, library_path: str | Path, *, random_state: int = 0) -> Dataset:
    """Real library genotypes x real single-mutation entry effects -> global-epistasis fitness + noise."""
    effects = spike_effects(effects_path)
    wild_type = spike_wild_type(effects)
    changed = effects[effects["wildtype"] != effects["mutant"]]
    effect_of = dict(zip(changed["token"], changed["effect"]))
    library = pd.read_csv(library_path, dtype={"aa_substitutions": str}, keep_default_na=False)
    mutations = [V.canonical(m.split()) for m in library["aa_substitutions"]]
    known = np.array([all(t in effect_of for t in m.split()) for m in mutations])
    if (~known).any():
        log.info("spike library: %d variant(s) with a mutation of no measured effect left out", int((~known).sum()))
    mutations = [m for m, k in zip(mutations, known) if k]
    noise = float(np.nanmedian(effects["effect_std"]))
    land, truth, measured = global_epistasis_library(effect_of, mutations, noise=noise, random_state=random_state)
    meta = {"sources": ("polyclonal_spike",), "data_kind": "semi-synthetic",
            "simulated": f"multi-mutant fitness = global-epistasis sigmoid of the real single-mutation entry effects "
                         f"(floor {land.low:.2f}, ceiling {land.high:.2f}) + Gaussian noise sd {noise:.3f} (seed "
                         f"{random_state}); real: the 10,521 single-mutation effects and the library genotypes",
            "stand_in": "SARS-CoV-2 spike stands in for an AAV capsid (no capsid landscape ships offline)"}
    return _dataset("virus_vector_design", mutations, measured, wild_type=wild_type, first=1, meta=meta,
                    arrays={"true_fitness": truth, "n_barcodes": library["n_barcodes"].to_numpy()[known]}, landscape=land)


def spike_entry(effects_path: str | Path) -> Dataset:
    """The real single-mutant landscape: the wild type (fitness 0) and the 10,521 measured entry effects."""
    effects = spike_effects(effects_path)
    changed = effects[effects["wildtype"] != effects["mutant"]]
    mutations = [""] + changed["token"].tolist()
    target = np.concatenate([[0.0], changed["effect"].to_numpy(float)])
    meta = {"sources": ("polyclonal_spike_entry",), "data_kind": "real",
            "stand_in": "SARS-CoV-2 spike stands in for an AAV capsid (no capsid landscape ships offline)"}
    return _dataset("virus_vector_design", mutations, target, wild_type=spike_wild_type(effects), first=1, meta=meta)


def gb1(path: str | Path, *, n_variants: int | None = 60_000, random_state: int = 0) -> Dataset:
    """MAVE-NN's GB1 double mutants (Olson et al. 2014; log2 enrichment), a seeded sample of ``n_variants``
    (None: all 530,737); the wild type is the per-position consensus (the file has no wild-type row)."""
    table = pd.read_csv(path, usecols=["x", "y"])
    if n_variants is not None and n_variants < len(table):
        table = table.iloc[np.sort(np.random.default_rng(random_state).choice(len(table), n_variants, replace=False))]
    seqs = table["x"].astype(str).tolist()
    codes = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8).reshape(len(seqs), -1)
    wild_type = "".join(chr(np.bincount(col).argmax()) for col in codes.T)
    mutations = V.from_sequences(seqs, wild_type, first=GB1_FIRST)
    meta = {"sources": ("mavenn_gb1",), "data_kind": "real",
            "stand_in": "protein G B1 domain (IgG binding) as a second, non-viral landscape"}
    return _dataset("virus_vector_design", mutations, table["y"].to_numpy(float), wild_type=wild_type, first=GB1_FIRST, meta=meta)


def from_table(table: pd.DataFrame, *, source: str, wild_type: str, first: int) -> Dataset:
    """A reader's table (``mutations``, ``fitness`` and any group columns) as a real landscape."""
    extra = {c: table[c].to_numpy() for c in table.columns if c not in ("mutations", "fitness")}
    meta = {"sources": (source,), "data_kind": "real"}
    return _dataset("virus_vector_design", table["mutations"].tolist(), table["fitness"].to_numpy(float),
                    wild_type=wild_type, first=first, meta=meta, extra_groups=extra)
