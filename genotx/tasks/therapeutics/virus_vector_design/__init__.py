"""Virus vector design: capsid/protein variants with a measured property -> oracle, then new high-scoring diverse designs.

Registered with its SPEC; not implemented yet (``genotx run virus_vector_design`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='virus_vector_design',
    number=16,
    stage='therapeutics',
    title='Virus vector design',
    formulation='capsid/protein variants with a measured property -> oracle, then new high-scoring diverse designs',
    protocol='design',
    target='regression',
    data_kind='real',
    sources=('polyclonal_spike',),
    splits=('random',),
    metrics=('spearman', 'top_k_fitness', 'novelty', 'diversity'),
    baselines=('lgbm_oracle', 'random_mutants'),
    trivial='random_mutants',
    data_note='AAV capsid data does not ship offline: a real viral (SARS-CoV-2 spike) fitness landscape stands in',
    status="not implemented yet",
)
