"""Cell-type composition: bulk/spot expression + single-cell reference -> cell-type proportions.

Registered with its SPEC; not implemented yet (``genotx run cell_composition`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='cell_composition',
    number=5,
    stage='target_discovery',
    title='Cell-type composition',
    formulation='bulk/spot expression + single-cell reference -> cell-type proportions',
    protocol='supervised',
    target='regression',
    data_kind='semi-synthetic',
    sources=('scanpy_pbmc68k_reduced',),
    splits=('held_out_cells',),
    metrics=('pearson', 'rmse'),
    baselines=('nnls', 'mean'),
    trivial='mean',
    data_note='pseudo-bulk mixtures of real labelled PBMC cells with known proportions',
    status="not implemented yet",
)
