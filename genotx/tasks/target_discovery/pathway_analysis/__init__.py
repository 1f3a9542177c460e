"""Pathway analysis: an expression contrast (a per-gene statistic) + gene sets / footprints / TF
regulons -> up- and down-regulated pathways and TFs, with scores, p-values, FDR and driver genes.

Data (real; :mod:`.contrasts`, moderated t of each experiment): ``foxa2_knockout`` (PANC1 FOXA2
knockout vs wild type, 3 + 3; PROGENy's ``vignette_data``), ``dexamethasone`` (airway smooth muscle,
dexamethasone vs untreated, 4 paired donor lines; Himes 2014) and ``bcr_abl`` (B-lineage ALL,
BCR/ABL 37 vs NEG 42; Chiaretti 2005). Collections (:mod:`.genesets`): CollecTRI and DoRothEA TF
regulons (OmniPath), GO biological process (org.Hs.eg.db + GO.db), KEGG (org.Hs.eg.db, 2011) and
PROGENy's 14 footprints (top 100 genes; the shared scorer :mod:`genotx.bio.footprints`).

Protocol ``ranking`` (:mod:`.protocol`): each split is one contrast; a model scores every set of its
collection and the metric is the rank of the expected set among them, ordered in the expected
direction. ``TRUTH`` was written before any method was run: FOXA2 among the LEAST active TFs of the
knockout; the glucocorticoid receptor NR3C1 and glucocorticoid-response GO terms up with
dexamethasone, NF-kB / TNFa footprints down (glucocorticoids repress NF-kB); for BCR/ABL the kinase's
textbook effectors (STAT5A/B, the JAK-STAT footprint) and KEGG's chronic myeloid leukaemia pathway
(hsa05220, whose driver is BCR-ABL) up. The ALL truths are literature expectations for leukaemia
blasts, weaker than the other two (``SPEC.data_note``). Nothing is learned: ``fit`` loads the collection.

Baselines (``method_collection``; :mod:`.methods`): ``ulm`` (decoupler's univariate linear model:
TF activity on CollecTRI is the default), ``gsea`` (pre-ranked, permutation NES), ``ora``
(hypergeometric on the top and bottom 300 genes, BH FDR), ``progeny`` (PROGENy weighted sum with
progenyPerm's null) and ``random`` (CollecTRI's TFs all tied: the floor, whose rank is exactly the
expectation of a random ordering, (n + 1) / (k + 1) for the best of k true among n candidates; that
expectation is also reported for every run as ``random_expected_rank``).

``genotx predict pathway_analysis --input contrast.csv --out pathways.csv [--model gsea_go]``
scores your own contrast (:func:`.io.read_contrast`): one row per set, most up first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from genotx.tasks.spec import Dataset, PredictOption, TaskSpec
from genotx.tasks.target_discovery.pathway_analysis.contrasts import CONTRASTS
from genotx.tasks.target_discovery.pathway_analysis.genesets import ORGANISMS
from genotx.tasks.target_discovery.pathway_analysis.io import ContrastSplit, contrast_tables, read_contrast
from genotx.tasks.target_discovery.pathway_analysis.models import PathwayScorer
from genotx.tasks.target_discovery.pathway_analysis.protocol import PathwayRanking

__all__ = ["SPEC", "TRUTH", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "INPUT_OPTIONS", "read_input",
           "training_data", "format_predictions"]

SPEC = TaskSpec(
    name='pathway_analysis',
    number=11,
    stage='target_discovery',
    title='Pathway analysis',
    formulation='expression contrast (per-gene statistic) + gene sets / footprints / TF regulons -> up- and '
    'down-regulated pathways and TFs with scores, p-values, FDR and driver genes',
    protocol='ranking',
    target='ranking',
    data_kind='real',
    sources=('progeny_models', 'airway_counts', 'all_leukemia', 'hgu95_probes', 'omnipath_regulons', 'org_hs_eg_go',
             'org_hs_eg_ids', 'go_db_terms'),
    splits=('foxa2_knockout', 'dexamethasone', 'bcr_abl'),
    metrics=('mean_rank', 'top10_recall'),
    baselines=('ulm_collectri', 'gsea_collectri', 'ora_collectri', 'ulm_dorothea', 'progeny', 'ulm_go', 'gsea_go',
               'ora_go', 'ulm_kegg', 'gsea_kegg', 'ora_kegg', 'random'),
    trivial='random',
    data_note='Real: three measured contrasts (PANC1 FOXA2 knockout, airway dexamethasone, ALL BCR/ABL vs NEG) and '
    'real collections (CollecTRI/DoRothEA via OmniPath, GO 2022-07, KEGG 2011, PROGENy). The truths are '
    'expectations from the literature written before any method ran; the knockout and dexamethasone ones '
    'are direct (the perturbed TF, the drug\'s receptor and response terms), the BCR/ABL ones (STAT5, '
    'JAK-STAT, KEGG CML) are indirect expectations for leukaemia blasts. One query per contrast: a rank, '
    'not a distribution; the random floor is the exact expected rank of a random ordering.',
    citation='Schubert et al. (2018) Nat Commun 9:20 (PROGENy); Badia-i-Mompel et al. (2022) Bioinform Adv 2:vbac016 '
    '(decoupler, ULM); Subramanian et al. (2005) PNAS 102:15545 (GSEA); Mueller-Dott et al. (2023) NAR 51:10934 '
    '(CollecTRI); Himes et al. (2014) PLoS ONE 9:e99625; Chiaretti et al. (2005) Clin Cancer Res 11:7209',
)

#: per contrast and kind of collection: (expected set ids, direction: +1 most up first, -1 most down first)
TRUTH = {
    "foxa2_knockout": {"tf": (("FOXA2",), -1)},
    "dexamethasone": {
        "tf": (("NR3C1",), 1),
        "go": (("GO:0051384", "GO:0071385", "GO:0071548", "GO:0071549", "GO:0031960", "GO:0071384", "GO:0042921",
                "GO:0043402"), 1),  # response to glucocorticoid / dexamethasone / corticosteroid; GR signalling
        "progeny": (("NFkB", "TNFa"), -1),
    },
    "bcr_abl": {"tf": (("STAT5A", "STAT5B"), 1), "progeny": (("JAK-STAT",), 1), "kegg": (("hsa05220",), 1)},
}


def load(*, source: str = "progeny_models") -> Dataset:  # noqa: ARG001 - every contrast has its own sources
    """Contrasts x genes (moderated t; NaN = not measured), target = the contrast's name."""
    tables = contrast_tables()
    inputs = pd.DataFrame({name: tables[name]["t"] for name in CONTRASTS}).T
    groups = pd.DataFrame({"contrast": list(CONTRASTS), "n_genes": [len(tables[n]) for n in CONTRASTS],
                           "samples": ["PANC1 FOXA2 KO 3 vs WT 3", "airway dex 4 vs untreated 4 (paired)",
                                       "B-ALL BCR/ABL 37 vs NEG 42"]})
    meta = {"sources": SPEC.sources, "data_kind": SPEC.data_kind, "statistic": "moderated t (limma eBayes)",
            "prior": {n: tables[n].attrs.get("prior", {}) for n in CONTRASTS}}
    return Dataset(SPEC.name, inputs, np.array(CONTRASTS, dtype=object), groups, meta=meta,
                   context={"truth": TRUTH})


SPLITS = {name: ContrastSplit(name) for name in CONTRASTS}


def _scorer(method: str, collection: str):
    return lambda random_state=0: PathwayScorer(method=method, collection=collection, random_state=random_state)


MODELS = {
    "ulm_collectri": _scorer("ulm", "collectri"), "gsea_collectri": _scorer("gsea", "collectri"),
    "ora_collectri": _scorer("ora", "collectri"), "ulm_dorothea": _scorer("ulm", "dorothea"),
    "progeny": _scorer("footprint", "progeny"),
    "ulm_go": _scorer("ulm", "go"), "gsea_go": _scorer("gsea", "go"), "ora_go": _scorer("ora", "go"),
    "ulm_kegg": _scorer("ulm", "kegg"), "gsea_kegg": _scorer("gsea", "kegg"), "ora_kegg": _scorer("ora", "kegg"),
    "random": _scorer("random", "collectri"),
}

PROTOCOL = PathwayRanking()


# ---- genotx predict: your own contrast -----------------------------------------------------------------

PREDICT_OPTIONS = {
    "column": PredictOption(str, help="the statistic's column (default: t, stat, logfc, score or the only other column)"),
    "organism": ORGANISMS,  # mouse: the progeny model only (its mouse footprints)
    "top_k": PredictOption(int, low=1, help="write the k most up and k most down sets only (default: every set)"),
}
INPUT_OPTIONS = ("column",)


def read_input(path: str | Path, *, column: str | None = None) -> pd.DataFrame:
    """A CSV/TSV of gene + per-gene statistic (t, logFC...; positive = up), as one contrast."""
    return read_contrast(path, column=column)


def training_data(dataset: Dataset) -> tuple[pd.DataFrame, np.ndarray]:
    """Nothing is learned; the scorer is "fitted" (its collection loaded) on the default contrasts."""
    return dataset.inputs, dataset.target


def format_predictions(frame: pd.DataFrame, estimator: PathwayScorer, *, organism: str = "human",
                       top_k: int | None = None) -> pd.DataFrame:
    """One row per testable set, most up first: ``set``, ``name``, ``score`` (> 0 up), ``direction``,
    ``p_value``, ``fdr``, ``n_genes`` (measured members) and ``drivers`` (genes pushing the score most)."""
    if organism != estimator.organism:
        estimator = clone(estimator).set_params(organism=organism).fit()
    table = estimator.results(frame.iloc[0].dropna()).reset_index()
    table.insert(3, "direction", np.where(table["score"] >= 0, "up", "down"))
    if top_k:
        table = pd.concat([table.head(top_k), table.tail(top_k)]).drop_duplicates("set")
    return table.round({"score": 5, "p_value": 8, "fdr": 8})
