"""Spatial expression from histology: H&E image patch at a Visium spot -> expression of each gene at that spot.

Registered with its SPEC; not implemented yet (``genotx run spatial_expression`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='spatial_expression',
    number=4,
    stage='target_discovery',
    title='Spatial expression from histology',
    formulation='H&E image patch at a Visium spot -> expression of each gene at that spot',
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('squidpy_visium_test',),
    splits=('spatial_blocks',),
    metrics=('pearson_per_gene',),
    baselines=('cnn', 'mean'),
    trivial='mean',
    data_note='tiny real co-registered H&E + Visium pair (49 spots)',
    status="not implemented yet",
)
