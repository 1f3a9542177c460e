"""rna_splicing: 9-mer featurizers, the candidate-site enumeration, matched decoys, the replicate
ceiling and user files on tiny inputs (offline), and end to end on the real MPSA data (slow): the MLP
ensemble beats the mean on the shipped split, the two replicates keep their own splits, and ``genotx
predict`` scores a user's file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import genotx
from genotx.engine.predict import predict_file
from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.tasks.target_discovery import rna_splicing as rs


@pytest.fixture
def one_thread():
    """Small nets on a shared 2-core machine: one intra-op thread avoids OpenMP spin contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------------
# features and candidates


def test_one_hot_reads_t_as_u_and_n_as_blank():
    hot = rs.splice_one_hot(pd.DataFrame({"sequence": ["CAGGUAAGU", "CAGGTAAGN"]})).reshape(2, 9, 4)
    assert np.array_equal(hot[0, :8], hot[1, :8]) and hot[1, 8].sum() == 0
    assert hot[0].argmax(axis=1).tolist() == [1, 0, 2, 2, 3, 0, 0, 2, 3]


def test_pairwise_features_mark_exactly_one_letter_pair_per_position_pair():
    feats = rs.splice_pairwise(pd.DataFrame({"sequence": ["CAGGUAAGU", "CAGGUAAGN"]}))
    assert feats.shape == (2, 36 + 36 * 16)
    assert feats[0, 36:].sum() == 36 and feats[1, 36:].sum() == 36 - 8  # pairs with N stay empty
    # pair (0, 1) = (C, A): code 1 * 4 + 0
    assert feats[0, 36 + 1 * 4 + 0] == 1


def test_candidate_sites_are_every_nnngynnnn_9mer_once():
    sites = rs.all_candidate_sites()
    assert len(sites) == len(set(sites)) == 2 * 4**7
    assert pd.Series(sites).str.fullmatch("[ACGU]{3}G[CU][ACGU]{4}").all()


def test_site_vs_decoy_scores_unseen_9mers_with_matched_decoys():
    sites = pd.DataFrame({"sequence": ["CAGGUAAGU", "AAGGUAAGA", "CAGGUGAGU", "CAGGCAAGU", "GGGGUGAGU"]})

    class ConsensusScore:  # scores similarity to CAGGUAAGU
        def predict(self, frame):
            return (np.array([list(s) for s in frame["sequence"]]) == np.array(list("CAGGUAAGU"))).sum(axis=1)

    out = rs.site_vs_decoy(ConsensusScore(), train_sequences=np.array(["GGGGUGAGU"]), seed=0, sites=sites)
    assert out["n_sites"] == 4 and out["n_decoys"] == 4  # the trained-on site is excluded
    assert out["kind"] == "semi-synthetic" and out["auroc"] > 0.9
    again = rs.site_vs_decoy(ConsensusScore(), train_sequences=np.array(["GGGGUGAGU"]), seed=0, sites=sites)
    assert again == out  # seeded decoys


def test_site_vs_decoy_weights_sites_by_genomic_count_and_reports_the_measured_reference():
    # one frequent consensus-like site and three singleton sites that look like noise
    sites = pd.DataFrame({"sequence": ["CAGGUAAGU", "UUUGUUUUU", "ACAGUCCCA", "GGGGCUUAC"], "count": [1000, 1, 1, 1]})

    class ConsensusScore:
        def predict(self, frame):
            return (np.array([list(s) for s in frame["sequence"]]) == np.array(list("CAGGUAAGU"))).sum(axis=1)

    measured = pd.Series([2.0, -0.3], index=["CAGGUAAGU", "UUUGUUUUU"])
    out = rs.site_vs_decoy(ConsensusScore(), train_sequences=np.array([]), seed=1, sites=sites, measured=measured)
    assert out["n_sites"] == out["n_decoys"] == 4 and out["n_site_occurrences"] == 1003
    assert out["auroc"] > 0.99 > out["unique_9mers"]["auroc"]  # the frequent site dominates once weighted
    assert set(out["by_min_count"]) == {"2", "10"}
    assert out["measured_psi_reference"]["n"] == 2  # only measured 9-mers, no decoy measured: one class


def test_replicate_ceiling_recovers_the_noise_free_correlation():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=50_000)
    seqs = pd.Series([f"s{i}" for i in range(truth.size)])
    y1 = truth + rng.normal(scale=0.5, size=truth.size)
    y2 = truth + rng.normal(scale=0.5, size=truth.size)
    test = pd.DataFrame({"sequence": seqs, "tot_ct": 1_000_000, "ex_ct": 1_000_000})
    out = rs.replicate_ceiling(test, y1, pd.DataFrame({"x": seqs, "y": y2}))
    assert out["n_shared"] == truth.size
    assert out["pearson_ceiling"] == pytest.approx(np.corrcoef(truth, y1)[0, 1], abs=0.01)
    assert out["count_noise_pearson_ceiling"] == pytest.approx(1.0, abs=1e-3)  # huge counts: no count noise


def _toy_mpsa(n: int = 600, seed: int = 0):
    """Random NNNGYNNNN 9-mers whose level is additive in the letters (+ noise), and a second replicate."""
    rng = np.random.default_rng(seed)
    sites = rs.all_candidate_sites()[rng.choice(2 * 4**7, size=n, replace=False)]
    weights = rng.normal(size=36)
    y = rs.splice_one_hot(pd.DataFrame({"sequence": sites})) @ weights
    y1, y2 = y + rng.normal(scale=0.3, size=n), y + rng.normal(scale=0.3, size=n)
    groups = pd.DataFrame({"set": np.where(np.arange(n) % 5 == 0, "test", "training"), "sequence": sites,
                           "tot_ct": 100, "ex_ct": 50})
    data = Dataset("rna_splicing", pd.DataFrame({"sequence": sites}), y1, groups, {"data_kind": "simulated"},
                   context={"replicate_source": "toy_replicate"})
    return data, pd.DataFrame({"x": sites, "y": y2})


def test_a_users_estimator_runs_under_the_protocol_with_ceiling_and_decoys(monkeypatch):
    from functools import partial

    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from genotx.engine.runner import run
    from genotx.featurize.transformer import Featurizer
    from genotx.tasks.target_discovery.rna_splicing import protocol

    data, replicate = _toy_mpsa()
    monkeypatch.setattr(protocol, "read_mpsa", lambda source: replicate if source == "toy_replicate" else pytest.fail(source))
    toy_sites = pd.DataFrame({"sequence": replicate["x"].iloc[:50], "count": 3})
    monkeypatch.setattr(protocol, "site_vs_decoy", partial(rs.site_vs_decoy, sites=toy_sites))
    estimator = make_pipeline(Featurizer(rs.splice_one_hot, cache=False), Ridge())
    record, outcome = run("rna_splicing", estimator=estimator, split="predefined", dataset=data)
    assert isinstance(rs.PROTOCOL, protocol.SpliceLevel) and record.n_test == 120
    ceiling = outcome.details["replicate_ceiling"]
    assert ceiling["n_shared"] == 120 and 0.8 < ceiling["replicate_pearson"] < 1
    assert ceiling["pearson_fraction_of_ceiling"] == pytest.approx(record.metrics["pearson"] / ceiling["pearson_ceiling"])
    decoys = outcome.details["site_vs_decoy"]  # the 50 toy sites, less those trained on
    assert decoys["kind"] == "semi-synthetic" and 0 < decoys["n_sites"] < 50
    # a dataset of one's own without a replicate: the ceiling is skipped, the decoy view stays
    bare = Dataset(data.name, data.inputs, data.target, data.groups, {"data_kind": "simulated"})
    _, outcome = run("rna_splicing", estimator=estimator, split="predefined", dataset=bare)
    assert "replicate_ceiling" not in outcome.details and "site_vs_decoy" in outcome.details


def test_importing_the_task_imports_neither_torch_nor_lightgbm():
    import subprocess
    import sys

    code = ("import sys, genotx.tasks.target_discovery.rna_splicing as t; t.MODELS; "
            "print(sorted(m for m in ('torch', 'lightgbm') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------
# user files


def test_read_input_accepts_dna_letters_lower_case_and_aliases(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("splice_site,gene\ncaggtaagt,A\nCAGGCAAGN,B\n")
    frame = rs.read_input(path)
    assert frame["sequence"].tolist() == ["CAGGUAAGU", "CAGGCAAGN"] and list(frame.columns) == ["sequence"]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("sequence\nCAGGUAAGU\nCAGGUAAG\n", r"sites.csv, line 3: .* not a 9-mer"),
        ("sequence\nCAGGUAAGU\nCAGGUAAGU\nCAGGXAAGU\n", r"sites.csv, line 4: .* not a 9-mer"),
        ("sequence\nCAGGUAAGU\nCAGAUAAGU\n", r"sites.csv, line 3: .* GU or GC at \+1/\+2"),
        ("site\nCAGGUAAGU\n", r"sites.csv, line 1: missing column"),
    ],
)
def test_read_input_errors_name_file_line_and_fix(tmp_path, body, match):
    path = tmp_path / "sites.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=match):
        rs.read_input(path)


# ------------------------------------------------------------------------------------------------
# real data, end to end


@pytest.fixture(scope="module")
def mpsa():
    return rs.load()


@pytest.mark.slow
def test_real_mpsa_shape_and_the_replicates_keep_their_own_splits(mpsa):
    assert len(mpsa) == 30_483 and mpsa.inputs["sequence"].str.fullmatch("[ACGU]{3}G[CU][ACGU]{4}").all()
    assert mpsa.groups["set"].value_counts().to_dict() == {"training": 18_469, "test": 6_078, "validation": 5_936}
    replicate = rs.load(source="mavenn_mpsa_replicate")
    assert len(replicate) == 30_697 and replicate.context["replicate_source"] == "mavenn_mpsa"
    assert mpsa.context["replicate_source"] == "mavenn_mpsa_replicate" and set(mpsa.meta) == {"sources", "data_kind"}
    shared = mpsa.groups.merge(replicate.groups, on="sequence", suffixes=("_1", "_2"))
    assert (shared["set_1"] == shared["set_2"]).mean() < 0.6  # the files' split labels disagree


@pytest.mark.slow
def test_real_default_beats_mean_on_the_shipped_split_and_reports_the_ceiling(mpsa, one_thread):
    record, outcome = genotx.run("rna_splicing", dataset=mpsa)
    assert record.model == "mlp_ensemble" and record.split == "predefined" and record.n_test == 6_078
    mean, _ = genotx.run("rna_splicing", model="mean", dataset=mpsa)
    # measured: pearson 0.870, spearman 0.424, rmse 0.251 against the mean's 0.509
    assert record.metrics["pearson"] > 0.85 and mean.metrics["pearson"] == 0.0
    assert record.metrics["spearman"] > 0.35 and record.metrics["rmse"] < 0.6 * mean.metrics["rmse"]
    ceiling = outcome.details["replicate_ceiling"]
    assert 0.75 < ceiling["replicate_pearson"] < 0.82 and ceiling["n_shared"] > 5_000
    assert record.metrics["pearson"] < ceiling["count_noise_pearson_ceiling"]
    decoys = outcome.details["site_vs_decoy"]
    assert decoys["kind"] == "semi-synthetic" and decoys["n_sites"] == decoys["n_decoys"] > 2_000
    # hg38 sites weighted by occurrence vs decoys: the model separates them about as well as the
    # measured PSI does; per distinct 9-mer (mostly singleton sites) even the measurement is weak
    assert decoys["auroc"] > 0.9 and decoys["by_min_count"]["10"]["auroc"] > 0.9
    reference = decoys["measured_psi_reference"]
    assert reference["n"] > 2_000 and reference["measured_psi"]["auroc"] > 0.9
    assert reference["model"]["auroc"] > reference["measured_psi"]["auroc"] - 0.05
    assert reference["measured_psi_unique_9mers"]["auroc"] < 0.7
    assert set(record.provenance["sources"]) == {"mavenn_mpsa", "mavenn_mpsa_replicate", "logomaker_hg38_5ss"}


@pytest.mark.slow
def test_real_predict_scores_a_users_file_and_rejects_a_bad_one(tmp_path, one_thread, monkeypatch):
    from genotx.tasks.registry import Task

    good = tmp_path / "mine.csv"
    good.write_text("sequence\nCAGGUAAGU\nAAAGCUUUU\n")
    scored = pd.read_csv(predict_file("rna_splicing", good, tmp_path / "scored.csv"))
    assert list(scored.columns) == ["sequence", "prediction"]
    assert scored["prediction"].iloc[0] > scored["prediction"].iloc[1]  # consensus site splices better
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    pd.testing.assert_frame_equal(pd.read_csv(predict_file("rna_splicing", good, tmp_path / "again.csv")), scored)
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\nCAGGUAAGU\nCAGAUAAGU\n")
    with pytest.raises(InputError, match=r"bad.csv, line 3"):
        predict_file("rna_splicing", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()


def test_the_sites_source_is_fetched_with_the_task_but_is_not_a_training_set():
    assert rs.SITES_SOURCE in rs.SPEC.sources
    with pytest.raises(InputError, match="site-vs-decoy"):
        rs.load(source=rs.SITES_SOURCE)
