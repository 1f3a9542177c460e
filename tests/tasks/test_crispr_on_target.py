"""crispr_on_target: guide features (Tm, microhomology, NGGX) and user files on tiny inputs (offline),
and end to end on the real Doench 2016 screens (slow): the default model clearly beats spacer GC on
leave-one-gene-out, splits never let a gene or a 30-mer cross, ``genotx predict`` scores a user's file."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

import genotx
from genotx.engine.predict import predict_file
from genotx.errors import InputError
from genotx.featurize.guides import (
    TM_SEGMENTS,
    melting_temperature,
    microhomology_scores,
    pam_context,
    segment_melting_temperatures,
)
from genotx.tasks.therapeutics.crispr_on_target.models import GuideCNN
from genotx.tasks.registry import get_task
from genotx.tasks.therapeutics import crispr_on_target as cot

GUIDE = "CAGAAAAAAAAACACTGCAACAAGAGGGTA"  # first row of the FC+RES table: 4 + 20 spacer + AGG + GTA


def _bae_reference(seq: str, left: int) -> tuple[float, float, int]:
    """Bae et al. (2014) microhomology scorer written as published (loops), the oracle for tiny inputs."""
    found = [
        (seq[i : i + k], i, i + k, j, j + k, j - i)
        for k in range(2, left)[::-1]
        for j in range(left, len(seq) - k + 1)
        for i in range(0, left - k + 1)
        if seq[i : i + k] == seq[j : j + k]
    ]
    in_frame = out_frame = 0.0
    count = 0
    for a, (scrap, ls, le, rs, re_, length) in enumerate(found):
        nested = any(
            ls >= l2 and le <= e2 and rs >= r2 and re_ <= f2 and ls - l2 == rs - r2 and le - e2 == re_ - f2
            for _, l2, e2, r2, f2, _ in found[:a]
        )
        if nested:
            continue
        gc = len(re.findall("[GC]", scrap[:2]))
        score = 100 * round(1 / math.exp(length / 20.0), 3) * (len(scrap) - gc + 2 * gc)
        count += 1
        if length % 3:
            out_frame += score
        else:
            in_frame += score
    total = in_frame + out_frame
    return total, (100 * out_frame / total if total else float("nan")), count


# ------------------------------------------------------------------------------------------------
# melting temperature


def test_melting_temperature_of_a_dinucleotide_by_hand():
    # AC/TG = GT/CA step (-8.4, -22.4) + terminal A/T (2.3, 4.1) and G/C (0.1, -2.8) initiation,
    # entropy salt correction 0.368 * 1 * ln(0.05), two strands at 25 nM -> k = 12.5 nM
    dh, ds = -8.4 + 2.3 + 0.1, -22.4 + 4.1 - 2.8 + 0.368 * math.log(0.05)
    expected = 1000 * dh / (ds + 1.987 * math.log(12.5e-9)) - 273.15
    assert melting_temperature(["AC"])[0] == pytest.approx(expected, abs=1e-9)


def test_melting_temperature_matches_biopython_tm_nn_values():
    # Bio.SeqUtils.MeltingTemp.Tm_NN(seq) with defaults, biopython 1.88
    got = melting_temperature(["ACGTACGTACGTACGTACGT", "GGGGGCCCCCAAAAATTTTT"])
    assert got == pytest.approx([53.09666582369118, 53.51480250438675], abs=1e-9)
    segments = segment_melting_temperatures([GUIDE])[0]
    assert segments == pytest.approx([57.38333430106138, -36.4139306244453, 11.93753099452033, -50.31930198408023], abs=1e-9)


def test_rule_set2_tm_segments_are_the_30mer_and_spacer_16_20_8_15_3_7():
    spacer = slice(4, 24)
    one_based = lambda a, b: slice(spacer.start + a - 1, spacer.start + b)  # noqa: E731
    assert TM_SEGMENTS == (slice(0, 30), one_based(16, 20), one_based(8, 15), one_based(3, 7))


def test_melting_temperature_agrees_with_biopython_on_random_sequences():
    mt = pytest.importorskip("Bio.SeqUtils.MeltingTemp")
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 23)) for _ in range(50)]
    assert melting_temperature(seqs) == pytest.approx([mt.Tm_NN(s) for s in seqs], abs=1e-9)


@pytest.mark.parametrize("context", ["AAAAA{}AAAA", "GCGC{}CGCGC"])
def test_melting_temperature_of_n_lies_within_its_four_substitutions(context):
    with_n, *called = melting_temperature([context.format(b) for b in "NACGT"])
    assert np.isfinite(with_n) and min(called) < with_n < max(called)


def test_melting_temperature_refuses_bad_letters_and_one_base():
    with pytest.raises(InputError, match="record 1"):
        melting_temperature(["ACGT", "ACXT"])
    with pytest.raises(InputError, match="at least 2"):
        melting_temperature(["A", "C"])


# ------------------------------------------------------------------------------------------------
# microhomology, NGGX


def test_microhomology_one_pattern_by_hand():
    # GCAA at 0-3 and 7-10 across a cut at 5: one deletion of 7 nt (out of frame), 2 GC in its first
    # two bases -> 100 * round(exp(-7/20), 3) * (4 + 2) = 423
    assert microhomology_scores(["GCAATTTGCAA"], cut=5).tolist() == [[423.0, 100.0, 1.0]]


def test_microhomology_without_any_pattern_is_zero_and_nan():
    mh, oof, n = microhomology_scores(["AAAAACCCCC"], cut=5)[0]
    assert mh == 0 and n == 0 and np.isnan(oof)


def test_microhomology_matches_the_published_algorithm():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 30, p=[0.3, 0.2, 0.2, 0.3])) for _ in range(60)] + [GUIDE]
    got = microhomology_scores(seqs)
    expected = np.array([_bae_reference(s, 21) for s in seqs], dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)


def test_n_never_counts_as_microhomology():
    assert microhomology_scores(["NNAAANN"], cut=2).tolist()[0][::2] == [0.0, 0.0]


def test_pam_context_is_the_n_and_the_base_after_ngg():
    onehot = pam_context([GUIDE, GUIDE[:24] + "N" + GUIDE[25:]])
    assert onehot[0].tolist() == np.eye(16, dtype=np.uint8)[0 * 4 + 2].tolist()  # A of AGG, G after
    assert onehot[1].sum() == 0


# ------------------------------------------------------------------------------------------------
# task features and models on tiny inputs


def test_rule_set2_features_shape_and_missing_percent_peptide():
    frame = pd.DataFrame({"sequence": [GUIDE, GUIDE[::-1][:24] + "AGGTGA"]})
    features = cot.rule_set2_features(frame)
    assert features.shape == (2, 631) and features.dtype == np.float32
    assert np.isnan(features[:, 120 + 464 + 3]).all()  # % peptide column, unknown here
    with_peptide = cot.rule_set2_features(frame.assign(percent_peptide=[10.0, 90.0]))
    assert with_peptide[:, 587].tolist() == [10.0, 90.0]


def test_cnn_inputs_fill_unknown_percent_peptide_with_half():
    x = cot.cnn_inputs(pd.DataFrame({"sequence": [GUIDE], "percent_peptide": [np.nan]}))
    assert x.shape == (1, 121) and x[0, -1] == 0.5 and x[0, :120].sum() == 30


def test_guide_cnn_needs_the_whole_sequence():
    with pytest.raises(ValueError, match="at least 120"):
        GuideCNN(100, 1)


def test_models_and_splits_match_the_spec():
    assert list(cot.MODELS) == list(cot.SPEC.baselines) and cot.SPEC.trivial == "gc_only"
    assert list(cot.SPLITS) == list(cot.SPEC.splits)


def test_every_model_fits_and_predicts_tiny_data():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 25)) + "GG" + "".join(rng.choice(list("ACGT"), 3)) for _ in range(120)]
    frame = pd.DataFrame({"sequence": seqs, "percent_peptide": rng.uniform(0, 100, 120), "cut_position": np.nan})
    y = cot.spacer_gc(frame)[:, 0] + rng.normal(scale=0.05, size=120)
    for name in cot.MODELS:
        pred = cot.MODELS[name](random_state=0).fit(frame, y).predict(frame)
        assert pred.shape == (120,) and np.isfinite(pred).all()


# ------------------------------------------------------------------------------------------------
# user files


def _write(tmp_path, text: str):
    path = tmp_path / "guides.csv"
    path.write_text(text)
    return path


def test_read_input_accepts_the_30mer_header_alias(tmp_path):
    frame = cot.read_input(_write(tmp_path, f"30mer,percent_peptide\n{GUIDE.lower()},50\n{GUIDE},\n"))
    assert frame["sequence"].tolist() == [GUIDE, GUIDE]
    assert frame["percent_peptide"].iloc[0] == 50 and np.isnan(frame["percent_peptide"].iloc[1])
    assert frame["cut_position"].isna().all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (GUIDE[:29], "is not a 30-mer"),  # bad length
        (GUIDE[:10] + "X" + GUIDE[11:], "is not a 30-mer"),  # bad character
        (GUIDE[:25] + "CC" + GUIDE[27:], "no NGG PAM"),  # no PAM
    ],
)
def test_read_input_names_the_bad_line(tmp_path, bad, message):
    path = _write(tmp_path, f"sequence\n{GUIDE}\n{bad}\n")
    with pytest.raises(InputError, match=message) as err:
        cot.read_input(path)
    assert err.value.line == 3 and "guides.csv" in str(err.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "-1", "250", "1e30"])
def test_read_input_refuses_a_percent_peptide_outside_0_100(tmp_path, value):
    """Issue 15: ``inf`` % peptide gave an empty prediction cell with exit 0."""
    path = _write(tmp_path, f"sequence,percent_peptide\n{GUIDE},50\n{GUIDE},{value}\n")
    with pytest.raises(InputError, match="percentage between 0 and 100|non-finite") as err:
        cot.read_input(path)
    assert err.value.line == 3


def test_read_input_refuses_a_negative_or_infinite_cut_position(tmp_path):
    with pytest.raises(InputError, match="non-negative amino-acid position|non-finite") as err:
        cot.read_input(_write(tmp_path, f"sequence,cut_position\n{GUIDE},inf\n"))
    assert err.value.line == 2


def test_importing_the_task_imports_neither_torch_nor_lightgbm():
    import subprocess
    import sys

    code = ("import sys, genotx.tasks.therapeutics.crispr_on_target as t; t.MODELS; "
            "print(sorted(m for m in ('torch', 'lightgbm') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------
# end to end on the real screens


@pytest.mark.slow
def test_default_model_clearly_beats_spacer_gc_leaving_genes_out():
    task = get_task("crispr_on_target")
    dataset = task.load()
    default, _ = genotx.run(task, split="cold_gene", dataset=dataset)
    floor, _ = genotx.run(task, model="gc_only", split="cold_gene", dataset=dataset)
    assert default.model == "ensemble" and default.n_folds == 17
    assert default.metrics["spearman_per_gene"] >= floor.metrics["spearman_per_gene"] + 0.3
    assert default.metrics["spearman"] >= floor.metrics["spearman"] + 0.3


@pytest.mark.slow
def test_leave_one_gene_out_folds_are_the_17_genes():
    task = get_task("crispr_on_target")
    dataset = task.load()
    genes = dataset.groups["gene"].to_numpy()
    folds = task.folds(dataset, "cold_gene")
    assert sorted(f.name for f in folds) == sorted(set(genes)) and len(folds) == 17
    for fold in folds:
        assert set(genes[fold.test]) == {fold.name} and fold.name not in set(genes[fold.train])
        assert len(fold.train) + len(fold.test) == len(dataset)


@pytest.mark.slow
def test_random_split_shares_no_30mer():
    task = get_task("crispr_on_target")
    dataset = task.load()
    seqs = dataset.inputs["sequence"].to_numpy()
    assert len(set(seqs)) < len(seqs)  # repeated 30-mers exist, so a row split would leak
    for seed in (0, 1):
        (fold,) = task.folds(dataset, "random", random_state=seed)
        assert not set(seqs[fold.train]) & set(seqs[fold.test])
        assert 0.15 < len(fold.test) / len(dataset) < 0.25


@pytest.mark.slow
def test_predict_scores_a_user_file_and_a_bad_file_writes_nothing(tmp_path, monkeypatch):
    from genotx.tasks.registry import Task

    good = tmp_path / "good.csv"
    good.write_text(f"30mer,percent_peptide\n{GUIDE},20\n{'ACGT' * 6 + 'TGGAAC'},\n")
    out = predict_file("crispr_on_target", good, tmp_path / "pred.csv")
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["sequence", "percent_peptide", "cut_position", "prediction"]
    assert pred["sequence"].tolist()[0] == GUIDE and np.isfinite(pred["prediction"]).all()
    assert pred["prediction"].between(-0.5, 1.5).all()
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    again = pd.read_csv(predict_file("crispr_on_target", good, tmp_path / "again.csv"))
    pd.testing.assert_frame_equal(again, pred)

    bad = tmp_path / "bad.csv"
    bad.write_text(f"sequence\n{GUIDE}\n{GUIDE[:25]}CCAAA\n")
    with pytest.raises(InputError, match="line 3"):
        predict_file("crispr_on_target", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()
