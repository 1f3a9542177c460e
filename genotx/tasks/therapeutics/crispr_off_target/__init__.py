"""CRISPR off-target: guide + candidate off-target site (mismatches, bulges) -> off-target activity.

Registered with its SPEC; not implemented yet (``genotx run crispr_off_target`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='crispr_off_target',
    number=15,
    stage='therapeutics',
    title='CRISPR off-target',
    formulation='guide + candidate off-target site (mismatches, bulges) -> off-target activity',
    protocol='supervised',
    target='binary',
    data_kind='semi-synthetic',
    sources=('moff_matrices',),
    splits=('cold_guide',),
    metrics=('auroc', 'aupr'),
    baselines=('lgbm', 'mismatch_count'),
    trivial='mismatch_count',
    data_note="no validated off-target set ships offline: activities from MOFF's real mismatch matrices",
    status="not implemented yet",
)
