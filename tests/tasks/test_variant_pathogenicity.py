"""variant_pathogenicity: protein variant encoding (stop codons, consensus wild type, mutation
counts), the global-epistasis model, the noise ceiling, the splits and the simulated causal ranking
on tiny synthetic scans (offline), and end to end on the real TDP-43 scan (slow): global epistasis
beats the mean and the additive model, singles -> doubles really trains on singles only, and
``genotx predict`` scores a user's file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import genotx
from genotx.engine.predict import predict_file
from genotx.engine.runner import run
from genotx.errors import InputError
from genotx.tasks.target_discovery.variant_pathogenicity.features import (
    MutationCounter,
    consensus,
    mutation_counts,
    variant_indices,
    variant_one_hot,
)
from genotx.models.epistasis import GlobalEpistasisRegressor
from genotx.tasks.spec import Dataset
from genotx.tasks.target_discovery import variant_pathogenicity as vp
from genotx.tasks.target_discovery.variant_pathogenicity.protocol import VariantEffect

AMINO = "ACDEFGHIKLMNPQRSTVWY*"


@pytest.fixture
def one_thread():
    """Small nets on a shared 2-core machine: one intra-op thread avoids OpenMP spin contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_scan(length: int = 12, seed: int = 0) -> Dataset:
    """All singles and 1,500 doubles of a random wild type; y = tanh(additive) + small noise."""
    rng = np.random.default_rng(seed)
    wt = rng.choice(list(AMINO[:-1]), size=length)
    effects = rng.normal(scale=0.6, size=(length, len(AMINO)))
    singles = [(p, a) for p in range(length) for a in range(len(AMINO)) if AMINO[a] != wt[p]]
    rows, latent = [], []
    for p, a in singles:
        seq = wt.copy()
        seq[p] = AMINO[a]
        rows.append("".join(seq))
        latent.append(effects[p, a])
    for _ in range(1500):
        (p1, a1), (p2, a2) = (singles[i] for i in rng.choice(len(singles), 2, replace=False))
        if p1 == p2:
            continue
        seq = wt.copy()
        seq[p1], seq[p2] = AMINO[a1], AMINO[a2]
        rows.append("".join(seq))
        latent.append(effects[p1, a1] + effects[p2, a2])
    frame = pd.DataFrame({"sequence": rows, "latent": latent}).drop_duplicates("sequence").reset_index(drop=True)
    y = np.tanh(frame["latent"].to_numpy()) + rng.normal(scale=0.05, size=len(frame))
    wild_type = consensus(frame["sequence"])
    groups = pd.DataFrame({
        "n_mutations": mutation_counts(frame["sequence"], wild_type),
        "set": rng.choice(["training", "test"], size=len(frame), p=[0.8, 0.2]),
        "dy": np.full(len(frame), 0.05),
    })
    return Dataset("variant_pathogenicity", frame[["sequence"]], y, groups, {"data_kind": "simulated"}, context={"wild_type": wild_type})


# ------------------------------------------------------------------------------------------------
# encoding


def test_stop_codon_is_a_21st_letter_and_x_is_blank():
    idx = variant_indices(["A*Y", "XAC"])
    assert idx.tolist() == [[0, 20, 19], [21, 0, 1]]
    hot = variant_one_hot(pd.DataFrame({"sequence": ["A*Y"]})).reshape(3, 21)
    assert hot.sum(axis=1).tolist() == [1, 1, 1] and hot[1, 20] == 1
    assert variant_one_hot(pd.DataFrame({"sequence": ["X"]})).sum() == 0


def test_stop_codon_letter_outside_the_alphabet_raises_with_record_and_position():
    with pytest.raises(InputError, match=r"record 1: character '\-' at position 2"):
        variant_indices(["AAA", "A-A"])


def test_consensus_wild_type_and_vectorised_mutation_counts():
    seqs = ["MKVL", "MRVL", "AKVL", "MK*L", "MKVW"]
    assert consensus(seqs) == "MKVL"
    assert mutation_counts(seqs, "MKVL").tolist() == [0, 1, 1, 1, 1]
    assert mutation_counts(["ARVW"], "MKVL").tolist() == [3]
    with pytest.raises(InputError, match="length 3, the wild type has 4"):
        mutation_counts(["MKV"], "MKVL")
    counter = MutationCounter().fit(pd.DataFrame({"sequence": seqs}))
    assert counter.wild_type_ == "MKVL"


def test_toy_scan_counts_equal_the_constructed_orders():
    data = toy_scan()
    assert set(data.groups["n_mutations"]) == {1, 2}
    assert (data.groups["n_mutations"] == 1).sum() == 12 * 20


# ------------------------------------------------------------------------------------------------
# global epistasis model


def test_global_epistasis_nonlinearity_is_monotone_and_beats_additive_on_a_saturating_landscape(one_thread):
    data = toy_scan()
    X = variant_one_hot(data.inputs)
    train = np.arange(len(data)) % 5 != 0
    ge = GlobalEpistasisRegressor(random_state=0, batch_size=128).fit(X[train], data.target[train])
    from sklearn.linear_model import Ridge

    ridge = Ridge(alpha=0.01).fit(X[train], data.target[train])
    r_ge = np.corrcoef(ge.predict(X[~train]), data.target[~train])[0, 1]
    r_add = np.corrcoef(ridge.predict(X[~train]), data.target[~train])[0, 1]
    assert r_ge > r_add + 0.02 and r_ge > 0.95
    grid = torch.linspace(-10, 10, 401)[:, None]
    with torch.no_grad():
        g = ge.network_.g(grid).numpy().ravel()
    assert np.all(np.diff(g) >= -1e-6)
    assert ge.theta_.shape == (X.shape[1],)
    assert np.allclose(ge.predict(X[:5]), ge.predict(X[:5]))  # deterministic in eval mode


def test_global_epistasis_is_seeded():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(300, 6)).astype(np.float32)
    y = np.tanh(X @ rng.normal(size=6))
    a = GlobalEpistasisRegressor(random_state=3, epochs=10).fit(X, y).predict(X)
    b = GlobalEpistasisRegressor(random_state=3, epochs=10).fit(X, y).predict(X)
    assert np.array_equal(a, b)


def test_global_epistasis_restores_the_torch_thread_count():
    before = torch.get_num_threads()
    X = np.eye(4, dtype=np.float32).repeat(10, axis=0)
    GlobalEpistasisRegressor(epochs=2, n_jobs=1).fit(X, X @ np.arange(4.0))
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------------------------
# noise ceiling, splits, ranking, evaluation


def test_noise_ceiling_matches_the_correlation_of_truth_with_noisy_measurements():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=200_000)
    dy = rng.uniform(0.2, 0.8, size=truth.size)
    observed = truth + rng.normal(size=truth.size) * dy
    assert vp.noise_ceiling(observed, dy) == pytest.approx(np.corrcoef(truth, observed)[0, 1], abs=0.005)
    assert vp.noise_ceiling(np.ones(4), np.zeros(4)) != vp.noise_ceiling(np.ones(4), np.zeros(4))  # nan


def test_singles_to_doubles_trains_on_singles_only_and_random_is_disjoint():
    data = toy_scan()
    (fold,) = vp.SPLITS["singles_to_doubles"].split(data.groups, random_state=0)
    assert set(data.groups["n_mutations"].iloc[fold.train]) == {1}
    assert set(data.groups["n_mutations"].iloc[fold.test]) == {2}
    (rand,) = vp.SPLITS["random"].split(data.groups, random_state=0)
    assert not set(rand.train) & set(rand.test) and len(rand.train) + len(rand.test) == len(data)


def test_singles_to_doubles_refuses_a_scan_without_singles():
    groups = pd.DataFrame({"n_mutations": [2, 2, 2]})
    with pytest.raises(InputError, match=r"only \[2\] \(e\.g\. GB1 ships double mutants only\)\. Fix: use split 'random'"):
        vp.SPLITS["singles_to_doubles"].split(groups, random_state=0)


def test_top_k_recall_shares_ties():
    assert vp.top_k_recall(np.array([5.0, 4, 3, 2, 1]), np.array([0, 4]), 2) == 0.5
    assert vp.top_k_recall(np.zeros(10), np.array([1, 2]), 5) == pytest.approx(0.5)
    assert vp.top_k_recall(np.array([2.0, 1, 1, 0]), np.array([1]), 2) == pytest.approx(0.5)


def test_ism_attribution_of_an_additive_model_finds_the_effect_positions():
    class Fixed:
        def predict(self, frame):
            idx = variant_indices(frame["sequence"].to_numpy())
            return (idx[:, 2] != 0) * 3.0 + (idx[:, 5] != 0) * 1.0  # only positions 2 and 5 matter

    attribution = vp.ism_attribution(Fixed(), "AAAAAAAA")
    assert np.argsort(attribution)[::-1][:2].tolist() == [2, 5] and attribution[0] == 0


def test_evaluate_on_a_toy_scan_reports_ceiling_orders_and_simulated_ranking(one_thread):
    data = toy_scan()
    out = run("variant_pathogenicity", dataset=data, split="singles_to_doubles", model="additive", seed=0)[1]
    assert out.metrics["pearson"] > 0.9 and out.n_train == 240
    ceiling = out.details["noise_ceiling"]
    assert 0.9 < ceiling["pearson"] <= 1 and "dy^2" in ceiling["formula"]
    assert set(out.details["per_n_mutations"]) == {"2_mutations"}
    ranking = out.details["causal_ranking_simulated"]
    assert ranking["kind"] == "simulated" and ranking["n_causal"] == 3
    assert ranking["top3_recall"] > ranking["random_expectation"]["top3_recall"]
    mean = run("variant_pathogenicity", dataset=data, split="singles_to_doubles", model="mean", seed=0)[1]
    assert mean.metrics["pearson"] == 0.0
    assert mean.details["causal_ranking_simulated"]["top3_recall"] == pytest.approx(3 / 12)
    assert list(out.predictions.columns)[-3:] == ["y_true", "y_pred", "fold"]


def test_a_users_estimator_runs_under_the_protocol_and_its_clone_ranks_the_causal_positions():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from genotx.featurize.transformer import Featurizer

    data = toy_scan()
    estimator = make_pipeline(Featurizer(variant_one_hot, cache=False), Ridge(alpha=0.1))
    record, out = run("variant_pathogenicity", dataset=data, split="singles_to_doubles", estimator=estimator, seed=0)
    assert record.metrics["pearson"] > 0.9 and isinstance(vp.PROTOCOL, VariantEffect)
    ranking = out.details["causal_ranking_simulated"]
    assert ranking["top3_recall"] > ranking["random_expectation"]["top3_recall"]
    assert out.details["wild_type"] == data.context["wild_type"]


def test_the_simulated_ranking_takes_the_consensus_when_no_wild_type_is_given():
    data = toy_scan()
    bare = Dataset(data.name, data.inputs, data.target, data.groups, {"data_kind": "simulated"})
    with_wt = vp.simulate_causal_ranking(data, vp.MODELS["additive"], n_repeats=1, n_genotypes=300)
    assert vp.simulate_causal_ranking(bare, vp.MODELS["additive"], n_repeats=1, n_genotypes=300) == with_wt


# ------------------------------------------------------------------------------------------------
# user files


WILD_TYPE = vp.WILD_TYPES["mavenn_tdp43"]
SINGLE = WILD_TYPE[:10] + "W" + WILD_TYPE[11:]


def _variants(tmp_path, body: str):
    path = tmp_path / "variants.csv"
    path.write_text(body)
    return path


def test_read_input_accepts_stops_unknowns_aliases_and_lower_case(tmp_path):
    frame = vp.read_input(_variants(tmp_path, "x,note\n" + WILD_TYPE[:-1].lower() + "*,a\n" + "X" * 10 + WILD_TYPE[10:] + ",b\n"))
    assert list(frame.columns) == ["sequence", "n_mutations"] and frame["sequence"].iloc[0].endswith("NN*")
    assert frame["n_mutations"].tolist() == [1, 0]  # a stop is a substitution, an unknown residue is not


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("sequence\n" + WILD_TYPE + "\n" + WILD_TYPE[:-1] + "-\n", r"variants.csv, line 3: .* characters other than"),
        ("sequence\n" + WILD_TYPE + "\n" + SINGLE + "\nMKV\n", r"variants.csv, line 4: .* not 84 residues long"),
        ("protein\n" + WILD_TYPE + "\n", r"variants.csv, line 1: missing column"),
        # issue 15: DNA letters and all-X were scored as if they were proteins
        ("sequence\n" + SINGLE + "\n" + "ACGT" * 21 + "\n", r"variants.csv, line 3: .* nucleotide letters .* Fix: translate it"),
        ("sequence\n" + "GATTACA" * 12 + "\n", r"variants.csv, line 2: .* nucleotide letters"),
        ("sequence\n" + "X" * 84 + "\n", r"variants.csv, line 2: .* mostly unknown residues"),
        ("sequence\n" + SINGLE + "\n" + "M" * 84 + "\n", r"variants.csv, line 3: .* not a variant of TDP-43"),
    ],
)
def test_read_input_errors_name_file_line_and_fix(tmp_path, body, match):
    with pytest.raises(InputError, match=match):
        vp.read_input(_variants(tmp_path, body))


def test_read_input_reads_a_fasta_and_names_the_record_line(tmp_path):
    path = tmp_path / "variants.fa"
    path.write_text(f">wt\n{WILD_TYPE}\n>dna\n{'ACGT' * 21}\n")
    with pytest.raises(InputError, match=r"variants.fa, line 3: .* nucleotide letters"):
        vp.read_input(path)


def test_format_predictions_scores_each_row_and_reports_its_distance_from_the_wild_type(tmp_path):
    frame = vp.read_input(_variants(tmp_path, f"sequence\n{WILD_TYPE}\n{SINGLE}\n{SINGLE[:20]}P{SINGLE[21:]}\n"))
    X = pd.DataFrame({"sequence": [WILD_TYPE, SINGLE]})
    model = vp.MODELS["mutation_count"]().fit(pd.concat([X] * 3, ignore_index=True), [0.0, 1.0] * 3)
    out = vp.format_predictions(frame, model)
    assert list(out.columns) == ["sequence", "n_mutations", "prediction"] and out["n_mutations"].tolist() == [0, 1, 2]
    assert out["prediction"].round(6).tolist() == [0.0, 1.0, 2.0]


def test_importing_the_task_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, genotx.tasks.target_discovery.variant_pathogenicity as t; t.MODELS; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------
# real data, end to end


@pytest.fixture(scope="module")
def tdp43():
    return vp.load()


@pytest.mark.slow
def test_real_tdp43_wild_type_length_and_mutation_orders(tdp43):
    assert len(tdp43) == 57_996 and tdp43.context["wild_type"] == vp.WILD_TYPES["mavenn_tdp43"]
    assert set(tdp43.meta) == {"sources", "data_kind"}  # provenance only
    assert tdp43.groups["n_mutations"].value_counts().to_dict() == {2: 56_730, 1: 1_266}
    abeta = vp.load(source="mavenn_abeta")
    assert abeta.context["wild_type"] == vp.WILD_TYPES["mavenn_abeta"] and len(abeta.context["wild_type"]) == 42
    assert abeta.context["wild_type"].startswith("DAEFRHDSGYEVHHQK")  # Abeta42 starts DAEFRHDSGYEVHHQK
    gb1 = vp.load(source="mavenn_gb1")
    assert len(gb1) == vp.GB1_ROWS and gb1.context["wild_type"] == vp.WILD_TYPES["mavenn_gb1"]
    assert set(gb1.groups["n_mutations"]) == {2} and "default_rng(0)" in gb1.meta["subsample"]
    with pytest.raises(InputError, match="use split 'random' or 'predefined'"):
        vp.SPLITS["singles_to_doubles"].split(gb1.groups, random_state=0)


@pytest.mark.slow
def test_real_global_epistasis_beats_mean_and_additive_on_the_default_split(tdp43, one_thread):
    record, outcome = genotx.run("variant_pathogenicity", dataset=tdp43)
    assert record.model == "global_epistasis" and record.split == "random" and record.data_kind == "real"
    mean, _ = genotx.run("variant_pathogenicity", model="mean", dataset=tdp43)
    assert record.metrics["pearson"] > 0.9 and record.metrics["spearman"] > 0.9
    assert record.metrics["pearson"] > mean.metrics["pearson"] + 0.5
    assert record.metrics["rmse"] < 0.5 * mean.metrics["rmse"]
    ceiling = outcome.details["noise_ceiling"]["pearson"]
    assert 0.95 < ceiling < 0.99 and record.metrics["pearson"] <= ceiling + 0.01
    assert outcome.details["causal_ranking_simulated"]["kind"] == "simulated"


@pytest.mark.slow
def test_real_singles_to_doubles_trains_on_singles_only_and_generalises(tdp43, one_thread):
    (fold,) = genotx.get_task("variant_pathogenicity").folds(tdp43, "singles_to_doubles")
    assert (tdp43.groups["n_mutations"].iloc[fold.train] == 1).all() and len(fold.train) == 1_266
    assert (tdp43.groups["n_mutations"].iloc[fold.test] == 2).all() and len(fold.test) == 56_730
    record, _ = genotx.run("variant_pathogenicity", model="additive", split="singles_to_doubles", dataset=tdp43)
    assert record.metrics["pearson"] > 0.9  # a sum of single effects predicts the doubles


@pytest.mark.slow
def test_real_predict_scores_a_users_file_and_rejects_a_bad_one(tdp43, tmp_path, one_thread, monkeypatch):
    from genotx.tasks.registry import Task

    wild_type = tdp43.context["wild_type"]
    good = tmp_path / "mine.csv"
    good.write_text("sequence\n" + wild_type + "\n" + tdp43.inputs["sequence"].iloc[0] + "\n" + wild_type[:-1] + "*\n")
    out = predict_file("variant_pathogenicity", good, tmp_path / "scored.csv")
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["sequence", "n_mutations", "prediction"] and scored["prediction"].notna().all()
    assert scored["n_mutations"].tolist() == [0, tdp43.groups["n_mutations"].iloc[0], 1]
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    pd.testing.assert_frame_equal(pd.read_csv(predict_file("variant_pathogenicity", good, tmp_path / "again.csv")), scored)
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\n" + wild_type + "\n" + wild_type[:40] + "\n")
    with pytest.raises(InputError, match=r"bad.csv, line 3"):
        predict_file("variant_pathogenicity", bad, tmp_path / "never.csv")
    bad.write_text("sequence\n" + wild_type + "\n" + "ACGT" * 21 + "\n")
    with pytest.raises(InputError, match=r"bad.csv, line 3: .* nucleotide letters"):
        predict_file("variant_pathogenicity", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()
