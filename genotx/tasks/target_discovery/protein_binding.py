"""DNA/RNA-protein binding: DNA/RNA sequence -> binding score (sort-seq expression) or bound/unbound (ChIP-seq); attribution -> motifs vs references.

Registered with its SPEC; not implemented yet (``genotx run protein_binding`` says so).
"""

from genotx.tasks.spec import TaskSpec

SPEC = TaskSpec(
    name='protein_binding',
    number=1,
    stage='target_discovery',
    title='DNA/RNA-protein binding',
    formulation='DNA/RNA sequence -> binding score (sort-seq expression) or bound/unbound (ChIP-seq); attribution -> motifs vs references',
    protocol='supervised',
    target='regression',
    data_kind='real',
    sources=('mavenn_sortseq', 'janggu_chip'),
    splits=('predefined', 'random'),
    metrics=('pearson', 'spearman'),
    baselines=('cnn', 'additive', 'mean'),
    trivial='mean',
    data_note='',
    status="not implemented yet",
)
