"""genotx.evaluate.attribution: exact attribution on models with known weights, site finding, motif
comparison and de-novo seqlet matrices on planted motifs (all offline, tiny, seeded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from genotx.evaluate.attribution import (
    attribute,
    compare_motifs,
    counts_to_logodds,
    effect_matrix,
    find_sites,
    input_gradients,
    motifs_from_model,
    onehot_scorer,
    otsu_threshold,
    position_importance,
    reverse_complement_matrix,
    saturation_mutagenesis,
    seqlet_matrix,
)
from genotx.errors import InputError
from genotx.seq.codes import one_hot
from genotx.featurize.transformer import Featurizer
from genotx.models.nets import TorchClassifier, TorchRegressor

BASES = np.array(list("ACGT"))


def _random_seqs(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in rng.choice(BASES, size=(n, length))]


class _Linear(nn.Module):
    """score = sum W[p, b] x[p, b] (a PWM): ISM effects are exactly W[p, b] - W[p, ref]."""

    def __init__(self, weights: np.ndarray) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, x):
        return (x * self.w).sum(dim=(1, 2))[:, None]


def test_ism_is_exact_on_a_pwm_and_batching_does_not_matter():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(12, 4))
    x = one_hot(_random_seqs(7, 12))
    effects = saturation_mutagenesis(_Linear(w), x)
    ref = (x * w).sum(axis=2, keepdims=True)
    np.testing.assert_allclose(effects, w[None] - ref, atol=1e-5)
    np.testing.assert_allclose(saturation_mutagenesis(_Linear(w), x, batch_size=1), effects, atol=1e-6)
    assert (effects[x == 1] == 0).all()


def test_contributions_gradient_and_ism_agree_on_a_linear_model_and_give_the_centred_pwm():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(10, 4))
    x = one_hot(_random_seqs(20, 10))
    ism = attribute(_Linear(w), x, method="ism")
    grad = attribute(_Linear(w), x, method="gradient")
    centred = w - w.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ism, np.broadcast_to(centred, ism.shape), atol=1e-5)
    np.testing.assert_allclose(grad, ism, atol=1e-5)
    np.testing.assert_allclose(effect_matrix(ism), centred, atol=1e-5)
    np.testing.assert_allclose(input_gradients(_Linear(w), x)[0], w, atol=1e-6)


def test_integrated_gradients_are_complete():
    pytest.importorskip("captum")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(32, 8), nn.Tanh(), nn.Linear(8, 1))
    x = one_hot(_random_seqs(5, 8)).astype(np.float32)
    contributions = attribute(net, x, method="integrated_gradients", n_steps=200)
    np.testing.assert_allclose(contributions.sum(axis=2), 0, atol=1e-5)  # centred per position
    total = (contributions * x).sum(axis=(1, 2))  # observed bases: IG's per-position attributions
    with torch.no_grad():
        gap = (net(torch.as_tensor(x)) - net(torch.full_like(torch.as_tensor(x), 0.25)))[:, 0].numpy()
    np.testing.assert_allclose(total, gap, atol=2e-3)


def test_attribution_restores_the_model_mode():
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(24, 1))
    net.train()
    x = one_hot(_random_seqs(3, 6))
    a = saturation_mutagenesis(net, x)
    b = saturation_mutagenesis(net, x)
    assert net.training  # put back in training mode
    np.testing.assert_array_equal(a, b)  # dropout was off during attribution


@pytest.fixture
def one_thread():
    """Tiny nets on a shared 2-core machine: one intra-op thread avoids OpenMP spin contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_scorer_units_for_genotx_estimators_and_pipelines(one_thread):
    rng = np.random.default_rng(2)
    seqs = _random_seqs(300, 6, seed=2)
    x = one_hot(seqs).astype(np.float32)
    y = x[:, 2, 1] * 10.0 + rng.normal(scale=0.1, size=300) + 50
    reg = TorchRegressor(epochs=30, lr=1e-2, random_state=0).fit(x, y)
    np.testing.assert_allclose(onehot_scorer(reg)(x), reg.predict(x), rtol=1e-5)
    clf = TorchClassifier(epochs=5, random_state=0).fit(x, (y > 55).astype(int))
    proba = clf.predict_proba(x)[:, 1]
    np.testing.assert_allclose(onehot_scorer(clf)(x), np.log(proba / (1 - proba)), atol=1e-3)
    flat = lambda f: one_hot(f["sequence"]).reshape(len(f), -1)  # noqa: E731
    import pandas as pd

    pipe = make_pipeline(Featurizer(flat, cache=False), LinearRegression()).fit(pd.DataFrame({"sequence": seqs}), y)
    no_c = x[x[:, 2, 1] == 0][:4]
    effects = saturation_mutagenesis(pipe, no_c)
    assert effects[:, 2, 1].min() > 9  # C at position 2 adds ~10
    with pytest.raises(InputError, match="expects 24 features"):
        saturation_mutagenesis(pipe, one_hot(_random_seqs(2, 7)))


def test_otsu_and_find_sites_on_a_planted_profile():
    rng = np.random.default_rng(3)
    imp = rng.uniform(0.05, 0.2, size=75)
    for start, stop in ((6, 11), (17, 22), (39, 45), (63, 69)):
        imp[start:stop] = rng.uniform(0.5, 1.0, size=stop - start)
    imp[30] = 0.9  # a lone spike: narrower than min_width, dropped
    assert 0.2 < otsu_threshold(imp) < 0.5
    sites = sorted(find_sites(imp), key=lambda s: s.start)
    assert [(s.start, s.stop) for s in sites] == [(6, 11), (17, 22), (39, 45), (63, 69)]
    merged = sorted(find_sites(imp, max_gap=6), key=lambda s: s.start)
    assert (merged[0].start, merged[0].stop) == (6, 22)
    assert find_sites(np.zeros(20)) == []


def test_compare_motifs_finds_offset_strand_and_is_significant():
    rng = np.random.default_rng(4)
    ref = counts_to_logodds(rng.dirichlet(np.full(4, 0.3), size=8) * 100)
    query = rng.normal(scale=0.2, size=(40, 4))
    query[20:28] += reverse_complement_matrix(ref)
    match = compare_motifs(query, ref, n_null=50)
    assert (match.offset, match.strand, match.n_positions) == (20, "-", 8)
    assert match.r > 0.9 and match.p_value < 0.05
    only_forward = compare_motifs(query, ref, both_strands=False)
    assert only_forward.r < match.r
    unrelated = compare_motifs(rng.normal(size=(40, 4)), ref, n_null=50)
    assert unrelated.p_value > 0.05
    with pytest.raises(InputError):
        compare_motifs(query, ref[:, :3])


def test_seqlet_matrix_recovers_a_planted_motif_in_both_orientations():
    rng = np.random.default_rng(5)
    motif = "TGCTGAGTCA"
    seqs = []
    for i in range(200):
        s = list(rng.choice(BASES, size=60))
        site = motif if i % 2 else motif[::-1].translate(str.maketrans("ACGT", "TGCA"))
        pos = rng.integers(0, 50)
        s[pos : pos + 10] = site
        seqs.append("".join(s))
    x = one_hot(seqs)
    model = lambda v: np.max(  # noqa: E731  score = best PWM match on either strand
        [np.einsum("nwa,wa->n", v[:, p : p + 10], pwm) for p in range(51) for pwm in (one_hot([motif])[0], one_hot([motif])[0][::-1, ::-1])], axis=0
    )
    contributions = attribute(model, x[:60], method="ism")
    counts = seqlet_matrix(contributions, x[:60], width=10)
    consensus = "".join(BASES[counts.argmax(axis=1)])
    assert consensus in (motif, motif[::-1].translate(str.maketrans("ACGT", "TGCA")))


def test_motifs_from_model_on_an_aligned_library():
    """A promoter-like toy: two planted sites; the model's map finds them and places the reference."""
    rng = np.random.default_rng(6)
    w = np.zeros((40, 4))
    site_a = counts_to_logodds(rng.dirichlet(np.full(4, 0.2), size=6) * 50)
    w[5:11] = site_a
    w[25:31] = one_hot(["TATAAT"])[0] * 2
    seqs = _random_seqs(300, 40, seed=6)
    report = motifs_from_model(_Linear(w), seqs, references={"a": site_a}, n_sequences=200, n_null=50)
    spans = sorted((s.start, s.stop) for s in report.sites)
    assert spans == [(5, 11), (25, 31)]
    assert [s.preferred for s in report.sites if s.start == 25] == ["TATAAT"]
    assert report.matches["a"].offset == 5 and report.matches["a"].r > 0.95
    assert report.n_sequences == 200 and position_importance(attribute(_Linear(w), one_hot(seqs[:5])), one_hot(seqs[:5])).shape == (40,)
    out = report.to_dict()
    assert out["sites"][0]["stop"] > out["sites"][0]["start"] and len(out["importance"]) == 40
    import json

    json.dumps(out)  # JSON-ready


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="shape"):
        saturation_mutagenesis(lambda v: v.sum(axis=(1, 2)), np.zeros((3, 4)))
    with pytest.raises(InputError, match="not an attribution method"):
        attribute(lambda v: v.sum(axis=(1, 2)), one_hot(["ACGT"]), method="magic")
    with pytest.raises(InputError, match="torch model"):
        attribute(lambda v: v.sum(axis=(1, 2)), one_hot(["ACGT"]), method="gradient")
