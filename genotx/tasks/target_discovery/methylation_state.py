"""CpG methylation state: a CpG's neighbours' states and distances (+ sequence context) -> methylated or not.

Registered with its SPEC; not implemented yet (``genotx run methylation_state`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='methylation_state',
    number=2,
    stage='target_discovery',
    title='CpG methylation state',
    formulation="a CpG's neighbours' states and distances (+ sequence context) -> methylated or not",
    protocol='supervised',
    target='binary',
    data_kind='real',
    sources=('bsseq_chr22_imr90',),
    splits=('region_blocks',),
    metrics=('auroc', 'aupr', 'accuracy'),
    baselines=('lgbm', 'neighbour_mean'),
    trivial='neighbour_mean',
    data_note='',
    status="not implemented yet",
)
