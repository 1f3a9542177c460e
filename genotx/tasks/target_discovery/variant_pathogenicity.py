"""Variant effect / pathogenicity: a protein variant (sequence) -> effect; ranking of causal positions.

Registered with its SPEC; not implemented yet (``genotx run variant_pathogenicity`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='variant_pathogenicity',
    number=8,
    stage='target_discovery',
    title='Variant effect / pathogenicity',
    formulation='a protein variant (sequence) -> effect; ranking of causal positions',
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('mavenn_tdp43', 'mavenn_abeta', 'mavenn_gb1'),
    splits=('random', 'singles_to_doubles'),
    metrics=('pearson', 'spearman'),
    baselines=('global_epistasis', 'additive', 'mean'),
    trivial='mean',
    data_note='',
    status="not implemented yet",
)
