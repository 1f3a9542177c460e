"""Variant calling: reads aligned at a locus (pileup tensor) -> genotype (0/1/2 alt copies).

Registered with its SPEC; not implemented yet (``genotx run variant_calling`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='variant_calling',
    number=7,
    stage='target_discovery',
    title='Variant calling',
    formulation='reads aligned at a locus (pileup tensor) -> genotype (0/1/2 alt copies)',
    protocol='supervised',
    target='multiclass',
    data_kind='semi-synthetic',
    sources=('bowtie2_lambda',),
    splits=('held_out_region',),
    metrics=('f1', 'precision', 'recall'),
    baselines=('cnn', 'likelihood'),
    trivial=None,
    data_note='real phage lambda genome; reads and variants simulated (seeded)',
    status="not implemented yet",
)
