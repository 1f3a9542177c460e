"""Trial matchers: (patient, criteria text) pairs -> probability that the patient is eligible.

Every matcher takes a pairs table (see :mod:`genotx.tasks.clinical.trial_matching.features`) and follows the
scikit-learn classifier contract (``fit(X, y)`` returns self, ``predict_proba`` gives ``(n, 2)``).
``fit`` also accepts ``line_labels``: an ``(n_pairs, max_lines)`` array of 0/1 (NaN-padded) saying
whether the patient passes each criterion line; the criterion-level learned matcher needs it. That
matrix may instead be given as ``y`` itself (eligible = every line passes): ``fit(X, line_labels)``,
which is how the task hands its training data to a plain ``fit(X, y)`` (``genotx predict``).

* :class:`RuleMatcher` parses each line with the hand-written rule parser and applies the rules;
  a line it cannot parse passes with the training pass rate of lines (its only fitted value).
* :class:`CriterionMatcher` learns P(pass | line, patient) with LightGBM over an embedding of the
  masked line text, the section, the line's numbers, the linked entity's patient value and the
  patient's clinical values and their differences to the numbers; a pair's score is the product.
  With ``use_rules=True`` (the hybrid) the rule parser's pass/fail of the line (NaN if unparsed) is
  one more feature, so the model learns when to trust the parser.
* :class:`PairEmbedding` learns eligibility directly from an embedding of the whole criteria text
  and all patient variables (no criterion decomposition).
* :class:`PatientOnly` ignores the text; :class:`ConstantMatcher` predicts the training rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from genotx.errors import InputError
from genotx.tasks.clinical.trial_matching.features import expand_lines, line_numbers, linked_values, masked_text, variable_columns
from genotx.bio.eligibility import criterion_passes, parse_line

__all__ = ["RuleMatcher", "CriterionMatcher", "PairEmbedding", "PatientOnly", "ConstantMatcher", "line_label_vector",
           "rule_line_passes", "fit_targets"]


def line_label_vector(lines: pd.DataFrame, line_labels: np.ndarray) -> np.ndarray:
    """The 0/1 label of each expanded line (``lines`` from :func:`expand_lines`)."""
    y = np.asarray(line_labels, float)[lines["pair"].to_numpy(), lines["line"].to_numpy()]
    if np.isnan(y).any():
        raise InputError("line_labels", "has no label for some criterion lines", fix="give one 0/1 per line of each criteria text")
    return y.astype(int)


def fit_targets(y, line_labels=None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(eligible, line_labels)`` from a matcher's ``fit`` arguments.

    ``y`` is eligibility ``(n,)`` (with ``line_labels`` ``(n, max_lines)`` or None), or the line
    matrix ``(n, max_lines)`` itself, from which eligibility follows (every known line passes).

    Examples
    --------
    >>> y, lines = fit_targets(np.array([[1.0, np.nan], [1.0, 0.0]]))
    >>> y.tolist(), lines.shape
    ([1, 0], (2, 2))
    """
    y = np.asarray(y, dtype=float)
    if y.ndim == 2:
        if line_labels is not None:
            raise InputError("fit", "got a line matrix as y and line_labels too", fix="pass one of them")
        return np.nan_to_num(y, nan=1.0).all(axis=1).astype(int), y
    return y.astype(int), line_labels


def _proba(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 0.0, 1.0)
    return np.column_stack([1 - p, p])


def _product(lines: pd.DataFrame, p_line: np.ndarray, n_pairs: int) -> np.ndarray:
    """Product over each pair's lines (a pair with no lines is eligible: 1.0)."""
    log = np.bincount(lines["pair"].to_numpy(), weights=np.log(np.clip(p_line, 1e-6, 1.0)), minlength=n_pairs)
    return np.exp(log)


def rule_line_passes(X: pd.DataFrame, lines: pd.DataFrame) -> np.ndarray:
    """The rule parser's pass (1.0) / fail (0.0) of each expanded line, NaN where a line does not parse.

    Adds the parsed ``rule`` column (None if unparsed) to ``lines``.
    """
    keys = pd.MultiIndex.from_arrays([lines["section"], lines["text"]])
    codes, unique = pd.factorize(keys)
    rules = [parse_line(text, section=section) for section, text in unique]
    lines["rule"] = [rules[c] for c in codes]
    p = np.full(len(lines), np.nan)
    patients = X.reset_index(drop=True)
    pair = lines["pair"].to_numpy()
    for code, rule in enumerate(rules):  # one vectorised rule application per distinct line
        if rule is not None:
            hit = np.flatnonzero(codes == code)
            p[hit] = criterion_passes(rule, patients.iloc[pair[hit]])
    return p


class _Matcher(ClassifierMixin, BaseEstimator):
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class ConstantMatcher(_Matcher):
    """The same score for every pair (the floor: AUROC 0.5, precision@k of a random pick).

    The score is fixed (0.5), not the training rate: a per-fold rate would rank whole folds against
    each other in a pooled AUROC.
    """

    def fit(self, X: pd.DataFrame, y, *, line_labels=None):  # noqa: ARG002
        y, _ = fit_targets(y, line_labels)
        self.rate_ = float(np.mean(y))  # kept for reference, not used to score
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "rate_")
        return _proba(np.full(len(X), 0.5))


class RuleMatcher(_Matcher):
    """Rule parser + exact matching; unparsed lines pass with the training line pass rate."""

    def fit(self, X: pd.DataFrame, y, *, line_labels=None):  # noqa: ARG002 - X: the rules need no fitting
        _, line_labels = fit_targets(y, line_labels)
        if line_labels is not None:
            self.unparsed_pass_ = float(np.nanmean(np.asarray(line_labels, float)))
        else:
            self.unparsed_pass_ = 0.5
        self.classes_ = np.array([0, 1])
        return self

    def predict_lines(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Expanded lines (with the parsed ``rule``, None if unparsed) and each line's pass probability."""
        check_is_fitted(self, "unparsed_pass_")
        lines = expand_lines(X)
        p = rule_line_passes(X, lines)
        return lines, np.where(np.isnan(p), self.unparsed_pass_, p)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        lines, p = self.predict_lines(X)
        return _proba(_product(lines, p, len(X)))


class _TextEmbedding(BaseEstimator):
    """TF-IDF char n-grams of masked text -> truncated SVD, fitted on distinct texts."""

    def __init__(self, *, n_components: int = 48, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, texts: pd.Series, *, genes: list[str]):
        unique = pd.Series(pd.unique(texts))
        self.genes_ = list(genes)
        self.tfidf_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1, sublinear_tf=True)
        matrix = self.tfidf_.fit_transform(masked_text(unique, genes=self.genes_))
        k = max(1, min(self.n_components, matrix.shape[1] - 1, matrix.shape[0] - 1))
        self.svd_ = TruncatedSVD(k, random_state=self.random_state).fit(matrix)
        return self

    def transform(self, texts: pd.Series) -> np.ndarray:
        codes, unique = pd.factorize(texts)
        emb = self.svd_.transform(self.tfidf_.transform(masked_text(pd.Series(unique), genes=self.genes_)))
        out = np.zeros((len(texts), self.n_components), np.float32)
        out[:, : emb.shape[1]] = emb[codes]
        return out


def _genes(X: pd.DataFrame) -> list[str]:
    return sorted({c[4:] for c in X.columns if c.startswith(("mut_", "cnv_"))})


def _lgbm(random_state: int, n_estimators: int) -> LGBMClassifier:
    return LGBMClassifier(n_estimators=n_estimators, learning_rate=0.08, num_leaves=31, min_child_samples=20, max_bin=63,
                          subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=random_state, n_jobs=2,
                          verbose=-1)


class CriterionMatcher(_Matcher):
    """Learned criterion-level matcher: LightGBM on (line embedding, numbers, linked values, patient)."""

    def __init__(self, *, use_rules: bool = False, n_components: int = 32, n_estimators: int = 200,
                 max_lines: int = 40000, random_state: int = 0):
        self.use_rules = use_rules
        self.n_components = n_components
        self.n_estimators = n_estimators
        self.max_lines = max_lines
        self.random_state = random_state

    def _features(self, X: pd.DataFrame, lines: pd.DataFrame) -> np.ndarray:
        texts = lines["text"]
        codes, unique = pd.factorize(texts)
        numbers = line_numbers(pd.Series(unique))[codes]
        rows = lines["pair"].to_numpy()
        patients = X.reset_index(drop=True)
        linked = linked_values(texts, patients, rows)
        clinical = np.column_stack([patients[c].to_numpy(float)[rows] if c in patients else np.full(len(rows), np.nan)
                                    for c in ("age", "size", "grade", "er")])
        values = np.column_stack([clinical[:, 0], clinical[:, 1], clinical[:, 1] * 10, clinical[:, 2], linked[:, 2]])
        diffs = [values - numbers[:, [k]] for k in (0, 1)]
        section = (lines["section"] == "exclusion").to_numpy(float)[:, None]
        parts = [self.embedding_.transform(texts), section, numbers, linked, clinical, *diffs]
        if self.use_rules:
            parts.append(rule_line_passes(X, lines)[:, None])
        return np.hstack(parts).astype(np.float32)

    def fit(self, X: pd.DataFrame, y, *, line_labels=None):
        _, line_labels = fit_targets(y, line_labels)
        if line_labels is None:
            raise InputError("CriterionMatcher.fit", "needs line_labels (one 0/1 per criterion line of each pair)",
                             fix="pass line_labels=dataset.arrays['line_labels'][train] (or that matrix as y)")
        lines = expand_lines(X)
        target = line_label_vector(lines, line_labels)
        if len(lines) > self.max_lines:  # lines repeat over patients: a seeded sample keeps fitting fast
            keep = np.sort(np.random.default_rng(self.random_state).choice(len(lines), self.max_lines, replace=False))
            lines, target = lines.iloc[keep].reset_index(drop=True), target[keep]
        self.embedding_ = _TextEmbedding(n_components=self.n_components, random_state=self.random_state).fit(
            lines["text"], genes=_genes(X))
        self.model_ = _lgbm(self.random_state, self.n_estimators).fit(self._features(X, lines), target)
        self.classes_ = np.array([0, 1])
        return self

    def predict_lines(self, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Expanded lines and each line's predicted pass probability."""
        check_is_fitted(self, "model_")
        lines = expand_lines(X)
        if len(lines) == 0:
            return lines, np.zeros(0)
        return lines, self.model_.predict_proba(self._features(X, lines))[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        lines, p = self.predict_lines(X)
        return _proba(_product(lines, p, len(X)))


class PairEmbedding(_Matcher):
    """Learned pair-level matcher: LightGBM on (whole-criteria embedding, all patient variables)."""

    def __init__(self, *, n_components: int = 48, n_estimators: int = 300, random_state: int = 0):
        self.n_components = n_components
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _features(self, X: pd.DataFrame) -> np.ndarray:
        patients = X.reindex(columns=self.variables_).to_numpy(float)
        return np.hstack([self.embedding_.transform(X["criteria"].astype(str)), patients]).astype(np.float32)

    def fit(self, X: pd.DataFrame, y, *, line_labels=None):
        y, _ = fit_targets(y, line_labels)
        self.variables_ = variable_columns(X)
        self.embedding_ = _TextEmbedding(n_components=self.n_components, random_state=self.random_state).fit(
            X["criteria"].astype(str), genes=_genes(X))
        self.model_ = _lgbm(self.random_state, self.n_estimators).fit(self._features(X), np.asarray(y, int))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._features(X))


class PatientOnly(_Matcher):
    """LightGBM on the patient's variables only: who is eligible for trials in general (text ignored)."""

    def __init__(self, *, n_estimators: int = 200, random_state: int = 0):
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y, *, line_labels=None):
        y, _ = fit_targets(y, line_labels)
        self.variables_ = variable_columns(X)
        self.model_ = _lgbm(self.random_state, self.n_estimators).fit(X[self.variables_].to_numpy(float), np.asarray(y, int))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X.reindex(columns=self.variables_).to_numpy(float))
