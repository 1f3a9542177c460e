"""Semi-synthetic trials: eligibility criteria written as text over real patients' variables.

Each trial is a list of :class:`~genotx.bio.eligibility.Criterion` whose thresholds are drawn from
the real cohort's distributions (quantiles, rounded as a protocol would write them), rendered as text
with one phrasing template per line. Templates are tagged ``seen`` (the phrasings the rule parser was
written for) or ``unseen`` (paraphrases written afterwards and never used to adapt the parser), so
parser accuracy can be reported on both. Ground-truth eligibility comes from the structured criteria,
never from the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genotx.bio.eligibility import GENES, Criterion, criterion_holds, criterion_passes

__all__ = ["Trial", "simulate_trials", "trial_pairs", "render", "TEMPLATES"]

S, U = "seen", "unseen"
#: Phrasing templates per (kind, op, negated): (format string, family). {v}, {lo}, {hi}, {g} gene, {p} probe.
TEMPLATES: dict[tuple[str, str, bool], list[tuple[str, str]]] = {
    ("age", "between", False): [("Age between {lo} and {hi} years", S), ("Aged {lo}\u2013{hi} years", S),
                                ("Patients {lo} to {hi} years old", S), ("Adults in the {lo}-{hi} year age bracket", U)],
    ("age", "ge", False): [("Age \u2265 {v} years", S), ("Aged at least {v} years", S), ("{v} years or older", S),
                           ("Patients who have reached {v} years of age", U), ("{v}+ years at enrolment", U)],
    ("age", "le", False): [("Age \u2264 {v} years", S), ("Aged {v} years or younger", S),
                           ("Participants not past their {v}th birthday", U)],
    ("age", "gt", False): [("Age over {v} years", S), ("Patients older than {v} years", S), ("Above {v} years of age", S),
                           ("Women beyond {v} years of age", U)],
    ("age", "lt", False): [("Age under {v} years", S), ("Patients younger than {v} years", S),
                           ("Women who have not yet turned {v}", U)],
    ("age", "gt", True): [("Must not be older than {v} years", S), ("Age not above {v} years", S)],
    ("size", "ge", False): [("Tumour size \u2265 {v} cm", S), ("Tumour diameter of at least {v} cm", S),
                            ("Primary tumour at least {mm} mm", S), ("Lesion measuring {mm} mm or larger on imaging", U)],
    ("size", "le", False): [("Tumour size \u2264 {v} cm", S), ("Tumour diameter no more than {mm} mm", S),
                            ("Tumor size up to {v} cm", S), ("Largest lesion dimension capped at {mm} mm", U)],
    ("size", "gt", False): [("Tumour larger than {v} cm", S), ("Tumour size > {mm} mm", S),
                            ("Primary lesion exceeding {v} cm", S), ("Tumours bigger than {mm} millimetres", U)],
    ("size", "lt", False): [("Tumour smaller than {v} cm", S), ("Tumour size < {mm} mm", S),
                            ("Lesions under {v} cm in greatest dimension", U)],
    ("size", "gt", True): [("Tumour must not be larger than {v} cm", S), ("Tumour size not above {mm} mm", S)],
    ("grade", "eq", False): [("Histological grade {v}", S), ("Grade {v} tumours", S), ("{word} tumours", S),
                             ("G{v} disease on central pathology review", U)],
    ("grade", "ge", False): [("Grade {v} or higher", S), ("Histological grade \u2265 {v}", S),
                             ("G{v}-G3 histology", U)],
    ("grade", "le", False): [("Grade {v} or lower", S), ("Histological grade \u2264 {v}", S),
                             ("Low or intermediate histological differentiation (G1-G{v})", U)],
    ("er", "eq1", False): [("ER-positive disease", S), ("Oestrogen receptor positive tumour", S),
                           ("Estrogen receptor-positive breast cancer", S), ("Hormone-receptor-expressing (ER) tumour", U)],
    ("er", "eq0", False): [("ER-negative disease", S), ("Oestrogen receptor negative tumour", S),
                           ("Estrogen receptor-negative breast cancer", S), ("ER-poor tumour (no hormone receptor expression)", U)],
    ("er", "eq0", True): [("Must not be ER-negative", S), ("Not oestrogen receptor negative", S)],
    ("expr", "ge", False): [("{p} expression \u2265 {v} (log2)", S), ("Expression of probe {p} at least {v}", S),
                            ("{p} log2 signal of {v} or above", S), ("High {p} transcript level, cut-off {v} (log2)", U)],
    ("expr", "le", False): [("{p} expression \u2264 {v} (log2)", S), ("Expression of probe {p} at most {v}", S),
                            ("{p} log2 signal of {v} or below", S), ("Low {p} transcript level, ceiling {v} (log2)", U)],
    ("mut", "eq1", False): [("{g} mutation", S), ("Tumour harbouring a {g} mutation", S), ("{g}-mutant tumour", S),
                            ("Pathogenic {g} variant detected by sequencing", U), ("Somatic {g} alteration (SNV/indel)", U)],
    ("mut", "eq1", True): [("No {g} mutation", S), ("{g} wild-type tumour", S), ("Must not have a {g} mutation", S),
                           ("Without a detectable {g} mutation", S)],
    ("cnv", "amp", False): [("{g} amplification", S), ("{g} copy-number gain", S), ("Tumour with {g} amplification", S),
                            ("Elevated {g} copy number", U)],
    ("cnv", "amp", True): [("No {g} amplification", S), ("Must not have {g} copy-number gain", S)],
    ("cnv", "del", False): [("{g} deletion", S), ("{g} copy-number loss", S), ("Tumour with {g} deletion", S),
                            ("Reduced {g} copy number", U)],
    ("cnv", "del", True): [("No {g} deletion", S), ("Must not have {g} copy-number loss", S)],
}
_GRADE_WORDS = {1: "Well differentiated", 2: "Moderately differentiated", 3: "Poorly differentiated"}


@dataclass(frozen=True)
class Trial:
    """A trial: id, the patient cohort it recruits from, its criteria and their text lines' families."""

    trial: str
    cohort: str
    criteria: tuple[Criterion, ...]
    lines: tuple[str, ...]
    families: tuple[str, ...]

    @property
    def text(self) -> str:
        """The criteria text: ``Inclusion criteria:`` lines, then ``Exclusion criteria:`` lines."""
        out = []
        for section in ("inclusion", "exclusion"):
            body = [f"- {line}" for c, line in zip(self.criteria, self.lines) if c.section == section]
            if body:
                out += [f"{section.capitalize()} criteria:", *body]
        return "\n".join(out)


def _key(c: Criterion) -> tuple[str, str, bool]:
    v = c.variable
    if v.startswith("mut_"):
        return ("mut", "eq1", c.negated)
    if v.startswith("cnv_"):
        return ("cnv", "amp" if c.low == 1 else "del", c.negated)
    if v == "er":
        return ("er", "eq1" if c.low == 1 else "eq0", c.negated)
    return ("expr" if v.startswith("X") else v, c.op, c.negated)


def render(criterion: Criterion, rng: np.random.Generator) -> tuple[str, str]:
    """One text line for ``criterion`` in a randomly chosen template: ``(line, family)``."""
    choices = TEMPLATES[_key(criterion)]
    template, family = choices[rng.integers(len(choices))]
    lo, hi = criterion.low, criterion.high
    fmt = lambda x: f"{x:g}"  # noqa: E731
    fields = {"v": fmt(lo) if lo is not None else "", "lo": fmt(lo) if lo is not None else "", "hi": fmt(hi) if hi is not None else "",
              "mm": fmt(round(lo * 10)) if lo is not None else "", "g": criterion.variable.partition("_")[2],
              "p": criterion.variable[1:], "word": _GRADE_WORDS.get(int(lo or 0), "")}
    return template.format(**fields), family


def _fraction(c: Criterion, patients: pd.DataFrame) -> float:
    return float(criterion_holds(c, patients).mean())


def _numeric(variable: str, x: np.ndarray, rng, *, negatable: bool, step: float) -> Criterion:
    """A threshold criterion; inclusion keeps 60-95% of patients, exclusion removes 5-35%."""
    section = "inclusion" if rng.random() < 0.65 else "exclusion"
    keep = rng.uniform(0.6, 0.95) if section == "inclusion" else rng.uniform(0.05, 0.35)  # fraction where it holds
    negated = negatable and section == "inclusion" and rng.random() < 0.25
    op = "gt" if negated else str(rng.choice(["ge", "le", "gt", "lt"]))
    hold = 1 - keep if negated else keep  # the un-negated condition's fraction
    q = 1 - hold if op in ("ge", "gt") else hold
    value = float(np.round(np.nanquantile(x, q) / step) * step)
    return Criterion(section, variable, op, round(value, 6), None, negated)


def _breast_trial(patients: pd.DataFrame, probes: list[str], rng) -> list[Criterion]:
    age = patients["age"].to_numpy(float)
    if rng.random() < 0.5:
        low = float(np.round(np.quantile(age, rng.uniform(0.0, 0.15))))
        high = float(np.round(np.quantile(age, rng.uniform(0.85, 1.0))))
        out = [Criterion("inclusion", "age", "between", low, high)]
    else:
        out = [_numeric("age", age, rng, negatable=True, step=1.0)]
    pool = ["size", "grade", "er", "expr", "expr"]
    for kind in rng.choice(pool, size=rng.integers(2, 5), replace=False):
        if kind == "size":
            out.append(_numeric("size", patients["size"].to_numpy(float), rng, negatable=True, step=0.5))
        elif kind == "expr":
            probe = str(rng.choice(probes))
            c = _numeric(probe, patients[probe].to_numpy(float), rng, negatable=False, step=0.1)
            out.append(Criterion(c.section, probe, "ge" if c.op in ("ge", "gt") else "le", c.low))
        elif kind == "grade":
            op, value = [("eq", 3.0), ("eq", 1.0), ("ge", 2.0), ("le", 2.0)][rng.integers(4)]
            c = Criterion("inclusion", "grade", op, value)
            out.append(c if _fraction(c, patients) >= 0.5 else Criterion("exclusion", "grade", op, value))
        else:
            value = float(rng.integers(2))
            c = Criterion("inclusion", "er", "eq", value)
            if _fraction(c, patients) < 0.5:
                c = (Criterion("inclusion", "er", "eq", 0.0, negated=True) if rng.random() < 0.4 and value == 0
                     else Criterion("exclusion", "er", "eq", value))
            out.append(c)
    return out


def _tumour_trial(patients: pd.DataFrame, rng) -> list[Criterion]:
    genes = list(rng.permutation(GENES))
    out = []
    # one biomarker that defines the trial, then permissive exclusions on other genes
    kind = rng.choice(["mut", "amp", "del"])
    variable = f"{'mut' if kind == 'mut' else 'cnv'}_{genes.pop()}"
    out.append(Criterion("inclusion", variable, "eq", {"mut": 1.0, "amp": 1.0, "del": -1.0}[str(kind)]))
    for _ in range(rng.integers(2, 5)):
        kind, gene = str(rng.choice(["mut", "amp", "del"])), genes.pop()
        c = Criterion("exclusion", f"{'mut' if kind == 'mut' else 'cnv'}_{gene}", "eq", -1.0 if kind == "del" else 1.0)
        if _fraction(c, patients) > 0.4:
            continue  # too common to exclude on
        out.append(Criterion("inclusion", c.variable, "eq", c.low, negated=True) if rng.random() < 0.4 else c)
    return out


def simulate_trials(patients: pd.DataFrame, *, n_breast: int = 40, n_tumour: int = 30, random_state: int = 0) -> list[Trial]:
    """Seeded trials over ``patients`` (columns as in :mod:`genotx.bio.eligibility`, plus ``cohort``).

    Breast trials (``GSE7390`` patients) combine an age rule with 2-4 of tumour size, grade, ER status
    and probe-set expression thresholds; tumour-profile trials (``GDSC`` cell lines) require one
    mutation or copy-number biomarker and exclude on 1-4 others.
    """
    rng = np.random.default_rng(random_state)
    breast = patients[patients["cohort"] == "GSE7390"]
    tumour = patients[patients["cohort"] == "GDSC"]
    probes = [c for c in patients.columns if c.startswith("X")]
    trials = []
    for i in range(n_breast + n_tumour):
        is_breast = i < n_breast
        criteria = _breast_trial(breast, probes, rng) if is_breast else _tumour_trial(tumour, rng)
        criteria = sorted(criteria, key=lambda c: c.section != "inclusion")  # inclusion lines first, as rendered
        rendered = [render(c, rng) for c in criteria]
        trials.append(Trial(f"{'BC' if is_breast else 'TP'}{i + 1:03d}", "GSE7390" if is_breast else "GDSC",
                            tuple(criteria), tuple(r[0] for r in rendered), tuple(r[1] for r in rendered)))
    return trials


def trial_pairs(patients: pd.DataFrame, trials: list[Trial], *, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every (patient, trial) pair of the trial's cohort, with the truth computed from the structured criteria.

    Returns ``(pairs, line_labels, eligible)``: ``pairs`` has ``patient``, ``trial``, ``cohort``,
    ``criteria`` (the trial's text) and the patients' ``columns``, trial by trial; ``line_labels`` is
    ``(n_pairs, max lines)``, 1.0/0.0 = the patient passes/fails each criterion line (in text order),
    NaN beyond a trial's last line; ``eligible`` (0/1) = every line passes.

    Examples
    --------
    >>> patients = pd.DataFrame({"patient": ["a", "b"], "cohort": "GSE7390", "age": [40.0, 70.0]})
    >>> trial = Trial("BC001", "GSE7390", (Criterion("inclusion", "age", "le", 65),), ("Age at most 65 years",), ("seen",))
    >>> pairs, lines, eligible = trial_pairs(patients, [trial], columns=["age"])
    >>> pairs["criteria"].iloc[0], lines.tolist(), eligible.tolist()
    ('Inclusion criteria:\\n- Age at most 65 years', [[1.0], [0.0]], [1, 0])
    """
    width = max(len(t.criteria) for t in trials)
    frames, labels = [], []
    for trial in trials:
        members = patients[patients["cohort"] == trial.cohort].reset_index(drop=True)
        passes = np.column_stack([criterion_passes(c, members) for c in trial.criteria]).astype(float)
        frames.append(members[["patient", "cohort", *columns]].assign(trial=trial.trial, criteria=trial.text))
        labels.append(np.pad(passes, ((0, 0), (0, width - passes.shape[1])), constant_values=np.nan))
    pairs = pd.concat(frames, ignore_index=True)[["patient", "trial", "cohort", "criteria", *columns]]
    line_labels = np.vstack(labels)
    return pairs, line_labels, np.nan_to_num(line_labels, nan=1.0).all(axis=1).astype(int)
