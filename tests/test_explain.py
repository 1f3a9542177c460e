"""genotx.challenges.explain: the interpretation challenge.

Fast units (tiny seeded models, no data): integrated gradients are complete on a tiny net, ISM equals
a brute-force loop, cascading randomisation changes attributions, seqlets -> motifs recover a planted
motif and the matcher names its reference, tree SHAP is additive and ranks the informative feature first,
SHAP passed back through the drug_response PCA keeps its total, the result and its report section
round-trip through JSON. Slow: permutation SHAP is additive (shap's numba compile); on real data the protein_binding CNN's top
motifs sit on and match CRP and the sigma70 boxes; drug_response SHAP ranks named genes; a user's
file is explained from the command line.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from genotx.challenges.explain import (
    EXPLAIN,
    ExplainResult,
    _ig_completeness,
    _pair_features,
    explain,
    explain_figures,
    permutation_shap,
    report_section,
    save_explain,
    tree_shap,
)
from genotx.errors import GenotxError, InputError
from genotx.evaluate import attribution as attr
from genotx.seq.codes import one_hot

BASES = np.array(list("ACGT"))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets on a shared 2-core machine: one intra-op thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in rng.choice(BASES, size=(n, length))]


def _planted(n: int, length: int, motif: str, seed: int) -> tuple[list[str], np.ndarray]:
    """Random sequences, half with ``motif`` planted at a random place (either strand); labels 1/0."""
    rng = np.random.default_rng(seed)
    rc = motif[::-1].translate(str.maketrans("ACGT", "TGCA"))
    seqs, labels = [], np.zeros(n)
    for i in range(n):
        s = list(rng.choice(BASES, size=length))
        if i % 2 == 0:
            pos = rng.integers(0, length - len(motif))
            s[pos : pos + len(motif)] = motif if rng.random() < 0.5 else rc
            labels[i] = 1
        seqs.append("".join(s))
    return seqs, labels


def _tiny_net(length: int = 8, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(length * 4, 6), nn.Tanh(), nn.Linear(6, 1))


def test_integrated_gradients_are_complete_on_a_tiny_torch_estimator():
    from genotx.models.nets import TorchRegressor

    x = one_hot(_random_seqs(200, 8, seed=1)).astype(np.float32)
    y = x[:, 3, 2] * 2.0 - x[:, 5, 0] + np.random.default_rng(1).normal(scale=0.1, size=200)
    estimator = TorchRegressor(epochs=5, lr=1e-2, random_state=0).fit(x, y)

    class OnOneHot:  # a fitted model predicting from strings, as a task's pipeline does
        network_, input_shape_, y_std_, y_mean_ = estimator.network_, estimator.input_shape_, estimator.y_std_, estimator.y_mean_

        def predict(self, frame):
            return estimator.predict(one_hot(frame["sequence"].tolist()).astype(np.float32))

    view = attr.torch_view(OnOneHot(), x[:32], "ACGT")
    assert view is not None
    np.testing.assert_allclose(attr.onehot_scorer(view)(x[:10]), estimator.predict(x[:10]), rtol=1e-4, atol=1e-5)
    contributions = attr.attribute(view, x[:20], method="integrated_gradients", n_steps=200, baseline=0.25)
    assert _ig_completeness(view, x[:20], contributions, 4) < 5e-3
    bad = _ig_completeness(view, x[:20], contributions * 1.5, 4)  # a wrong attribution breaks completeness
    assert bad > 0.05


def test_ism_equals_a_brute_force_loop_on_a_nonlinear_net():
    net = _tiny_net()
    x = one_hot(_random_seqs(5, 8, seed=2)).astype(np.float32)
    effects = attr.saturation_mutagenesis(net, x, batch_size=2)
    with torch.no_grad():
        f = lambda v: net(torch.as_tensor(v[None]))[0, 0].item()  # noqa: E731
        for i in range(len(x)):
            ref = f(x[i])
            for p in range(8):
                for b in range(4):
                    mutant = x[i].copy()
                    mutant[p] = 0
                    mutant[p, b] = 1
                    assert effects[i, p, b] == pytest.approx(f(mutant) - ref, abs=1e-5)


def test_sequence_scorer_decodes_one_hot_and_torch_view_refuses_a_non_network():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from genotx.featurize.transformer import Featurizer

    seqs = _random_seqs(50, 6, seed=3)
    assert attr.onehot_strings(one_hot(seqs), "ACGT").tolist() == seqs
    flat = lambda f: one_hot(f["sequence"].tolist()).reshape(len(f), -1).astype(float)  # noqa: E731
    y = one_hot(seqs)[:, 2, 1] * 3.0
    pipe = make_pipeline(Featurizer(flat, cache=False), Ridge(alpha=1e-3)).fit(pd.DataFrame({"sequence": seqs}), y)
    scores = attr.sequence_scorer(pipe, "ACGT")(one_hot(seqs))
    np.testing.assert_allclose(scores, pipe.predict(pd.DataFrame({"sequence": seqs})))
    assert attr.torch_view(pipe, one_hot(seqs[:8]), "ACGT") is None  # Ridge: no gradients to take


def test_cascading_randomisation_changes_attributions_and_leaves_the_model_alone():
    seqs, labels = _planted(400, 8, "GATA", seed=4)
    x = one_hot(seqs).astype(np.float32)
    net = _tiny_net()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.05)
    target = torch.as_tensor(x[:, 2, 2] * 2 - x[:, 5, 3], dtype=torch.float32)[:, None]
    for _ in range(200):
        optimiser.zero_grad()
        nn.functional.mse_loss(net(torch.as_tensor(x)), target).backward()
        optimiser.step()
    before = [p.detach().clone() for p in net.parameters()]
    trained = np.abs(attr.observed(attr.attribute(net, x[:100], method="ism"), x[:100]))
    cascade = attr.randomisation_cascade(net)
    assert [name for name, _ in cascade] == ["1.3", "2.1"]
    similarity = []
    for _, randomised in cascade:
        c = np.abs(attr.observed(attr.attribute(randomised, x[:100], method="ism"), x[:100]))
        similarity.append(float(pd.Series(trained.ravel()).corr(pd.Series(c.ravel()), method="spearman")))
    assert similarity[-1] < 0.5  # fully randomised: the attributions no longer look like the trained model's
    again = np.abs(attr.observed(attr.attribute(net, x[:100], method="ism"), x[:100]))
    np.testing.assert_array_equal(again, trained)  # the trained model was not touched
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_seqlets_and_motif_matching_recover_a_planted_motif():
    motif = "TGACGTCA"[:7] + "G"  # TGACGTCG: not its own reverse complement
    seqs, labels = _planted(300, 40, motif, seed=5)
    x = one_hot(seqs).astype(np.float32)
    pwm = one_hot([motif])[0].astype(np.float32)
    rc = pwm[::-1, ::-1]

    def model(v):  # best match of the planted word on either strand: a motif detector
        windows = np.stack([v[:, p : p + 8] for p in range(40 - 7)], axis=1)
        return np.maximum(np.einsum("npwa,wa->np", windows, pwm), np.einsum("npwa,wa->np", windows, rc)).max(axis=1) ** 2

    contributions = attr.attribute(model, x, method="ism")
    seqlets = attr.find_seqlets(contributions, x, width=8, max_per_sequence=1)
    assert {s.row for s in seqlets[:100]} <= set(np.flatnonzero(labels == 1))  # the strongest seqlets are in planted sequences
    motifs = attr.cluster_seqlets(seqlets, contributions, x, min_size=10)
    consensus = "".join(BASES[motifs[0].consensus_index])
    assert consensus in (motif, motif[::-1].translate(str.maketrans("ACGT", "TGCA")))
    references = {"planted": attr.counts_to_logodds(pwm * 20, pseudocount=1),
                  "decoy": attr.counts_to_logodds(one_hot(["CCCAAATT"])[0] * 20, pseudocount=1)}
    matches = {name: attr.compare_motifs(motifs[0].cwm, ref, n_null=100, shuffle="query") for name, ref in references.items()}
    assert matches["planted"].r > 0.8 and matches["planted"].p_value < 0.05
    assert matches["decoy"].r < matches["planted"].r - 0.3


def test_tree_shap_is_additive_and_ranks_the_informative_feature():
    import lightgbm as lgb

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 2))
    y = 3 * X[:, 0] + rng.normal(scale=0.1, size=300)
    model = lgb.LGBMRegressor(n_estimators=50, verbose=-1, n_jobs=1, random_state=0).fit(X, y)
    phi, features, base = tree_shap(model, X[:40], X[200:250])
    np.testing.assert_allclose(phi.sum(axis=1) + base, model.predict(features), atol=1e-6)
    assert np.abs(phi[:, 0]).mean() > 10 * np.abs(phi[:, 1]).mean()


def test_data_randomisation_of_a_tree_model_changes_its_shap_ranking():
    import lightgbm as lgb

    from genotx.challenges.explain import _permuted_fit, _spearman
    from genotx.data.dataset import Dataset
    from genotx.evaluate.protocols import Supervised

    class Stub:  # a task as _permuted_fit sees it: only its protocol
        protocol = Supervised()

    rng = np.random.default_rng(9)
    X = pd.DataFrame(rng.normal(size=(400, 8)), columns=[f"f{j}" for j in range(8)])
    y = X.to_numpy() @ np.array([4.0, 2.0, 1.0, 0.5, 0, 0, 0, 0]) + rng.normal(scale=0.1, size=400)
    train = Dataset("toy", X.to_numpy(), y, pd.DataFrame(index=X.index))
    model = lgb.LGBMRegressor(n_estimators=60, verbose=-1, n_jobs=1, random_state=0).fit(X.to_numpy(), y)
    permuted = _permuted_fit(Stub(), model, train, seed=0)
    phi, *_ = tree_shap(model, X.to_numpy()[:50], X.to_numpy()[300:350])
    phi_r, *_ = tree_shap(permuted, X.to_numpy()[:50], X.to_numpy()[300:350])
    assert _spearman(np.abs(phi).mean(axis=0), np.abs(phi).mean(axis=0)) == pytest.approx(1.0)
    assert _spearman(np.abs(phi).mean(axis=0), np.abs(phi_r).mean(axis=0)) < 0.5  # labels permuted: the ranking is gone
    assert np.argmax(np.abs(phi).mean(axis=0)) == 0


def test_pimp_scores_remove_structure_every_model_shares_and_keep_what_the_labels_taught():
    """A toy of the pass-back problem: every model's importance of feature j is its loading s_j times
    model noise; the trained model also reads feature 0 (5x). Raw rankings of a trained and a
    permuted-label model agree (the loadings order both); PIMP z's do not, and feature 0 tops them."""
    from genotx.challenges.explain import _spearman, pimp_scores

    rng = np.random.default_rng(11)
    loading = np.exp(rng.normal(scale=2.0, size=300))

    def model(boost: float = 1.0) -> np.ndarray:
        importance = loading * np.exp(rng.normal(scale=0.3, size=300))
        importance[0] *= boost
        return importance

    null = np.stack([model() for _ in range(5)])
    trained, permuted = model(boost=5.0), model()
    assert _spearman(trained, permuted) > 0.9  # the unnormalised ranking fails the data randomisation test
    z, z_permuted = pimp_scores(trained, null), pimp_scores(permuted, null)
    assert abs(_spearman(z, z_permuted)) < 0.3
    assert int(np.argmax(z)) == 0 and z[0] > z_permuted.max()
    np.testing.assert_allclose(pimp_scores(null[0], null[1:]).mean(), 0, atol=0.5)  # a null model sits on its null


def test_shap_passed_back_through_the_drug_response_pca_keeps_its_total():
    import lightgbm as lgb
    from sklearn.pipeline import make_pipeline

    from genotx.tasks.therapeutics.drug_response.models import PairFeaturizer

    rng = np.random.default_rng(7)
    cells = [f"c{i}" for i in range(60)]
    profile = pd.DataFrame(rng.integers(0, 2, size=(60, 12)).astype(float), index=cells,
                           columns=[f"mut_G{j}" for j in range(6)] + [f"cnv_G{j}" for j in range(6)])
    profile["tissue_lung"] = (np.arange(60) % 3 == 0).astype(float)
    table = lambda f: profile.reindex(pd.unique(f["cell_line"]))  # noqa: E731
    X = pd.DataFrame({"cell_line": np.repeat(cells, 4), "drug": np.tile(["d1", "d2", "d3", "d4"], 60)})
    y = profile.loc[X["cell_line"], "mut_G0"].to_numpy() * 2 + X["drug"].map({"d1": 0, "d2": 1, "d3": 2, "d4": 3}).to_numpy()
    featurizer = PairFeaturizer(cell_features=table, cell_components=10, keep_blocks=("tissue",), min_frequency=0.0)
    pipe = make_pipeline(featurizer, lgb.LGBMRegressor(n_estimators=60, min_child_samples=5, verbose=-1, n_jobs=1)).fit(X, y)
    rows, background = X.iloc[:40], X.iloc[120:170]
    phi, _, base = tree_shap(pipe, rows, background)
    values, inputs, names, blocks = _pair_features(pipe, rows, background, phi)
    assert names[-1] == "drug structure" and "tissue_lung" in names and blocks[names.index("mut_G0")] == "mutation"
    assert values.shape == (40, len(names)) and inputs.shape == values.shape
    np.testing.assert_allclose(values.sum(axis=1), phi.sum(axis=1), atol=1e-6)  # the linear rule loses nothing
    genes = np.abs(values[:, : 12]).mean(axis=0)
    assert names[int(np.argmax(genes))] == "mut_G0"


def _sequence_result() -> ExplainResult:
    rng = np.random.default_rng(8)
    effect = rng.normal(size=(20, 4))
    return ExplainResult(
        task="protein_binding", model="toy", kind="sequence", source="synthetic", data_kind="simulated", n_rows=5,
        methods=["ism"], alphabet="ACGT", positions=[str(i) for i in range(20)],
        tracks={"ism": np.abs(effect).mean(axis=1).tolist()}, effects={"ism": effect.tolist()},
        motifs=[{"rank": 1, "consensus": "ACGT", "n_seqlets": 9, "share": 1.0, "position": [3, 7], "known_site": None,
                 "overlap_nt": 0, "forward_share": 1.0, "best_reference": None, "r": None, "p_value": None, "matches": {},
                 "cwm": effect[3:7].tolist(), "counts": np.ones((4, 4)).tolist()}],
        known_sites={"site": [3, 7]},
        sanity={"main_method": "ism", "agreement": [], "randomisation": {
            "kind": "cascading", "steps": [{"step": "1.a", "ism": 0.4}, {"step": "2.b", "ism": float("nan")}],
            "final": {"ism": float("nan")}, "threshold": 0.5, "passed": False}},
    )


def test_results_round_trip_through_json_and_draw_a_report_section(tmp_path):
    result = _sequence_result()
    payload = json.loads(json.dumps(result.to_dict()))  # strict JSON (NaN -> null)
    assert payload["challenge"] == "explain" and payload["sanity"]["randomisation"]["final"]["ism"] is None
    again = ExplainResult.from_dict(payload)
    assert again.summary().equals(result.summary())
    section = report_section(payload)
    assert section.title == "Interpretation: protein_binding" and "FAILED" in section.summary
    assert len(section.figures) == 4  # tracks, logo, motifs, randomisation
    table = ExplainResult(task="drug_response", model="toy", kind="tabular", source="synthetic", data_kind="real", n_rows=3,
                          methods=["shap"], features=[{"rank": 1, "feature": "mut_TP53", "block": "mutation", "mean_abs_shap": 0.2,
                                                       "mean_shap": 0.0, "direction": -0.5}],
                          blocks=[{"block": "mutation", "share": 1.0, "n_features": 1}], sanity={"attribution": "tree_shap"})
    assert set(explain_figures(table)) == {"features", "blocks"}
    paths = save_explain(result, tmp_path)
    assert paths[0].name == "explain_protein_binding.json" and all(p.exists() for p in paths)
    for figure in section.figures:
        figure.clf()


def test_bad_requests_are_refused_before_any_data_is_loaded(tmp_path):
    with pytest.raises(GenotxError, match="explain plan"):
        explain("methylation_state")
    with pytest.raises(GenotxError, match="attribution method"):
        explain("protein_binding", methods=["magic"])
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\nACGT\n")
    with pytest.raises(InputError, match="fitted on all its data"):
        explain("protein_binding", input=bad)
    with pytest.raises(InputError, match="75-nt"):
        explain("protein_binding", input=bad, fitted=lambda name: pytest.fail("a bad file must fail before any fit"))
    assert set(EXPLAIN) >= {"protein_binding", "rna_splicing", "variant_pathogenicity", "drug_response", "patient_stratification"}


# ---- slow: real data ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_permutation_shap_is_additive_over_text_and_number_columns():
    """Slow only because shap compiles its numba kernels on first use (~15 s)."""
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.choice(["x", "y"], size=300)})
    linear = lambda f: 3 * f["a"].to_numpy(float) + (f["c"] == "y").to_numpy(float)  # noqa: E731
    phi, base = permutation_shap(linear, frame.iloc[:20], frame.iloc[100:150], seed=0)
    np.testing.assert_allclose(phi.sum(axis=1) + base, linear(frame.iloc[:20]), atol=1e-8)
    np.testing.assert_allclose(phi[:, 1], 0, atol=1e-12)  # b is never read
    assert np.abs(phi[:, 0]).mean() > np.abs(phi[:, 2]).mean() > 0


@pytest.mark.slow
def test_protein_binding_cnn_top_motifs_match_crp_and_sigma70():
    from genotx.tasks.registry import get_task

    data = get_task("protein_binding").load()  # a seeded third of the library: the CNN trains in a third of the time
    data = data.subset(np.sort(np.random.default_rng(0).choice(len(data), 16_000, replace=False)))
    result = explain("protein_binding", dataset=data, n_rows=200, methods=["ism", "saliency"])
    check = result.sanity["motifs"]
    assert set(check["known_sites_in_top4"]) == {"CRP", "RNAP -35", "RNAP -10"}
    by_site = {m["known_site"]: m for m in result.motifs[:4] if m["known_site"]}
    assert by_site["CRP"]["best_reference"].startswith("CRP") and by_site["CRP"]["r"] > 0.8
    assert by_site["RNAP -10"]["best_reference"].startswith("sigma70 -10") and by_site["RNAP -10"]["p_value"] < 0.05
    assert result.frame_matches["CRP (Kinney 2010 energy matrix)"]["r"] > 0.85  # as the task's own motif details
    randomisation = result.sanity["randomisation"]
    assert randomisation["passed"] and randomisation["final"]["ism"] < 0.5
    assert result.model_score["pearson"] > 0.4


@pytest.mark.slow
def test_drug_response_gene_ranking_passes_data_randomisation_against_a_pimp_null():
    from dataclasses import replace

    # 12 drugs + lapatinib, 4 null and 3 sanity refits keep it near a minute; the plan's own run (40 drugs + the marker drugs)
    # is what the report shows
    plan = replace(EXPLAIN["drug_response"], subsample=("drug", 12), null_models=4, markers={"Lapatinib": ("cnv_ERBB2",)},
                   marker_rows=30)
    result = explain("drug_response", n_rows=100, plan=plan)
    randomisation = result.sanity["randomisation"]
    steps = randomisation["steps"]
    # unnormalised, the genes' mean |SHAP| ranking barely moves when the labels are permuted (the PCA orders it) ...
    assert np.mean([s["named_ranking"] for s in steps]) > 0.7
    # ... ranked against the permuted-label null, it does: the check is on the reported (PIMP) ranking
    assert set(randomisation["final"]) == {"pimp_ranking"} and randomisation["passed"]
    assert randomisation["final"]["pimp_ranking"] < 0.5
    assert "drug structure" in randomisation["beyond_permuted"]["features"]  # pooled ln IC50: the drug decides most of it
    assert result.features[0]["pimp_z"] > randomisation["beyond_permuted"]["max_pimp_z_of_permuted_models"]
    genes = [f for f in result.features if f["block"] in ("mutation", "copy number")]
    assert genes and all(f["feature"].split("_", 1)[0] in ("mut", "cnv") for f in genes[:20])
    marker = result.sanity["markers"][0]
    assert marker["marker"] == "cnv_ERBB2" and 1 <= marker["rank_pimp"] <= marker["n_genes"] and marker["n_rows"] == 30
    assert np.isfinite(marker["data_spearman"]) and np.isfinite(marker["model_spearman"])
    assert result.sanity["additivity_error"] < 1e-3
    assert {b["block"] for b in result.blocks} >= {"drug", "mutation", "copy number"}
    assert result.model_score["pearson"] > 0.5
    section = report_section(json.loads(json.dumps(result.to_dict())))
    assert f"{randomisation['final']['pimp_ranking']}" in section.summary and "PIMP" in section.summary


@pytest.mark.slow
def test_explain_a_users_file_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from genotx.cli import app
    from genotx.tasks.registry import get_task

    sequences = get_task("protein_binding").load().inputs["sequence"].iloc[:60]
    path = tmp_path / "promoters.csv"
    pd.DataFrame({"id": [f"v{i}" for i in range(60)], "sequence": sequences}).to_csv(path, index=False)
    run = CliRunner().invoke(app, ["explain", "protein_binding", "--input", str(path), "--model", "additive",
                                   "--out", str(tmp_path), "--no-sanity"])
    assert run.exit_code == 0, run.output
    payload = json.loads((tmp_path / "challenges" / "explain_protein_binding.json").read_text())
    assert payload["n_rows"] == 60 and payload["source"] == "user file promoters.csv"
    assert payload["methods"] == ["ism"]  # a ridge has no gradients: IG and saliency are skipped, said so
    assert set(payload["sanity"]["skipped_methods"]) == {"integrated_gradients", "saliency"}
    assert payload["frame_matches"]["CRP (Kinney 2010 energy matrix)"]["known_site"] == "CRP"
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\nACGT\n")
    run = CliRunner().invoke(app, ["explain", "protein_binding", "--input", str(bad), "--out", str(tmp_path)])
    assert run.exit_code == 2 and "75-nt" in run.output
