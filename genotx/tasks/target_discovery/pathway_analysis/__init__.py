"""Pathway analysis: expression contrast + gene sets/footprints -> perturbed pathways and driver genes.

Registered with its SPEC; not implemented yet (``genotx run pathway_analysis`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='pathway_analysis',
    number=11,
    stage='target_discovery',
    title='Pathway analysis',
    formulation='expression contrast + gene sets/footprints -> perturbed pathways and driver genes',
    protocol='ranking',
    target='ranking',
    data_kind='real',
    sources=('progeny_panc1',),
    splits=('contrast',),
    metrics=('rank_of_truth',),
    baselines=('progeny_footprint', 'ora'),
    trivial=None,
    data_note='',
    status="not implemented yet",
)
