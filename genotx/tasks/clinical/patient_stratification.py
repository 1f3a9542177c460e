"""Patient stratification: patients' expression + clinical variables -> subgroups with defining criteria; risk.

Registered with its SPEC; not implemented yet (``genotx run patient_stratification`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='patient_stratification',
    number=18,
    stage='clinical',
    title='Patient stratification',
    formulation="patients' expression + clinical variables -> subgroups with defining criteria; risk",
    protocol='clustering',
    target='survival',
    data_kind='real',
    sources=('sksurv_breast_cancer',),
    splits=('cv5',),
    metrics=('c_index', 'logrank_p', 'stability_ari'),
    baselines=('coxph', 'rsf', 'kmeans'),
    trivial='kmeans',
    data_note='',
    status="not implemented yet",
)
