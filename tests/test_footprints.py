"""The one PROGENy scorer (genotx.bio.footprints): tie handling, scaling, the permutation null, and the
R package's own expected scores on all 14 pathways (human and mouse)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genotx.bio.footprints import PATHWAYS, footprint_matrix, footprint_scores, permutation_scores, progeny_scores, top_genes
from genotx.errors import InputError


def _model() -> pd.DataFrame:
    return pd.DataFrame({
        "gene": ["a", "b", "c", "d", "a", "b", "c", "d"],
        "pathway": ["P"] * 4 + ["Q"] * 4,
        "weight": [1.0, -2.0, 3.0, 0.5, 4.0, 5.0, -6.0, 7.0],
        "p_value": [0.01, 0.02, 0.02, 0.5, 0.3, 0.2, 0.1, 0.9],
    })


def test_top_genes_keeps_ties_at_the_cut_as_dplyr_top_n():
    kept = top_genes(_model(), 2)
    assert sorted(kept[kept["pathway"] == "P"]["gene"]) == ["a", "b", "c"]  # b and c tie at p = 0.02
    assert sorted(kept[kept["pathway"] == "Q"]["gene"]) == ["b", "c"]
    with pytest.raises(InputError, match="at least 1"):
        top_genes(_model(), 0)


def test_footprint_matrix_zero_outside_the_top_genes():
    w = footprint_matrix(_model(), top=1)
    assert w.loc["a", "P"] == 1.0 and w.loc["c", "Q"] == -6.0
    assert (w.to_numpy() != 0).sum() == 2


def test_progeny_scores_on_a_tiny_matrix_by_hand():
    x = pd.DataFrame({"s1": [1.0, 2.0, 0.0, 9.0], "s2": [0.0, 1.0, 1.0, 9.0], "s3": [2.0, 0.0, 1.0, 9.0]},
                     index=["a", "b", "c", "zz"])
    raw = x.loc[["a", "b", "c"]].T.to_numpy() @ footprint_matrix(_model(), top=2).loc[["a", "b", "c"]].to_numpy()
    want = (raw - raw.mean(axis=0)) / raw.std(axis=0, ddof=1)
    got = progeny_scores(x, _model(), top=2)
    np.testing.assert_allclose(got.to_numpy(), want, atol=1e-12)
    unscaled = progeny_scores(x, _model(), top=2, scale=False)
    np.testing.assert_allclose(unscaled.to_numpy(), raw, atol=1e-12)
    # a duplicated gene: the first row counts, as R's expr[genes, ]
    dup = pd.concat([x, pd.DataFrame({"s1": [100.0], "s2": [0.0], "s3": [0.0]}, index=["a"])])
    np.testing.assert_allclose(progeny_scores(dup, _model(), top=2).to_numpy(), want, atol=1e-12)
    with pytest.raises(InputError, match="shares no gene"):
        progeny_scores(x.rename(index=str.upper), _model())


def test_single_sample_is_not_scaled():
    s = footprint_scores(np.array([[1.0, 2.0]]), np.array([[1.0], [1.0]]))
    assert s.tolist() == [[3.0]]


def test_permutation_null_z_and_p():
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(200)]
    stat = pd.Series(rng.normal(size=200), index=genes)
    stat.iloc[:10] += 4.0  # the pathway's genes move together
    w = pd.DataFrame({"up": [1.0] * 10 + [0.0] * 190, "none": [0.0] * 100 + [1.0] * 10 + [0.0] * 90}, index=genes)
    out = permutation_scores(stat, w, n_perm=500, random_state=1)
    assert out.loc["up", "z"] > 5 and out.loc["up", "p_value"] == pytest.approx(1 / 501)
    assert abs(out.loc["none", "z"]) < 3 and out.loc["none", "p_value"] > 0.01
    again = permutation_scores(stat, w, n_perm=500, random_state=1)
    pd.testing.assert_frame_equal(out, again)  # seeded


@pytest.mark.slow
@pytest.mark.parametrize("organism", ["human", "mouse"])
def test_matches_the_r_package_expected_scores_on_all_14_pathways(organism):
    from genotx.data.source import source_files
    from genotx.data.sources.cross_species import progeny_tables

    files = source_files("progeny_models")
    model = progeny_tables(files)[f"model_{organism}"]
    x = pd.read_csv(files[f"{organism}_input"], index_col=0)
    expected = pd.read_csv(files[f"{organism}_expected"], index_col=0)
    expected.columns = [c.replace(".", "-") for c in expected.columns]
    assert sorted(expected.columns) == sorted(PATHWAYS)
    got = progeny_scores(x, model, top=10)  # the package's test: progeny(input, scale=TRUE, top=10)
    diff = (got[expected.columns] - expected.loc[got.index]).abs().max()
    assert (diff < 1e-6).all(), diff.to_dict()
    # the cause of the old mismatch: scored with top = 100, pathways whose top-100 lists reach into
    # other pathways' genes of this 121 / 88 gene input differ (EGFR, MAPK, NFkB, TNFa in human)
    off = (progeny_scores(x, model, top=100)[expected.columns] - expected.loc[got.index]).abs().max()
    assert set(off[off > 0.1].index) == ({"EGFR", "MAPK", "NFkB", "TNFa"} if organism == "human" else {"Estrogen", "MAPK", "NFkB", "TNFa"})
