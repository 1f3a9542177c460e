"""Drug/disease-gene relations from literature: a passage -> drug-gene / disease-gene mentions and relation type.

Registered with its SPEC; not implemented yet (``genotx run literature_relations`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='literature_relations',
    number=22,
    stage='post_market',
    title='Drug/disease-gene relations from literature',
    formulation='a passage -> drug-gene / disease-gene mentions and relation type',
    protocol='extraction',
    target='other',
    data_kind='semi-synthetic',
    sources=(),
    splits=('random',),
    metrics=('macro_f1',),
    baselines=('rules', 'bag_of_words'),
    trivial=None,
    data_note='no relation corpus ships offline: passages authored over real entity names',
    status="not implemented yet",
)
