"""protein_binding: FASTA reader, user files, models and evaluation on tiny synthetic promoters
(offline), and end to end on the real sort-seq and ChIP-seq data (slow): the CNN beats the mean and
the additive model, and its attribution recovers the CRP site and the -35/-10 boxes, matching
Kinney's CRP energy matrix; the ChIP CNN's de-novo motifs match JASPAR Oct4 and MafK."""

from __future__ import annotations

import gzip

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import genotx
from genotx.data.formats.fasta import iter_fasta, looks_like_fasta, read_fasta
from genotx.data.formats.motif import read_matrix_table
from genotx.data.dataset import Dataset
from genotx.engine.predict import predict_file
from genotx.errors import InputError, UnknownNameError
from genotx.tasks.target_discovery import protein_binding as pb
from genotx.tasks.target_discovery.protein_binding import models, motifs
from genotx.tasks.target_discovery.protein_binding.protocol import ProteinBinding, is_binary

WILD_TYPE = "AATTAATGTGAGTTAGCTCACTCATTAGGCACCCCAGGCTTTACACTTTATGCTTCCGGCTCGTATGTTGTGTGG"


TASK = genotx.get_task("protein_binding")


def evaluate(data: Dataset, model: str | None = None, *, split: str = "predefined", estimator=None):
    """The task's protocol on ``data`` (as ``genotx run`` does), returning the outcome."""
    return genotx.run(TASK, model=model, split=split, dataset=data, estimator=estimator)[1]


@pytest.fixture
def one_thread():
    """Small nets on a shared 2-core machine: one intra-op thread avoids OpenMP spin contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------------
# FASTA reader


def test_fasta_reads_multiline_lowercase_blank_lines_crlf_and_gzip(tmp_path):
    text = ">s1 first record\r\nACGT\r\nnnac\r\n\r\n>s2\r\nTTTT\r\n"
    plain = tmp_path / "x.fa"
    plain.write_bytes(text.encode())
    packed = tmp_path / "x.fa.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        assert list(iter_fasta(path)) == [("s1", "ACGTNNAC"), ("s2", "TTTT")]
        assert looks_like_fasta(path)
    assert read_fasta(plain).shape == (2, 2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ACGT\n>s1\nACGT\n", r"line 1: sequence line before any '>' header"),
        (">s1\nACGT\n>s2\nAC-GT\n", r"line 4: record 's2': character '-' at column 3"),
        (">s1\nACGT\n>s2\n>s3\nAC\n", r"line 3: record 's2' has no sequence"),
        (">\nACGT\n", r"line 1: header '>' has no record name"),
        ("\n\n", r"no FASTA records"),
    ],
)
def test_fasta_errors_name_line_and_record(tmp_path, text, match):
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_fasta(path)


def test_fasta_refuses_binary_missing_files_and_wrong_lengths(tmp_path):
    binary = tmp_path / "bin.fa"
    binary.write_bytes(b">s1\nAC\xff\xfeGT\n")
    with pytest.raises(InputError, match="not a text FASTA"):
        read_fasta(binary)
    with pytest.raises(InputError, match="file not found"):
        read_fasta(tmp_path / "nope.fa")
    short = tmp_path / "short.fa"
    short.write_text(">a\nACGT\n>b\nACG\n")
    with pytest.raises(InputError, match=r"line 3: record 'b' has length 3, expected 4"):
        read_fasta(short, length=4)


def test_motif_table_reader(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("# c\npos\tA\tC\tG\tT\n0\t1\t2\t3\tx\n")
    with pytest.raises(InputError, match="row 1"):
        read_matrix_table(path)


# ------------------------------------------------------------------------------------------------
# user files


def _variants(n: int, seed: int = 0) -> list[str]:
    """Lac promoter variants mutated at ~10% of positions, as in the sort-seq library."""
    rng = np.random.default_rng(seed)
    wt = np.array(list(WILD_TYPE))
    seqs = np.tile(wt, (n, 1))
    mutate = rng.random(seqs.shape) < 0.1
    seqs[mutate] = rng.choice(list("ACGT"), size=mutate.sum())
    return ["".join(s) for s in seqs]


def test_read_input_csv_and_fasta(tmp_path):
    csv = tmp_path / "v.csv"
    pd.DataFrame({"name": ["a", "b"], "x": _variants(2)}).to_csv(csv, index=False)
    frame = pb.read_input(csv)
    assert list(frame.columns) == ["id", "sequence"] and frame["sequence"].str.len().eq(75).all()
    fasta = tmp_path / "v.fasta"
    fasta.write_text("".join(f">v{i}\n{s[:40]}\n{s[40:].lower()}\n" for i, s in enumerate(_variants(3))))
    frame = pb.read_input(fasta)
    assert frame["id"].tolist() == ["v0", "v1", "v2"] and frame["sequence"].str.isupper().all()


def test_read_input_errors_name_the_line(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("sequence\n" + WILD_TYPE + "\n" + WILD_TYPE[:70] + "\n")
    with pytest.raises(InputError, match=r"line 3: .* is not a 75-nt sequence"):
        pb.read_input(csv)
    fasta = tmp_path / "bad.fa"
    fasta.write_text(f">ok\n{WILD_TYPE}\n>broken\n{WILD_TYPE[:30]}Z{WILD_TYPE[31:]}\n")
    with pytest.raises(InputError, match=r"line 4: record 'broken': character 'Z' at column 31"):
        pb.read_input(fasta)
    with pytest.raises(InputError, match="missing column"):
        other = tmp_path / "other.csv"
        other.write_text("foo\n1\n")
        pb.read_input(other)


# ------------------------------------------------------------------------------------------------
# models and evaluation on a synthetic promoter library (offline)


def _synthetic(n: int = 1200, seed: int = 0) -> Dataset:
    """Expression driven by the wild-type bases of a CRP-like site (6-22) and a -10-like box (63-69)."""
    rng = np.random.default_rng(seed)
    seqs = _variants(n, seed)
    wt = np.array(list(WILD_TYPE))
    matches = np.array([list(s) for s in seqs]) == wt
    y = 2 * matches[:, 6:22].sum(axis=1) + 3 * matches[:, 63:69].sum(axis=1) + rng.normal(scale=1.0, size=n)
    groups = pd.DataFrame({"set": np.where(np.arange(n) % 5 == 0, "test", "training"), "n_reads": 1})
    return Dataset("protein_binding", pd.DataFrame({"sequence": seqs}), y.astype(float), groups, {"data_kind": "simulated"})


def _synthetic_binary(n: int = 400, seed: int = 0) -> Dataset:
    """ChIP-like peaks: label 1 when a planted 8-mer is present (random 60-nt sequences)."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(s) for s in rng.choice(list("ACGT"), size=(n, 60))]
    label = rng.random(n) < 0.5
    seqs = [s[:20] + "ATGCAAAT" + s[28:] if hit else s for s, hit in zip(seqs, label)]
    groups = pd.DataFrame({"set": np.where(np.arange(n) % 4 == 0, "test", "training"), "factor": np.where(label, "Oct4", "MafK")})
    return Dataset("protein_binding", pd.DataFrame({"sequence": seqs}), label.astype(int), groups, {"data_kind": "simulated"})


def test_spec_models_and_splits_agree():
    task = genotx.get_task("protein_binding")
    assert task.implemented and task.spec.trivial == "mean"
    assert set(pb.MODELS) == set(task.spec.baselines) and set(pb.SPLITS) == set(task.spec.splits)
    assert set(models.BINARY_MODELS) <= set(pb.MODELS)
    assert isinstance(task.protocol, ProteinBinding)
    with pytest.raises(UnknownNameError):
        pb.load(source="nope")


def test_networks_shapes_and_pickling(tmp_path, one_thread):
    x = torch.zeros(3, 75, 4)
    assert models.PromoterCNN((75, 4), 1)(x).shape == (3, 1)
    assert models.GlobalEpistasis((75, 4), 1)(x).shape == (3, 1)
    data = _synthetic(200)
    model = pb.MODELS["cnn"](random_state=0)
    model.set_params(torchregressor__epochs=2).fit(data.inputs, data.target)
    joblib.dump(model, tmp_path / "m.joblib")  # genotx predict caches fitted models this way
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(again.predict(data.inputs), model.predict(data.inputs), rtol=1e-6)


def test_evaluate_on_synthetic_promoters_finds_the_planted_sites(monkeypatch, one_thread):
    data = _synthetic()
    reference = np.zeros((26, 4))
    reference[np.arange(5, 21), pd.Series(list(WILD_TYPE[6:22])).map("ACGT".index)] = 1.0  # WT bases
    monkeypatch.setattr(motifs, "crp_reference", lambda: reference)
    additive = evaluate(data, "additive")
    mean = evaluate(data, "mean")
    assert additive.metrics["pearson"] > 0.8 and mean.metrics["pearson"] == 0.0
    assert additive.n_test == 240 and set(additive.predictions.columns) >= {"y_true", "y_pred", "fold", "set"}
    details = additive.details
    assert set(details["recovered_known_sites"]) == {"CRP", "RNAP -10"}
    assert details["crp_match"]["start"] == 1 and details["crp_similarity"] > 0.8
    assert mean.details == {}


def test_binary_target_uses_the_binary_baselines_and_metrics():
    data = _synthetic_binary()
    assert is_binary(data.target) and not is_binary(_synthetic(50).target)
    additive, mean = evaluate(data, "additive"), evaluate(data, "mean")
    assert set(additive.metrics) == {"auroc", "aupr"} and additive.metrics["auroc"] > 0.9
    assert mean.metrics["auroc"] == 0.5 and additive.n_test == 100
    assert additive.details == {}  # only the CNN reads one-hot among the binary baselines: no motifs
    with pytest.raises(UnknownNameError, match="global_epistasis"):
        evaluate(data, "global_epistasis")


def test_your_own_estimator_runs_under_the_protocol():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from genotx.featurize.transformer import Featurizer
    from genotx.tasks.target_discovery.protein_binding.features import flat_one_hot

    record = genotx.cross_validate(TASK, make_pipeline(Featurizer(flat_one_hot, cache=False), Ridge()), dataset=_synthetic())
    baseline = evaluate(_synthetic(), "additive")
    assert set(record.metrics) == set(TASK.spec.metrics) and record.metrics["pearson"] > 0.8
    assert record.details == {} and record.n_test == baseline.n_test  # a user's model is scored, not interpreted


# ------------------------------------------------------------------------------------------------
# real data (slow)


@pytest.fixture(scope="module")
def sortseq():
    return pb.load()


@pytest.fixture(scope="module")
def cnn_outcome(sortseq):
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return evaluate(sortseq, "cnn")
    finally:
        torch.set_num_threads(torch_threads)


@pytest.mark.slow
def test_real_sortseq_loads_with_the_shipped_split(sortseq):
    assert len(sortseq) == 50_518 and sortseq.inputs["sequence"].str.len().eq(75).all()
    assert sortseq.groups["set"].value_counts().to_dict() == {"training": 30_516, "validation": 10_067, "test": 9_935}
    assert 0 <= sortseq.target.min() and sortseq.target.max() <= 9
    (fold,) = pb.SPLITS["predefined"].split(sortseq.groups, random_state=0)
    assert len(np.intersect1d(fold.train, fold.test)) == 0 and len(fold.test) == 9_935
    (rand,) = pb.SPLITS["random"].split(sortseq.groups, random_state=0)
    train_seqs = set(sortseq.inputs["sequence"].iloc[rand.train])
    assert not sortseq.inputs["sequence"].iloc[rand.test].isin(train_seqs).any()


@pytest.mark.slow
def test_real_cnn_beats_mean_and_additive(sortseq, cnn_outcome):
    additive = evaluate(sortseq, "additive")
    mean = evaluate(sortseq, "mean")
    assert mean.metrics["pearson"] == 0.0
    assert cnn_outcome.metrics["pearson"] > 0.62  # the issue author's 2-layer CNN reached 0.62
    assert cnn_outcome.metrics["pearson"] > additive.metrics["pearson"] + 0.05
    assert cnn_outcome.metrics["rmse"] < mean.metrics["rmse"] - 0.5


@pytest.mark.slow
def test_real_cnn_attribution_recovers_crp_and_the_rnap_boxes(cnn_outcome):
    details = cnn_outcome.details
    assert set(details["recovered_known_sites"]) == {"CRP", "RNAP -35", "RNAP -10"}
    for site in details["motifs"]:  # no site away from the known ones
        assert site["known_site"] is not None
    minus10 = [s for s in details["motifs"] if s["known_site"] == "RNAP -10"]
    assert any("TATAAT" in s["preferred"] for s in minus10)  # sigma70 -10 consensus
    assert details["crp_similarity"] > 0.8 and details["crp_p_value"] < 0.01
    assert details["crp_match"]["strand"] == "+" and details["crp_match"]["overlap_with_known_crp_nt"] == 16


@pytest.mark.slow
def test_real_predict_on_a_user_file(tmp_path, monkeypatch):
    good = tmp_path / "variants.fa"
    good.write_text(f">wild_type\n{WILD_TYPE}\n>crp_broken\n{WILD_TYPE[:6]}CCCCCC{WILD_TYPE[12:]}\n")
    out = predict_file("protein_binding", good, tmp_path / "pred.csv", model="additive")
    table = pd.read_csv(out)
    assert table["id"].tolist() == ["wild_type", "crp_broken"]
    assert table["prediction"].iloc[0] > table["prediction"].iloc[1]  # breaking CRP lowers expression
    monkeypatch.setattr(pb, "load", lambda **_: pytest.fail("a second predict must reuse the cached model"))
    again = pd.read_csv(predict_file("protein_binding", good, tmp_path / "again.csv", model="additive"))
    pd.testing.assert_frame_equal(again, table)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"sequence\n{WILD_TYPE}\nACGT\n")
    with pytest.raises(InputError, match="line 3"):
        predict_file("protein_binding", bad, tmp_path / "never.csv", model="additive")
    assert not (tmp_path / "never.csv").exists()


@pytest.mark.slow
def test_real_chip_cnn_separates_oct4_from_mafk_and_finds_their_motifs(one_thread):
    chip = pb.load(source="janggu_chip")
    assert len(chip) == 7_997 and set(chip.target) == {0, 1}
    assert chip.groups.groupby(["set", "factor"]).size().to_dict() == {
        ("test", "MafK"): 100, ("test", "Oct4"): 100, ("training", "MafK"): 3_900, ("training", "Oct4"): 3_897,
    }
    cnn = evaluate(chip, "cnn")
    mean = evaluate(chip, "mean")
    assert mean.metrics["auroc"] == 0.5 and cnn.metrics["auroc"] > 0.9
    motifs = {m["factor"]: m for m in cnn.details["motifs"]}
    assert max(m["r"] for m in motifs["Oct4"]["jaspar"].values()) > 0.6
    assert motifs["MafK"]["jaspar"]["MA0496 MAFK"]["r"] > 0.5
    assert motifs["MafK"]["jaspar"]["MA0496 MAFK"]["p_value"] < 0.05
    with pytest.raises(UnknownNameError):
        evaluate(chip, "global_epistasis")
