"""Gene network construction: expression profiles (cells x genes) -> score for every gene pair.

Registered with its SPEC; not implemented yet (``genotx run gene_network`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='gene_network',
    number=6,
    stage='target_discovery',
    title='Gene network construction',
    formulation='expression profiles (cells x genes) -> score for every gene pair',
    protocol='network',
    target='other',
    data_kind='real',
    sources=('cdt_sachs',),
    splits=('full',),
    metrics=('auroc', 'aupr'),
    baselines=('gbm_importance', 'correlation'),
    trivial='correlation',
    data_note='real Sachs cytometry with the 18-edge consensus network; krumsiek11 is simulated',
    status="not implemented yet",
)
