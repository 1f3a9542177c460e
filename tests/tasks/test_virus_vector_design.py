"""virus_vector_design: mutation lists, the design protocol's held-out scoring, generators under a
budget, AAV file readers (written here in the published layouts), predict; end to end on the
default spike landscape (slow): every generator beats random mutants on the held-out oracle."""

from __future__ import annotations

import itertools
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from genotx.data.dataset import Dataset
from genotx.data.source import use_local
from genotx.errors import InputError
from genotx.evaluate.protocols import Design, _hamming, _mean_hamming
from genotx.evaluate.splits import RandomSplit
from genotx.tasks.registry import get_task
from genotx.tasks.therapeutics.virus_vector_design import io as vio
from genotx.tasks.therapeutics.virus_vector_design import landscapes, models
from genotx.tasks.therapeutics.virus_vector_design import variants as V
from genotx.tasks.therapeutics.virus_vector_design.splits import MutationCountSplit

AAV = landscapes.AAV2_REGION
SMALL = dict(population=16, n_children=64, generations=5)  # a quick search for tiny landscapes


# ---- a tiny additive landscape ------------------------------------------------------------------


def _landscape(n: int = 800, length: int = 12, seed: int = 0) -> tuple[Dataset, dict[str, float]]:
    """Random 0-3-mutants of a 12-residue wild type, fitness = sum of planted effects + noise."""
    rng = np.random.default_rng(seed)
    wild = "".join(rng.choice(list("ACDEFGHIKL"), length))
    effects = {f"{wild[p]}{p + 1}{a}": float(rng.normal(-0.5, 1.0)) for p in range(length) for a in "MNPQ"}
    tokens = np.array(list(effects))
    rows = []
    for _ in range(n):
        k = rng.integers(0, 4)
        picked = {}
        for t in rng.permutation(tokens):
            picked.setdefault(V.slot(t), t)
            if len(picked) == k:
                break
        rows.append(V.canonical(picked.values()) if k else "")
    truth = np.array([sum(effects[t] for t in m.split()) for m in rows])
    y = truth + rng.normal(scale=0.2, size=n)
    land = lambda designs: np.array([sum(effects.get(t, np.nan) for t in m.split()) for m in designs["mutations"]])  # noqa: E731
    data = Dataset("toy_design", pd.DataFrame({"mutations": rows}), y,
                   pd.DataFrame({"n_mutations": [len(m.split()) for m in rows]}), {"data_kind": "simulated"},
                   context={"wild_type": wild, "first": 1, "landscape": land})
    return data, effects


class _Task:
    """The few things the design protocol asks of a task."""

    class spec:
        name = "toy_design"
        metrics = ("design_mean_predicted", "oracle_spearman")

    def __init__(self, models_=None, oracle=None):
        self.models = models_ or {}
        self._oracle = oracle or (lambda random_state=0: models.additive_oracle())

    def folds(self, dataset, split, *, random_state=0):
        return RandomSplit(0.2).split(dataset.groups, random_state=random_state)

    def model(self, name, *, random_state=0):
        return self.models[name](random_state=random_state)

    def oracle(self, *, random_state=0):
        return self._oracle(random_state=random_state)


# ---- mutation lists ------------------------------------------------------------------------------


def test_mutation_lists_parse_sort_and_refuse_what_is_not_a_mutation():
    assert V.parse("A522S; K444T,  588+1G") == ["K444T", "A522S", "588+1G"]
    assert V.parse("WT") == [] and V.parse("") == [] and V.canonical([]) == ""
    assert V.canonical(["588+2A", "588+1G", "D588N", "560+1S"]) == "560+1S D588N 588+1G 588+2A"
    for bad, problem in (("K444", "not a mutation"), ("K444K", "to itself"), ("K444T K444A", "twice"), ("444T", "not a mutation")):
        with pytest.raises(ValueError, match=problem):
            V.parse(bad)
    assert V.check_wild_type(["M1I", "1+1A", "0+1G"], "MKV", 1) is None
    assert "outside" in V.check_wild_type(["V4A"], "MKV", 1) and "is K" in V.check_wild_type(["A2T"], "MKV", 1)


def test_sequences_bryant_strings_and_flip_regions_become_the_same_mutations():
    assert V.from_sequences(["MKV", "MRA", "*KV"], "MKV", first=10) == ["", "K11R V12A", "M10*"]
    with pytest.raises(ValueError, match="length"):
        V.from_sequences(["MK"], "MKV")
    # Bryant: upper case = the 28 positions, lower case = inserted after the preceding one
    assert V.from_case_coded(AAV, AAV, first=561) == ""
    assert V.from_case_coded("a" + AAV[:5] + "gk" + AAV[5:-1] + "W", AAV, first=561) == "560+1A 565+1G 565+2K R588W"
    with pytest.raises(ValueError, match="27 region residues"):
        V.from_case_coded(AAV[:-1], AAV, first=561)
    # FLIP: upper case only; insertions placed where they cost the fewest substitutions, ties 3'-most
    assert V.from_regions([AAV[:5] + "GK" + AAV[5:-1] + "W"], AAV, first=561) == ["565+1G 565+2K R588W"]
    assert V.from_regions([AAV + "R"], AAV, first=561) == ["588+1R"]  # ...NRR: the repeat goes 3'
    assert V.from_regions(["Q" + AAV, AAV[:-2]], AAV, first=561) == ["560+1Q", None]
    for tokens in (["D561A"], ["I565V", "588+1G"], ["560+1S", "E564K"]):  # apply and read back
        assert V.from_regions([V.apply(tokens, AAV, first=561)], AAV, first=561) == [V.canonical(tokens)]
    assert V.apply(["E562-", "588+1G"], AAV, first=561) == "DEEIRTTNPVATEQYGSVSTNLQRGNRG"


def test_hamming_counts_the_slots_where_two_variants_differ():
    rng = np.random.default_rng(1)
    wild = "MKVLA"
    seqs = ["".join(c if rng.random() < 0.6 else rng.choice(list("MKVLAW")) for c in wild) for _ in range(30)]
    sets = [frozenset(m.split()) for m in V.from_sequences(seqs, wild)]
    brute = np.array([[sum(x != y for x, y in zip(a, b)) for b in seqs] for a in seqs])
    assert (_hamming(sets, sets) == brute).all()
    pairs = [brute[i, j] for i, j in itertools.combinations(range(30), 2)]
    assert _mean_hamming(sets) == pytest.approx(np.mean(pairs))
    assert np.isnan(_mean_hamming(sets[:1]))


# ---- oracle and generators -----------------------------------------------------------------------


def test_mutation_features_and_the_global_epistasis_oracle():
    data, effects = _landscape()
    features = models.MutationFeatures().fit(data.inputs)
    X = features.transform(pd.DataFrame({"mutations": ["", list(effects)[0], "Z99Y"]})).toarray()
    assert X[:, 0].tolist() == [0, 1, 1] and X[1].sum() == 3 and X[2].sum() == 1  # an unseen change only counts
    oracle = models.additive_oracle().fit(data.inputs.iloc[:600], data.target[:600])
    from scipy.stats import spearmanr

    assert spearmanr(oracle.predict(data.inputs.iloc[600:]), data.target[600:])[0] > 0.85
    # saturating truth: the sigmoid read-out fits better than the plain additive model
    z = data.target[:600]
    squashed = -2 + 3 / (1 + np.exp(-1.5 * (z + 0.5)))
    ge = models.GlobalEpistasisRidge(alpha=0.3).fit(data.inputs.iloc[:600], squashed)
    plain = models.GlobalEpistasisRidge(alpha=0.3, sigmoid=False).fit(data.inputs.iloc[:600], squashed)
    err = lambda m: np.mean((m.predict(data.inputs.iloc[:600]) - squashed) ** 2)  # noqa: E731
    assert ge.curve_ is not None and err(ge) < err(plain)
    with pytest.raises(ValueError, match="non-finite"):
        models.GlobalEpistasisRidge().fit(data.inputs.iloc[:3], [0.0, np.nan, 1.0])


@pytest.mark.parametrize("generator", ["random", "evolution", "ucb"])
@pytest.mark.parametrize("budget", [2, 4])
def test_every_design_is_new_within_budget_seen_and_reproducible(generator, budget):
    data, effects = _landscape()
    make = {"random": lambda: models.RandomMutants(budget=budget), "evolution": lambda: models.Evolution(budget=budget, **SMALL),
            "ucb": lambda: models.EnsembleUCB(budget=budget, n_models=3, **SMALL)}[generator]
    fitted = make().fit(data.inputs, data.target)
    designs = fitted.generate(40, random_state=3)
    again = make().fit(data.inputs, data.target).generate(40, random_state=3)
    pd.testing.assert_frame_equal(designs, again)  # same seed, same designs
    assert not designs.equals(fitted.generate(40, random_state=4))
    seen = {t for m in data.inputs["mutations"] for t in m.split()}
    assert len(designs) == 40 and designs["mutations"].is_unique
    for m in designs["mutations"]:
        tokens = V.parse(m)  # one change per slot, well formed
        assert 1 <= len(tokens) <= budget and set(tokens) <= seen
    if generator != "random":
        assert not set(designs["mutations"]) & set(data.inputs["mutations"])  # new variants only


def test_design_protocol_scores_with_a_scorer_that_never_saw_the_generators_rows():
    data, effects = _landscape()
    fitted_on: list[set] = []

    class Recording(models.GlobalEpistasisRidge):
        def fit(self, X, y):
            fitted_on.append(set(X["mutations"]))
            return super().fit(X, y)

    task = _Task({"evolution": lambda random_state=0: models.Evolution(budget=3, oracle=Recording(), **SMALL),
                  "random": lambda random_state=0: models.RandomMutants(budget=3, oracle=Recording())},
                 oracle=lambda random_state=0: Recording())
    protocol = Design(n_designs=30, variants="mutations", budget=3)
    best = protocol.evaluate(task, data, split="random", model="evolution", seed=0)
    oracle_rows, generator_rows, scorer_rows = fitted_on[:3]
    assert not generator_rows & scorer_rows and (generator_rows | scorer_rows) == oracle_rows
    floor = protocol.evaluate(task, data, split="random", model="random", seed=0)
    assert best.metrics["oracle_spearman"] > 0.85
    assert best.metrics["design_mean_predicted"] > floor.metrics["design_mean_predicted"] + 1.0
    assert best.metrics["design_mean_true"] > floor.metrics["design_mean_true"] + 1.0  # the planted truth agrees
    assert best.predictions["n_mutations"].max() <= 3 and best.metrics["design_novelty"] > 0.9  # some were measured in the other half
    assert 0 < best.metrics["design_diversity"] <= 6 and best.details["heldout_scorer"]
    same = protocol.evaluate(task, data, split="random", model="evolution", seed=0)
    pd.testing.assert_frame_equal(same.predictions, best.predictions)


def test_design_protocol_refuses_a_design_over_budget_and_a_column_it_lacks():
    data, _ = _landscape(n=200)

    class Greedy(BaseEstimator):
        def __init__(self, column="mutations"):
            self.column = column

        def fit(self, X, y):
            return self

        def generate(self, n, *, oracle, random_state=0, budget=None):
            tokens = sorted({t for m in data.inputs["mutations"] for t in m.split()}, key=V.position)
            picked = {V.slot(t): t for t in tokens}  # one per slot: every slot changed
            return pd.DataFrame({self.column: [" ".join(picked.values())] * n})

    task = _Task()
    with pytest.raises(InputError, match="over the budget of 3"):
        Design(n_designs=5, variants="mutations", budget=3).evaluate(task, data, split="random", estimator=Greedy())
    with pytest.raises(InputError, match="no 'mutations' column"):
        Design(n_designs=5, variants="mutations").evaluate(task, data, split="random", estimator=Greedy(column="seq"))


def test_mutation_count_split_is_flips_few_to_more():
    groups = pd.DataFrame({"n_mutations": [0, 1, 2, 2, 3, 7]})
    (fold,) = MutationCountSplit(2).split(groups, random_state=0)
    assert fold.train.tolist() == [0, 1, 2, 3] and fold.test.tolist() == [4, 5]
    with pytest.raises(InputError, match="only \\[2\\]"):
        MutationCountSplit(2).split(pd.DataFrame({"n_mutations": [2, 2]}), random_state=0)


# ---- the spike landscape on files in the polyclonal layout --------------------------------------


def _write_spike(tmp_path):
    effects = tmp_path / "Omicron_BA.1_muteffects_observed.csv"
    rows = ["sequential_site,reference_site,wildtype,mutant,phenotype,effect,effect_std,times_seen,n_libraries"]
    wild = "MKVL"
    for site, wt in enumerate(wild, start=1):
        rows.append(f"{site},{site},{wt},{wt},observed,0.0,0.0,,2")
        for mut, effect in (("A", -1.0 * site), ("R", 0.3)):
            rows.append(f"{site},{site},{wt},{mut},observed,{effect},0.2,5.0,2")
    effects.write_text("\n".join(rows) + "\n")
    library = tmp_path / "spike_lib2_variants.csv"
    library.write_text("aa_substitutions,n_barcodes\n,40\nK2A,3\nM1R K2R,2\nV3A L4A M1R,1\nL4W,1\n")
    return effects, library


def test_semisynthetic_spike_uses_the_real_single_effects_and_library_genotypes(tmp_path):
    effects, library = _write_spike(tmp_path)
    data = landscapes.spike_semisynthetic(effects, library, random_state=0)
    assert data.meta["data_kind"] == "semi-synthetic" and "stand_in" in data.meta
    assert data.inputs["mutations"].tolist() == ["", "K2A", "M1R K2R", "M1R V3A L4A"]  # L4W has no measured effect
    truth = data.arrays["true_fitness"]
    assert truth[0] == 0.0 and truth[1] == pytest.approx(-2.0)  # a single mutant's truth is its measured effect
    assert truth[2] > 0.3 and truth[3] < -3.0  # effects add on the latent scale and saturate
    assert np.std(data.target - truth) > 0 and data.context["landscape"](data.inputs) == pytest.approx(truth)
    assert data.context["wild_type"] == "MKVL" and data.groups["n_mutations"].tolist() == [0, 1, 2, 3]
    real = landscapes.spike_entry(effects)
    assert real.meta["data_kind"] == "real" and len(real) == 9 and real.target[0] == 0.0


# ---- AAV tables in the published layouts ---------------------------------------------------------


def test_bryant_and_flip_files_load_as_real_aav_landscapes(tmp_path):
    bryant = tmp_path / "allseqs_20191230.csv"
    sub = AAV[:3] + "A" + AAV[4:]
    bryant.write_text("sequence,partition,is_viable,viral_selection\n"
                      f"{AAV},wild_type,True,0.5\n{AAV},wild_type,True,0.7\n{sub},singles,True,-1.0\n"
                      f"{AAV[:27]}g{AAV[27]},designed,False,-inf\n{AAV[:27]}{AAV[27]}g,designed,True,1.5\n")
    table = vio.read_bryant(bryant)
    assert table["mutations"].tolist() == ["", "588+1G", "E564A"]  # the -inf row is left out, replicates averaged
    assert table["fitness"].tolist() == [0.6, 1.5, -1.0] and table["n_rows"].tolist() == [2, 1, 1]
    zipped = tmp_path / "allseqs.csv.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.write(bryant, "allseqs_20191230.csv")
    pd.testing.assert_frame_equal(vio.read_bryant(zipped), table)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"sequence,viral_selection\n{AAV},0.1\n{AAV[:20]},0.2\n")
    with pytest.raises(InputError, match="line 3"):
        vio.read_bryant(bad)

    before, after = "M" * 560, "L" * 147  # the reader checks only that the flanks agree
    flip = tmp_path / "two_vs_many.csv"
    flip.write_text("sequence,target,set,validation\n"
                    f"{before}{AAV}{after},0.2,train,False\n{before}{sub}{after},-0.8,train,True\n"
                    f"{before}{AAV}G{after},1.1,test,False\n{before}{AAV[:-3]}{after},0.0,test,False\n")
    table = vio.read_flip(flip)
    assert table["mutations"].tolist() == ["", "588+1G", "E564A"] and table["set"].tolist() == ["train", "test", "train"]
    flip_bad = tmp_path / "flip_bad.csv"
    flip_bad.write_text(f"sequence,target,set\n{before}{AAV}{after},0.2,train\nW{before[1:]}{AAV}{after},0.1,test\n")
    with pytest.raises(InputError, match="line 3.*outside VP1"):
        vio.read_flip(flip_bad)

    task = get_task("virus_vector_design")
    for source, member, path in (("bryant2021_aav", "sequences", bryant), ("flip_aav", "split", flip)):
        use_local(source, {member: path})
        try:
            data = task.load(source=source)
        finally:
            use_local(source, {})
        assert data.meta["data_kind"] == "real" and data.context["wild_type"] == AAV and data.context["first"] == 561
        assert data.groups["n_mutations"].tolist() == [0, 1, 1]


# ---- predict -------------------------------------------------------------------------------------


@pytest.fixture
def tiny_spike(monkeypatch):
    """read_input / format_predictions against a 4-residue 'spike' (no data fetched)."""
    monkeypatch.setattr(vio, "_spike_sites", lambda: ("MKVL", ("1", "2", "2a", "3")))


def test_read_input_reads_mutations_sequences_and_reference_numbering(tmp_path, tiny_spike):
    path = tmp_path / "variants.csv"
    path.write_text('id,mutations\nwt,\na,"V3A, K2R"\nb,WT\n')
    assert vio.read_input(path).to_dict("list") == {"id": ["wt", "a", "b"], "mutations": ["", "K2R V3A", ""]}
    path.write_text("mutations\nV2aA L3W\n")
    assert vio.read_input(path, numbering="reference")["mutations"].tolist() == ["V3A L4W"]
    path.write_text("sequence\nMKAL\nMRVL\n")
    assert vio.read_input(path)["mutations"].tolist() == ["V3A", "K2R"]
    for text, problem in (("mutations\nK2R\nA3V\n", "line 3: A3V: position 3 is V"), ("mutations\nK2R\nK2R K2A\n", "line 3.*twice"),
                          ("sequence\nMKV\n", "line 2.*3 residues"), ("other\n1\n", "'mutations' or a 'sequence'")):
        path.write_text(text)
        with pytest.raises(InputError, match=problem):
            vio.read_input(path)


def test_format_predictions_scores_variants_and_appends_designs(tiny_spike):
    X = pd.DataFrame({"mutations": ["", "K2R", "V3A", "K2R V3A", "M1I", "L4W", "K2A L4W"] * 4})
    y = np.tile([0.0, 0.5, -1.0, -0.5, -2.0, 0.2, 0.1], 4)
    fitted = models.Evolution(budget=2, **SMALL).fit(X, y)
    out = vio.format_predictions(pd.DataFrame({"id": ["a"], "mutations": ["K2R"]}), fitted, designs=3, budget=2, seed=1)
    assert out["kind"].tolist() == ["input", "design", "design", "design"]
    assert out["mutations_reference"].iloc[0] == "K2R" and (out["n_mutations"].iloc[1:] <= 2).all()
    designs = out[out["kind"] == "design"]
    assert all(V.from_sequences([s], "MKVL")[0] == m for s, m in zip(designs["sequence"], designs["mutations"]))
    assert np.isfinite(out["predicted_fitness"]).all()
    assert list(vio.format_predictions(pd.DataFrame({"id": ["a"], "mutations": [""]}), fitted).columns) == [
        "id", "kind", "mutations", "mutations_reference", "n_mutations", "predicted_fitness"]



def test_predict_options_train_on_a_users_aav_table_and_read_aav_variants(tmp_path):
    table = tmp_path / "allseqs.csv"
    rows = [(AAV, 0.0), (AAV[:3] + "A" + AAV[4:], -2.0), (AAV[:27] + "Rg", 1.0), (AAV[:4] + "V" + AAV[5:], 0.5)] * 6
    table.write_text("sequence,viral_selection\n" + "".join(f"{s},{y}\n" for s, y in rows))
    X, y = vio.training_data(None, aav=vio.TrainingFile(table))
    assert X["mutations"].tolist() == ["", "588+1G", "E564A", "I565V"] and y.tolist() == [0.0, 1.0, -2.0, 0.5]
    key = repr(vio.TrainingFile(table))
    table.write_text(table.read_text() + f"{AAV},0.1\n")
    assert repr(vio.TrainingFile(table)) != key  # the model cache sees a changed file
    variants = tmp_path / "aav_variants.csv"
    variants.write_text(f"id,sequence\nwt,{AAV}\nins,{AAV}G\ncase,{AAV[:27]}Rg\n")
    frame = vio.read_input(variants, aav=str(table))
    assert frame["mutations"].tolist() == ["", "588+1G", "588+1G"] and frame.attrs["wild_type"] == AAV
    variants.write_text("mutations\nD561A 588+1G\nK561A\n")
    with pytest.raises(InputError, match="line 3: K561A: position 561 is D"):
        vio.read_input(variants, aav=str(table))
    with pytest.raises(InputError, match="numbering"):
        vio.read_input(variants, aav=str(table), numbering="reference")
    fitted = models.Evolution(budget=2, **SMALL).fit(*vio.training_data(None, aav=str(table)))
    frame = pd.DataFrame({"id": ["wt"], "mutations": [""]})
    frame.attrs.update(wild_type=AAV, first=561, spike=False)
    out = vio.format_predictions(frame, fitted, designs=2, budget=2)
    designs = out[out["kind"] == "design"]
    assert len(designs) == 2 and (designs["mutations"] == designs["mutations_reference"]).all()
    assert [V.from_regions([s], AAV, first=561)[0] for s in designs["sequence"]] == designs["mutations"].tolist()

# ---- end to end on the default data (slow) -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("split", ["random", "few_to_more"])
def test_each_generator_beats_random_mutants_on_the_held_out_oracle(split):
    import genotx

    task = get_task("virus_vector_design")
    data = task.load()
    assert data.meta["data_kind"] == "semi-synthetic" and len(data) > 60_000
    floor, _ = genotx.run(task, model="random_mutants", split=split, dataset=data)
    assert floor.metrics["oracle_spearman"] > 0.8  # a scorer worth trusting
    for model in ("evolution", "ensemble_ucb"):
        record, outcome = genotx.run(task, model=model, split=split, dataset=data)
        assert record.metrics["design_mean_predicted"] > floor.metrics["design_mean_predicted"] + 1.0, (model, record.metrics)
        assert record.metrics["design_mean_true"] > floor.metrics["design_mean_true"] + 1.0, (model, record.metrics)
        assert outcome.predictions["n_mutations"].max() <= genotx.get_task(task).module.BUDGET
        assert record.metrics["design_diversity"] >= 2 and record.metrics["design_novelty"] > 0.9


@pytest.mark.slow
def test_predict_scores_spike_variants_adds_designs_and_reuses_the_model(tmp_path, monkeypatch):
    from genotx.engine.predict import predict_file
    from genotx.tasks.registry import Task

    good = tmp_path / "variants.csv"
    good.write_text("id,mutations\nwt,\nescape,K444T\nnonsense,\"N448K K182*\"\n")
    out = pd.read_csv(predict_file("virus_vector_design", good, tmp_path / "scored.csv", designs="10", numbering="reference"))
    assert out["kind"].tolist() == ["input"] * 3 + ["design"] * 10
    assert out["mutations"].iloc[1] == "K441T" and out["mutations_reference"].iloc[1] == "K444T"
    assert out["predicted_fitness"].iloc[2] < out["predicted_fitness"].iloc[0]  # a stop codon kills entry
    designs = out.iloc[3:]
    assert (designs["n_mutations"] <= 5).all() and designs["predicted_fitness"].min() > out["predicted_fitness"].iloc[:3].max()
    assert (designs["sequence"].str.len() == 1250 - designs["mutations"].str.count("-")).all()  # deletions drop a residue
    table = tmp_path / "allseqs.csv"  # your own AAV table: trained on instead of the spike
    table.write_text("sequence,viral_selection\n" + "".join(
        f"{s},{y}\n" for s, y in [(AAV, 0.0), (AAV[:3] + "A" + AAV[4:], -2.0), (AAV[:27] + "Rg", 1.0), (AAV[:4] + "V" + AAV[5:], 0.5)] * 8))
    (tmp_path / "aav.csv").write_text(f"sequence\n{AAV}\n")
    aav = pd.read_csv(predict_file("virus_vector_design", tmp_path / "aav.csv", tmp_path / "aav_out.csv", aav=str(table), designs="2"))
    assert aav["kind"].tolist() == ["input", "design", "design"] and aav["sequence"].iloc[1:].str.len().between(28, 30).all()
    monkeypatch.setattr(Task, "load", lambda *a, **k: pytest.fail("a second predict must reuse the cached model"))
    again = pd.read_csv(predict_file("virus_vector_design", good, tmp_path / "again.csv", designs="10", numbering="reference"))
    pd.testing.assert_frame_equal(again, out)
    bad = tmp_path / "bad.csv"
    bad.write_text("mutations\nK441T\nG446S\n")  # reference numbering read as sequential
    with pytest.raises(InputError, match="line 3.*numbering=reference"):
        predict_file("virus_vector_design", bad, tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()
