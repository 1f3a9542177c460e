"""Virus vector design: measured capsid/protein variants -> a fitness oracle, then new high-fitness,
diverse variants within a mutation budget (the design protocol: oracle + generator).

Default data (semi-synthetic; a stand-in for AAV capsids, none of which ship offline): the SARS-CoV-2
BA.1 spike deep mutational scan of ``polyclonal==6.17`` (non-commercial licence, read at fetch time).
Real: the cell-entry effects of 10,521 single mutations and the genotypes of 63,896 barcoded library
variants (1-18 mutations). Simulated: each library variant's fitness, the real single effects combined
by a global-epistasis sigmoid plus noise (:mod:`.landscapes`), so designs are also scored by a truth
no model saw (``design_mean_true``). Real landscapes: ``polyclonal_spike_entry`` (the measured single
mutants), ``mavenn_gb1`` (GB1 double mutants, a seeded 60,000), and a user's AAV2 capsid files
``bryant2021_aav`` (Bryant 2021) and ``flip_aav`` (a FLIP AAV split), read by :mod:`.io`.

Oracle: ridge on mutation features (:func:`.models.additive_oracle`). Generators, each at most
``BUDGET`` mutations from the wild type: ``evolution`` (model-guided evolutionary search),
``ensemble_ucb`` (bootstrap-ensemble upper-confidence-bound batch acquisition) and the floor
``random_mutants``. Under the :class:`~genotx.evaluate.protocols.Design` protocol a generator is
fitted on one half of the training variants and its designs scored by an oracle fitted on the other
half. Splits: ``random`` (20 % held out) and ``few_to_more`` (train on <= 2 mutations, test on more;
FLIP's two_vs_many).

``genotx predict virus_vector_design --input variants.csv --out scored.csv -o designs=50`` scores a
CSV of spike variants (``-o numbering=reference`` for Wuhan-Hu-1 site numbers) and appends 50 new
designs within ``-o budget=5`` mutations; ``-o aav=allseqs.csv`` trains on your AAV2 table instead and
reads AAV2 VP1 561-588 variants (:mod:`.io`).
"""

from __future__ import annotations

from genotx.data.dataset import Dataset
from genotx.data.source import source_files
from genotx.evaluate.protocols import Design
from genotx.evaluate.splits import RandomSplit
from genotx.tasks.spec import TaskSpec
from genotx.tasks.therapeutics.virus_vector_design import landscapes
from genotx.tasks.therapeutics.virus_vector_design.io import (
    INPUT_OPTIONS, PREDICT_OPTIONS, TRAIN_OPTIONS, format_predictions, read_bryant, read_flip, read_input, training_data,
)
from genotx.tasks.therapeutics.virus_vector_design.models import EnsembleUCB, Evolution, RandomMutants, additive_oracle
from genotx.tasks.therapeutics.virus_vector_design.splits import MutationCountSplit

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "oracle", "BUDGET", "N_DESIGNS", "PREDICT_OPTIONS",
           "INPUT_OPTIONS", "TRAIN_OPTIONS", "training_data", "read_input", "format_predictions"]

SPEC = TaskSpec(
    name="virus_vector_design",
    number=16,
    stage="therapeutics",
    title="Virus vector design",
    formulation="measured capsid/protein variants -> fitness oracle, then new high-fitness diverse variants "
    "within a mutation budget",
    protocol="design",
    target="regression",
    data_kind="semi-synthetic",
    sources=("polyclonal_spike", "polyclonal_spike_entry", "mavenn_gb1", "bryant2021_aav", "flip_aav"),
    splits=("random", "few_to_more"),
    metrics=("design_mean_predicted", "oracle_spearman", "design_mean_true", "design_top10pct_predicted",
             "design_diversity", "design_novelty"),
    baselines=("evolution", "ensemble_ucb", "random_mutants"),
    trivial="random_mutants",
    data_note="Stand-in for AAV capsids (no capsid fitness data ships offline): the SARS-CoV-2 BA.1 spike DMS of "
    "polyclonal 6.17 (non-commercial licence, read at fetch time). Semi-synthetic: real single-mutation "
    "cell-entry effects (10,521) and real library genotypes (63,896 variants, 1-18 mutations); each variant's "
    "fitness is simulated from the real effects by a global-epistasis sigmoid plus noise (sd = the effects' "
    "median between-library sd). design_mean_true scores designs by that simulated truth; design_mean_predicted "
    "by an oracle trained on training variants the generator never saw. Real alternatives: load(source="
    "'polyclonal_spike_entry'), 'mavenn_gb1', and your Bryant 2021 or FLIP AAV files.",
    citation="Dadonaite et al. (2023) Cell 186:1263 (spike DMS); Bryant et al. (2021) Nat Biotechnol 39:691 (AAV2); "
    "Dallago et al. (2021) FLIP; Olson et al. (2014) Curr Biol 24:2643 (GB1)",
)

BUDGET = 5  # most mutations of a design from the wild type
N_DESIGNS = 200


def load(*, source: str | None = None, random_state: int = 0) -> Dataset:
    """The default semi-synthetic spike landscape, or the landscape of ``source`` (see the module docstring)."""
    source = source or "polyclonal_spike"
    files = source_files(source)
    if source == "polyclonal_spike":
        return landscapes.spike_semisynthetic(files["effects"], files["library"], random_state=random_state)
    if source == "polyclonal_spike_entry":
        return landscapes.spike_entry(files["effects"])
    if source == "mavenn_gb1":
        return landscapes.gb1(files["data"], random_state=random_state)
    table = read_bryant(files["sequences"]) if source == "bryant2021_aav" else read_flip(files["split"])
    return landscapes.from_table(table, source=source, wild_type=landscapes.AAV2_REGION, first=landscapes.AAV2_FIRST)


def oracle(*, random_state: int = 0):
    """The task's oracle: a fresh additive mutation-effect ridge (scorer, guide and ``oracle_*`` metrics)."""
    return additive_oracle(random_state)


SPLITS = {"random": RandomSplit(0.2), "few_to_more": MutationCountSplit(max_train=2)}

MODELS = {
    "evolution": lambda random_state=0: Evolution(budget=BUDGET),
    "ensemble_ucb": lambda random_state=0: EnsembleUCB(budget=BUDGET, random_state=random_state),
    "random_mutants": lambda random_state=0: RandomMutants(budget=BUDGET),
}

PROTOCOL = Design(n_designs=N_DESIGNS, variants="mutations", budget=BUDGET)
