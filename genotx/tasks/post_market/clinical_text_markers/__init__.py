"""Genomic markers from clinical notes: a clinical note -> genomic biomarkers it states (gene, variant, status).

Registered with its SPEC; not implemented yet (``genotx run clinical_text_markers`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='clinical_text_markers',
    number=21,
    stage='post_market',
    title='Genomic markers from clinical notes',
    formulation='a clinical note -> genomic biomarkers it states (gene, variant, status)',
    protocol='extraction',
    target='other',
    data_kind='semi-synthetic',
    sources=(),
    splits=('random',),
    metrics=('f1',),
    baselines=('rules', 'crf'),
    trivial=None,
    data_note='no clinical notes ship offline: notes authored from templates over real gene/variant names',
    status="not implemented yet",
)
