"""bio/phenotypes (the HPO disease knowledge base) and simulate/patients, on a toy HPO release."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genotx.bio.phenotypes import DiseaseKnowledge, encode_patients, namespace_of, patient_term_matrix
from genotx.data.formats.hpo import parse_frequency, parse_obo, read_genes_to_phenotype, read_hpoa, read_obo
from genotx.errors import InputError
from genotx.simulate.patients import simulate_patients

# A small ontology: root > PA > {nervous A, growth B}; A > {seizure A1, ataxia A2}; B > {short B1, tall B2};
# A1 > A11 (focal seizure). HP:0001333 is an alt_id of A1; HP:0000057 is obsolete, replaced by B1.
# Diseases: OMIM:1 epilepsy (A11, A2 at 1/2; gene SCN1A), OMIM:2 dwarfism (B1, A1 without frequency;
# GH1, GHR), OMIM:3 (A2), OMIM:4 (B2 at 90%), ORPHA:9 (A1).
TOY = Path(__file__).resolve().parent / "data" / "hpo_toy"


@pytest.fixture(scope="module")
def onto():
    return read_obo(TOY / "hp.obo")


@pytest.fixture(scope="module")
def kb(onto):
    return DiseaseKnowledge.build(onto, read_hpoa(TOY / "phenotype.hpoa"), genes=read_genes_to_phenotype(TOY / "genes_to_phenotype.txt"))


def test_obo_terms_links_aliases_and_closure(onto):
    assert len(onto) == 9 and onto.version == "2025-01-16"
    assert "HP:0000057" not in set(onto.ids)  # obsolete terms are not terms...
    assert onto.ids[onto.encode(["HP:0000057", "HP:0001333"])].tolist() == ["HP:0004322", "HP:0001250"]  # ...but aliases
    focal = onto.encode(["HP:0007359"])[0]
    assert sorted(onto.ids[onto.ancestors[focal].indices]) == ["HP:0000001", "HP:0000118", "HP:0000707", "HP:0001250", "HP:0007359"]
    assert onto.ids[onto.parents[focal].indices].tolist() == ["HP:0001250"]  # '{...} ! name' trailer stripped
    assert onto.index(["HP:9999999"]).tolist() == [-1]


def test_obo_errors_name_the_line():
    with pytest.raises(InputError, match=r"line 7: is_a points to unknown or obsolete term 'HP:0000003'"):
        parse_obo("[Term]\nid: HP:0000001\n\n[Term]\nid: HP:0000002\nname: x\nis_a: HP:0000003 ! missing\n")
    with pytest.raises(InputError, match="no \\[Term\\] stanzas"):
        parse_obo("format-version: 1.2\n")
    with pytest.raises(InputError, match="line 1: \\[Term\\] stanza without an id"):
        parse_obo("[Term]\nname: nameless\n")


def test_frequencies_and_annotation_files(tmp_path):
    assert parse_frequency(pd.Series(["3/4", "40%", "HP:0040280", "HP:0040285", "", "-"])).tolist()[:4] == [0.75, 0.4, 1.0, 0.0]
    header = "#description: test\ndatabase_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration\n"
    good = tmp_path / "phenotype.hpoa"
    good.write_text(header + "OMIM:1\tx\tNOT\tHP:0001250\tPMID:1\tPCS\t\t1/2\t\t\tP\tHPO:x\n")
    table = read_hpoa(good)
    assert table[["disease_id", "hpo_id", "negated", "frequency", "line"]].iloc[0].tolist() == ["OMIM:1", "HP:0001250", True, 0.5, 3]
    bad = tmp_path / "bad.hpoa"
    bad.write_text(header + "OMIM:1\tx\t\tHP:0001250\tPMID:1\tPCS\t\t1/2\t\t\tP\tHPO:x\nOMIM:1\tx\t\tHP:0001251\tPMID:1\tPCS\t\tsometimes\t\t\tP\tHPO:x\n")
    with pytest.raises(InputError, match="bad.hpoa, line 4: frequency 'sometimes'"):
        read_hpoa(bad)
    g2p = tmp_path / "genes_to_phenotype.txt"
    g2p.write_text("ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id\n16\tAARS1\tHP:0002460\tx\t15/15\tOMIM:613287\nX\tY\tHP:1\tz\t-\tOMIM:1\n")
    with pytest.raises(InputError, match="line 3: column 'ncbi_gene_id' value 'X'"):
        read_genes_to_phenotype(g2p)


def test_knowledge_base_keeps_phenotypes_of_the_namespace(kb):
    assert kb.disease_ids.tolist() == ["OMIM:1", "OMIM:2", "OMIM:3", "OMIM:4"]
    assert kb.annotations[1].data.tolist() == [0.5, 1.0]  # missing frequency -> 0.5
    assert kb.genes_of(np.array([0, 1, 2])) == ["SCN1A", "GH1;GHR", ""]
    pa = kb.ontology.encode(["HP:0000118"])[0]
    assert kb.ic[pa] == 0.0  # in every disease
    orpha = DiseaseKnowledge.build(kb.ontology, read_hpoa(TOY / "phenotype.hpoa"), prefixes=("ORPHA",))
    assert orpha.disease_ids.tolist() == ["ORPHA:9"] and orpha.genes.shape == (1, 0)


def test_knowledge_base_is_not_copied_by_deepcopy(kb):
    import copy

    assert copy.deepcopy(kb) is kb  # immutable: clone() of an estimator holding it stays cheap


def test_namespace_of_one_namespace_only():
    assert namespace_of(np.array(["ORPHA:1", "ORPHA:22"], dtype=object)) == "ORPHA"
    with pytest.raises(InputError, match="2 namespaces"):
        namespace_of(["OMIM:1", "ORPHA:2"])


def test_unknown_hpo_term_names_the_line(onto):
    with pytest.raises(InputError, match=r"patients, line 3: unknown HPO term 'HP:1234567'"):
        encode_patients(pd.Series(["HP:0001250", "HP:0001251;HP:1234567"]), onto)
    assert [p.tolist() for p in encode_patients(pd.Series(["hp:0001333; HP:0000057"]), onto)] == [sorted(onto.encode(["HP:0001250", "HP:0004322"]).tolist())]
    with pytest.raises(InputError, match="line 2: patient has no HPO terms"):
        encode_patients(pd.Series([" ; "]), onto)


def test_patient_term_matrix_propagates_to_ancestors(kb):
    m = patient_term_matrix(kb, [kb.ontology.encode(["HP:0007359"])])
    assert sorted(kb.ontology.ids[m[0].indices]) == ["HP:0000001", "HP:0000118", "HP:0000707", "HP:0001250", "HP:0007359"]
    assert m.dtype == np.float32 and m.format == "csr"


def test_simulation_is_seeded_and_respects_its_limits(kb):
    kwargs = dict(n_per_disease=20, max_terms=1, imprecision=0.5, noise=1, random_state=3)
    first, disease_of = simulate_patients(kb, np.array([0, 1]), **kwargs)
    again, _ = simulate_patients(kb, np.array([0, 1]), **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert disease_of.tolist() == [0] * 20 + [1] * 20
    assert all(1 <= len(p) <= 2 for p in first)  # at most 1 sampled term + 1 noise term
    pa = kb.ontology.encode(["HP:0000118", "HP:0000001"])
    assert not any(np.isin(p, pa).any() for p in first)  # never the uninformative roots
    bern, _ = simulate_patients(kb, np.array([0, 1]), sampling="bernoulli", **kwargs)
    assert all(1 <= len(p) <= 2 for p in bern) and not any(np.isin(p, pa).any() for p in bern)
    with pytest.raises(InputError, match="unknown sampling"):
        simulate_patients(kb, np.array([0]), sampling="uniform", **kwargs)


def test_weighted_sampling_takes_min_of_max_terms_and_annotations_by_frequency(kb):
    # OMIM:2 = {HP:0004322 (1.0), HP:0001250 (missing -> 0.5)}; clean patients: no imprecision, no noise
    clean = dict(imprecision=0.0, noise=0, random_state=0)
    full, _ = simulate_patients(kb, np.array([1]), n_per_disease=50, max_terms=10, **clean)
    assert all(np.array_equal(p, np.sort(kb.annotations[1].indices)) for p in full)  # min(10, 2) = all terms
    one, _ = simulate_patients(kb, np.array([1]), n_per_disease=3000, max_terms=1, **clean)
    short = kb.ontology.encode(["HP:0004322"])[0]
    share = np.mean([p[0] == short for p in one])
    assert all(len(p) == 1 for p in one) and share == pytest.approx(2 / 3, abs=0.03)  # 1.0 / (1.0 + 0.5)
    bern, _ = simulate_patients(kb, np.array([1]), n_per_disease=3000, max_terms=10, sampling="bernoulli", **clean)
    assert np.mean([len(p) for p in bern]) == pytest.approx(1.5, abs=0.05)  # 1.0 + 0.5 expected terms


def test_the_simulator_writes_nothing(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path))
    simulate_patients(kb, np.arange(4), n_per_disease=5, max_terms=3, imprecision=0.3, noise=1, random_state=0)
    assert list(tmp_path.iterdir()) == []
