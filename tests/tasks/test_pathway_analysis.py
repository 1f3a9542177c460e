"""pathway_analysis: the methods against hand computations, scipy, gseapy and decoupler; the moderated t;
the ranking protocol on a planted contrast; the user's file; and the real contrasts end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import genotx
from genotx.data.dataset import Dataset
from genotx.engine.predict import predict_file
from genotx.engine.runner import run
from genotx.errors import InputError
from genotx.tasks.target_discovery import pathway_analysis as pa
from genotx.tasks.target_discovery.pathway_analysis import contrasts, methods, models
from genotx.tasks.target_discovery.pathway_analysis.genesets import normalise_regulons
from genotx.tasks.target_discovery.pathway_analysis.io import read_contrast
from genotx.tasks.target_discovery.pathway_analysis.protocol import PathwayRanking, truth_rank

# --- methods on small synthetic inputs -----------------------------------------------------------------


def _toy(n_genes: int = 200, seed: int = 0) -> tuple[pd.Series, pd.DataFrame]:
    """A statistic where set S1's genes are up, S2's down (targets of a repressor count the other way)."""
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(n_genes)]
    stat = pd.Series(rng.normal(size=n_genes), index=genes)
    stat.iloc[:15] += 3.0
    stat.iloc[15:30] -= 3.0
    edges = [("S1", g, 1.0) for g in genes[:15]] + [("S2", g, 1.0) for g in genes[15:30]]
    edges += [("S3", g, 1.0) for g in genes[100:120]] + [("REP", g, -1.0) for g in genes[:12]]
    return stat, pd.DataFrame(edges, columns=["source", "target", "weight"])


def test_ulm_equals_a_linear_regression_by_hand():
    stat, net = _toy()
    table = methods.score_sets(stat, net, method="ulm", min_size=5, max_size=500)
    for name in ("S1", "S2", "S3", "REP"):
        x = net[net["source"] == name].set_index("target")["weight"].reindex(stat.index).fillna(0.0)
        fit = stats.linregress(x.to_numpy(), stat.to_numpy())
        t = fit.slope / fit.stderr
        assert table.loc[name, "score"] == pytest.approx(t, rel=1e-10)
        assert table.loc[name, "p_value"] == pytest.approx(fit.pvalue, rel=1e-8)
    assert table.loc["S1", "score"] > 5 and table.loc["S2", "score"] < -5 and table.loc["REP", "score"] < -5


def test_ora_p_values_are_scipy_hypergeometric_tails():
    stat, net = _toy()
    table = methods.score_sets(stat, net, method="ora", min_size=5, max_size=500, n_top=20)
    universe = sorted(set(net["target"]))  # measured genes that the collection annotates
    ranked = stat.loc[universe].sort_values(ascending=False).index
    up, down = set(ranked[:20]), set(ranked[-20:])
    for name in ("S1", "S2", "S3"):
        members = set(net.loc[net["source"] == name, "target"])
        p_up = stats.hypergeom.sf(len(members & up) - 1, len(universe), len(members), 20)
        p_down = stats.hypergeom.sf(len(members & down) - 1, len(universe), len(members), 20)
        assert table.loc[name, "p_value"] == pytest.approx(min(1.0, 2 * min(p_up, p_down)), rel=1e-10)
        assert np.sign(table.loc[name, "score"]) == (1 if p_up <= p_down else -1)
    assert table.loc["S1", "score"] > 5 and table.loc["S2", "score"] < -5
    assert table["fdr"].between(0, 1).all() and (table["fdr"] >= table["p_value"] - 1e-15).all()


def _running_sum_by_hand(stat: pd.Series, members: set[str]) -> float:
    ranked = stat.sort_values(ascending=False, kind="stable")
    hit = np.array([g in members for g in ranked.index])
    w = np.abs(ranked.to_numpy()) * hit
    walk = np.cumsum(np.where(hit, w / w.sum(), -1.0 / (len(ranked) - hit.sum())))
    return float(walk[np.argmax(np.abs(walk))])


def test_gsea_enrichment_score_equals_the_running_sum_walked_gene_by_gene():
    stat, net = _toy()
    y, matrix, sets = methods.membership(stat, net, min_size=5, max_size=500)
    nes, p, es = methods.gsea(y.to_numpy(), matrix, n_perm=300, random_state=0)
    for j, name in enumerate(sets):
        assert es[j] == pytest.approx(_running_sum_by_hand(stat, set(net.loc[net["source"] == name, "target"])), abs=1e-12)
    i1, i2, i3 = (list(sets).index(s) for s in ("S1", "S2", "S3"))
    assert nes[i1] > 1.5 and nes[i2] < -1.5 and p[i1] < 0.01 and p[i2] < 0.01 and p[i3] > 0.01


def test_random_floor_ties_every_set_and_every_method_returns_the_same_columns():
    stat, net = _toy()
    floor = methods.score_sets(stat, net, method="random", min_size=5, max_size=500)
    assert (floor["score"] == 0).all() and floor["p_value"].isna().all()
    for method in methods.METHODS:
        table = methods.score_sets(stat, net, method=method, min_size=5, max_size=500, n_perm=100)
        assert list(table.columns) == ["score", "p_value", "fdr", "n_genes", "drivers"]
        assert table["score"].is_monotonic_decreasing and set(table.index) == {"S1", "S2", "S3", "REP"}
    drivers = methods.score_sets(stat, net, method="ulm", min_size=5, max_size=500).loc["S1", "drivers"].split(";")
    assert len(drivers) == 5 and set(drivers) <= set(stat.index[:15])
    with pytest.raises(InputError, match="no set"):
        methods.score_sets(stat, net, method="ulm", min_size=50, max_size=500)


def test_moderated_t_finds_a_planted_gene_and_shrinks_toward_the_prior():
    rng = np.random.default_rng(1)
    values = pd.DataFrame(rng.normal(size=(500, 6)), columns=[f"s{i}" for i in range(6)], index=[f"g{i}" for i in range(500)])
    values.iloc[0, :3] += 4.0
    table = contrasts.two_group(values, ["s0", "s1", "s2"], ["s3", "s4", "s5"])
    assert table["t"].idxmax() == "g0" and table.loc["g0", "p_value"] < 1e-4
    plain = stats.ttest_ind(values.iloc[:, :3], values.iloc[:, 3:], axis=1)
    assert np.corrcoef(table["t"], plain.statistic)[0, 1] > 0.8  # same ordering broadly, steadier scale
    assert np.isfinite(table.attrs["prior"]["s0_sq"])
    pairs = contrasts.paired(values, ["s0", "s1", "s2"], ["s3", "s4", "s5"])
    assert pairs.loc["g0", "logfc"] == pytest.approx(values.iloc[0, :3].mean() - values.iloc[0, 3:].mean())


def test_regulon_ids_are_mapped_to_symbols():
    edges = pd.DataFrame({"source": ["COMPLEX:NFKB1_RELA", "Q01201", "COMPLEX:SMAD3_SMAD4"], "target": ["IL6", "P05231", "SERPINE1"],
                          "mor": [1, 1, -1]})
    out = normalise_regulons(edges, {"Q01201": "RELB", "P05231": "IL6"})
    assert out.values.tolist() == [["NFKB", "IL6", 1.0], ["RELB", "IL6", 1.0], ["SMAD3_SMAD4", "SERPINE1", -1.0]]


# --- the protocol on a planted contrast ------------------------------------------------------------------


def test_truth_rank_uses_direction_ties_and_ignores_untestable_sets():
    scores = np.array([3.0, -1.0, np.nan, -5.0, 3.0])
    assert truth_rank(scores, np.array([False, False, False, True, False]), -1) == (1.0, 4, 1)
    assert truth_rank(scores, np.array([True, False, False, False, True]), 1) == (1.0, 4, 2)  # both true share the top
    assert truth_rank(scores, np.array([True, False, False, False, False]), 1) == (1.5, 4, 1)
    rng = np.random.default_rng(0)  # the tie rule is the mean of random tie-breaks
    truth = np.array([True, True] + [False] * 8)
    shuffled = [truth_rank(rng.permutation(10).astype(float), truth, 1)[0] for _ in range(4000)]
    assert truth_rank(np.zeros(10), truth, 1)[0] == pytest.approx(np.mean(shuffled), abs=0.1)  # 11 / 3
    assert np.isnan(truth_rank(scores, np.array([False, False, True, False, False]), 1)[0])


class _Toy:
    class spec:
        metrics = ("mean_rank", "top10_recall")
        name = "toy"

    module = None

    def folds(self, data, split, *, random_state=0):
        return pa.SPLITS["foxa2_knockout"].split(data.groups, random_state=random_state)


def test_protocol_ranks_a_planted_down_regulated_tf_first_and_the_floor_at_the_random_expectation(monkeypatch):
    stat, net = _toy(n_genes=400)
    extra = [(f"TF{k}", f"G{g}", 1.0) for k in range(60) for g in np.random.default_rng(k).choice(np.arange(40, 400), 12, replace=False)]
    net = pd.concat([net, pd.DataFrame(extra, columns=net.columns)], ignore_index=True)
    monkeypatch.setattr(models, "network", lambda collection, organism="human": net)
    monkeypatch.setattr(models, "set_names", lambda collection: {})
    data = Dataset("toy", stat.to_frame("foxa2_knockout").T, np.array(["foxa2_knockout"], dtype=object),
                   pd.DataFrame({"contrast": ["foxa2_knockout"]}), context={"truth": {"foxa2_knockout": {"tf": (("S2",), -1)}}})
    protocol = PathwayRanking()
    ulm = protocol.evaluate(_Toy(), data, split="foxa2_knockout", estimator=models.PathwayScorer(method="ulm"))
    assert ulm.metrics["mean_rank"] == 1.0 and ulm.metrics["top10_recall"] == 1.0
    n = ulm.details["pathway_ranking"]["foxa2_knockout"]["n_candidates"]
    assert n == 64 and ulm.metrics["random_expected_rank"] == pytest.approx((n + 1) / 2)
    floor = protocol.evaluate(_Toy(), data, split="foxa2_knockout", estimator=models.PathwayScorer(method="random"))
    assert floor.metrics["mean_rank"] == floor.metrics["random_expected_rank"] == 32.5
    entry = ulm.details["pathway_ranking"]["foxa2_knockout"]
    assert entry["top_down"][0]["id"] in ("S2", "REP") and entry["truth_rows"][0]["id"] == "S2"
    from genotx.report.plots import DETAIL_PLOTS

    assert len(DETAIL_PLOTS["pathway_ranking"](ulm.details)) == 1


# --- a user's file ---------------------------------------------------------------------------------------


def test_read_contrast_accepts_gene_and_statistic_and_refuses_bad_files(tmp_path):
    genes = [f"G{i}" for i in range(60)]
    good = tmp_path / "ko.csv"
    pd.DataFrame({"symbol": genes, "baseMean": 1.0, "log2FoldChange": np.linspace(-2, 2, 60)}).to_csv(good, index=False)
    frame = read_contrast(good)
    assert frame.index.tolist() == ["ko"] and frame.shape == (1, 60) and frame.attrs["statistic"] == "log2FoldChange"
    two = tmp_path / "two.tsv"
    pd.DataFrame({"id": genes, "whatever": np.arange(60.0)}).to_csv(two, sep="\t", index=False)
    assert read_contrast(two).iloc[0, 5] == 5.0
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,t\n" + "\n".join(f"G{i},{i}" for i in range(60)) + "\nG99,high\n")
    with pytest.raises(InputError, match="line 62"):
        read_contrast(bad)
    few = tmp_path / "few.csv"
    few.write_text("gene,t\nA,1\nB,2\n")
    with pytest.raises(InputError, match="many genes"):
        read_contrast(few)
    ambiguous = tmp_path / "amb.csv"
    ambiguous.write_text("gene,a,b\n" + "\n".join(f"G{i},1,2" for i in range(60)))
    with pytest.raises(InputError, match="statistic"):
        read_contrast(ambiguous)
    assert read_contrast(ambiguous, column="b").iloc[0, 0] == 2.0
    with pytest.raises(InputError, match="not found"):
        read_contrast(tmp_path / "none.csv")


# --- real data (slow) --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    return pa.load()


@pytest.mark.slow
def test_real_contrasts(real):
    assert list(real.target) == ["foxa2_knockout", "dexamethasone", "bcr_abl"]
    measured = real.inputs.notna().sum(axis=1)
    assert (measured > 8000).all(), measured
    # known direct responses: glucocorticoid targets up with dexamethasone, ABL1 (the fusion's 3' probes) with BCR/ABL
    assert real.inputs.loc["dexamethasone", ["FKBP5", "TSC22D3", "PER1", "KLF15"]].min() > 3
    assert real.inputs.loc["bcr_abl", "ABL1"] > 4


@pytest.mark.slow
def test_default_beats_its_random_floor_on_the_default_contrast(real):
    task = genotx.get_task("pathway_analysis")
    default = run(task, model="ulm_collectri", split="foxa2_knockout", dataset=real)[0].metrics
    floor = run(task, model="random", split="foxa2_knockout", dataset=real)[0].metrics
    assert floor["mean_rank"] == default["random_expected_rank"]  # the floor is the exact random expectation
    assert default["mean_rank"] < 0.6 * floor["mean_rank"], (default, floor)
    dex = run(task, model="gsea_collectri", split="dexamethasone", dataset=real)[0].metrics
    assert dex["mean_rank"] <= 5  # the glucocorticoid receptor's regulon is among the most up


@pytest.mark.slow
def test_agrees_with_decoupler_and_gseapy(real):
    dc = pytest.importorskip("decoupler")
    gp = pytest.importorskip("gseapy")
    stat = real.inputs.loc["bcr_abl"].dropna()
    scorer = models.PathwayScorer(method="ulm", collection="collectri").fit()
    net = models.network("collectri")
    mine = scorer.results(stat)
    es, padj = dc.mt.ulm(stat.to_frame("c").T, net, tmin=5)
    common = mine.index.intersection(es.columns)
    assert len(common) == len(mine)
    np.testing.assert_allclose(mine.loc[common, "score"], es.loc["c", common], atol=1e-9)
    np.testing.assert_allclose(mine.loc[common, "fdr"], padj.loc["c", common], atol=1e-6)  # decoupler returns BH-adjusted p
    kegg = models.PathwayScorer(method="gsea", collection="kegg", n_perm=1000).fit()
    mine = kegg.results(stat)
    sets = {k: v.tolist() for k, v in models.network("kegg").groupby("source")["target"]}
    res = gp.prerank(rnk=stat.rename("score").rename_axis("gene").reset_index(), gene_sets=sets, permutation_num=200,
                     min_size=15, max_size=500, seed=0, threads=1, outdir=None, no_plot=True, weight=1, verbose=False).res2d
    theirs = res.set_index("Term")
    common = mine.index.intersection(theirs.index)
    assert len(common) == len(mine)
    # the enrichment score is the same number; NES differs only by the permutation draws
    from genotx.tasks.target_discovery.pathway_analysis.methods import gsea, membership

    y, matrix, ids = membership(stat, models.network("kegg"), min_size=15, max_size=500)
    es_mine = pd.Series(gsea(y.to_numpy(), matrix, n_perm=10)[2], index=ids)
    np.testing.assert_allclose(es_mine.loc[common], theirs.loc[common, "ES"].astype(float), atol=1e-12)
    rho = stats.spearmanr(mine.loc[common, "score"], theirs.loc[common, "NES"].astype(float)).statistic
    assert rho >= 0.95
    top = lambda s: set(s.sort_values().index[:5]) | set(s.sort_values().index[-5:])  # noqa: E731
    assert len(top(mine.loc[common, "score"]) & top(theirs.loc[common, "NES"].astype(float))) >= 8
    # decoupler's gsea on the same input (seed must be non-zero: decoupler 2.2.0 shuffles only `if seed:`)
    nes, _ = dc.mt.gsea(stat.to_frame("c").T, models.network("kegg"), tmin=15, times=200, seed=42)
    rho = stats.spearmanr(mine.loc[common, "score"], nes.loc["c", common]).statistic
    assert rho >= 0.95
    assert len(top(mine.loc[common, "score"]) & top(nes.loc["c", common])) >= 8


@pytest.mark.slow
def test_predict_round_trip(tmp_path, real):
    contrast = tmp_path / "dex.csv"
    real.inputs.loc["dexamethasone"].dropna().rename("t").rename_axis("gene").reset_index().to_csv(contrast, index=False)
    out = predict_file("pathway_analysis", contrast, tmp_path / "tfs.csv", model="gsea_collectri", top_k=10)
    table = pd.read_csv(out)
    assert list(table.columns) == ["set", "name", "score", "direction", "p_value", "fdr", "n_genes", "drivers"]
    assert len(table) == 20 and "NR3C1" in set(table["set"].head(5))
    with pytest.raises(InputError, match="no set of the collection"):  # human symbols are not mouse genes
        predict_file("pathway_analysis", contrast, tmp_path / "mouse.csv", model="progeny", organism="mouse")
    mouse_like = tmp_path / "mouse_like.csv"  # most mouse symbols are the human ones in title case
    stat = real.inputs.loc["dexamethasone"].dropna()
    pd.DataFrame({"gene": stat.index.str.capitalize(), "t": stat.to_numpy()}).to_csv(mouse_like, index=False)
    mouse = pd.read_csv(predict_file("pathway_analysis", mouse_like, tmp_path / "mouse.csv", model="progeny", organism="mouse"))
    assert len(mouse) == 14 and mouse["score"].is_monotonic_decreasing
    with pytest.raises(InputError, match="human genes only"):
        predict_file("pathway_analysis", contrast, tmp_path / "x.csv", model="ulm_go", organism="mouse")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        predict_file("pathway_analysis", empty, tmp_path / "y.csv")
