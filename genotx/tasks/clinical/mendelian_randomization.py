"""Mendelian randomization: variant-exposure and variant-outcome summary statistics -> causal effect with CI.

Registered with its SPEC; not implemented yet (``genotx run mendelian_randomization`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='mendelian_randomization',
    number=20,
    stage='clinical',
    title='Mendelian randomization',
    formulation='variant-exposure and variant-outcome summary statistics -> causal effect with CI',
    protocol='estimation',
    target='other',
    data_kind='real',
    sources=('twosamplemr_lipids_chd',),
    splits=('all_variants',),
    metrics=('estimate', 'se'),
    baselines=('ivw', 'mr_egger', 'weighted_median', 'weighted_mode'),
    trivial=None,
    data_note='',
    status="not implemented yet",
)
