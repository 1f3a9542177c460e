"""RNA splicing: 5' splice-site 9-mer -> PSI; site vs decoy classification.

Registered with its SPEC; not implemented yet (``genotx run rna_splicing`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='rna_splicing',
    number=3,
    stage='target_discovery',
    title='RNA splicing',
    formulation="5' splice-site 9-mer -> PSI; site vs decoy classification",
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('mavenn_mpsa',),
    splits=('predefined',),
    metrics=('pearson', 'spearman'),
    baselines=('mlp', 'additive', 'mean'),
    trivial='mean',
    data_note='',
    status="not implemented yet",
)
