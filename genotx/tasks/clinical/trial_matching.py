"""Genome-driven trial matching: patient record + trial eligibility text -> match likelihood.

Registered with its SPEC; not implemented yet (``genotx run trial_matching`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='trial_matching',
    number=19,
    stage='clinical',
    title='Genome-driven trial matching',
    formulation='patient record + trial eligibility text -> match likelihood',
    protocol='supervised',
    target='binary',
    data_kind='semi-synthetic',
    sources=('sksurv_breast_cancer',),
    splits=('cold_trial',),
    metrics=('auroc', 'precision_at_10'),
    baselines=('rule_parser', 'embedding'),
    trivial=None,
    data_note='real patients; eligibility text authored over their real variables',
    status="not implemented yet",
)
