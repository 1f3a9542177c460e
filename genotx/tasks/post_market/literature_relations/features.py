"""Features of a candidate entity pair that carry over to phrasings never seen in training.

A relation is stated by a few trigger words somewhere in the pair's sentence (before, between or
after the two mentions, depending on the writer), so the features are a position-free bag of light
stems of the sentence (entities left out; words in a negation's scope marked ``neg_``), the
entity-type pair, the NegEx / ConText assertion status of each mention
(:func:`genotx.featurize.text.context_status`: negation and uncertainty cues) and the relations
named by a trigger lexicon learned from the training pairs (:class:`TriggerLexicon`).

``positional=True`` adds the position-tagged features of a classic relation classifier: stems
between the mentions, stem bigrams between, a ``WINDOW``-word window either side, which mention
comes first and the distance in tokens. On family-held-out validation they *lowered* relation F1
(they tie the model to where one writing style puts its trigger), so the task's model leaves them out.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from genotx.featurize.text import context_status, tokenize

__all__ = ["stem", "sentence_starts", "PairText", "pair_text", "pair_features", "TriggerLexicon", "WINDOW", "NEGATION_SCOPE"]

WINDOW = 3
# Inflectional and derivational endings, longest first. Hand-written because no stemmer (NLTK,
# spaCy) is a dependency; it only has to map a word family (inhibits, inhibited, inhibitor,
# inhibition) onto one key, not to produce linguistic roots.
_SUFFIXES = tuple(sorted(("ations", "ation", "ators", "ator", "ates", "ated", "ating", "ate", "izers", "izer", "izes", "ized",
                          "izing", "ize", "ises", "ised", "ising", "ise", "isms", "ism", "ists", "ist", "ions", "ion", "ings",
                          "ing", "ers", "er", "ors", "or", "ed", "es", "s", "ly", "ment", "ments", "ance", "ence", "ade",
                          "ive", "al", "e"), key=len, reverse=True))
_WORD = re.compile(r"[a-z][a-z0-9]*")
# Negation words of general English (NegEx's core, Chapman et al. 2001); the NEGATION_SCOPE words after
# one are marked (``not inhibit`` -> ``neg_inhibit``) so a denied trigger does not count as a trigger.
_NEGATORS = frozenset({"no", "not", "never", "neither", "nor", "none", "without", "cannot", "lack", "lacks", "lacked",
                       "lacking", "absent", "absence"})
NEGATION_SCOPE = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentence_starts(text: str) -> np.ndarray:
    """Start offsets of the sentences (split after ``.``, ``!`` or ``?`` and white space): a pair is a
    candidate only inside one.

    >>> sentence_starts("A binds B. C is D.").tolist()
    [0, 11]
    """
    return np.array([0] + [m.end() for m in _SENTENCE_END.finditer(text)], dtype=np.int64)


def stem(word: str) -> str:
    """Lower-case and strip one ending, keeping at least four letters.

    >>> [stem(w) for w in ("Inhibitor", "inhibits", "inhibited", "inhibition", "agonism", "antagonized", "activates")]
    ['inhibit', 'inhibit', 'inhibit', 'inhibit', 'agon', 'antagon', 'activ']
    """
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


class PairText:
    """The tokens of a pair's sentence split around the two mentions (entity tokens left out)."""

    __slots__ = ("left", "between", "right", "head_first", "statuses")

    def __init__(self, left: list[str], between: list[str], right: list[str], head_first: bool, statuses: tuple[str, str]):
        self.left, self.between, self.right = left, between, right
        self.head_first, self.statuses = head_first, statuses

    @property
    def sentence(self) -> list[str]:
        return self.left + self.between + self.right

    def stems(self) -> tuple[list[str], list[str], list[str]]:
        """Stems of left, between and right, ``neg_`` before those in a negation's scope.

        >>> PairText(["we"], ["did", "not", "inhibit"], ["at", "all"], True, ("positive", "positive")).stems()
        (['we'], ['did', 'not', 'neg_inhibit'], ['neg_at', 'neg_all'])
        """
        out, scope = [], 0
        for w in self.sentence:
            out.append(("neg_" if scope else "") + stem(w))
            scope = NEGATION_SCOPE if w in _NEGATORS else max(scope - 1, 0)
        a, b = len(self.left), len(self.left) + len(self.between)
        return out[:a], out[a:b], out[b:]


def pair_text(text: str, head: tuple, tail: tuple, bounds: np.ndarray | None = None) -> PairText:
    """Lower-cased word tokens of the sentence holding ``head`` and ``tail`` (``(start, end, type, ...)``).

    >>> p = pair_text("Cells grew. In vitro, Gefitinib strongly inhibits EGFR signalling.", (22, 31, "drug"), (50, 54, "gene"))
    >>> p.left, p.between, p.right, p.head_first
    (['in', 'vitro'], ['strongly', 'inhibits'], ['signalling'], True)
    """
    bounds = sentence_starts(text) if bounds is None else bounds
    first, second = sorted((head, tail), key=lambda e: e[0])
    lo = int(bounds[np.searchsorted(bounds, first[0], side="right") - 1])
    later = bounds[bounds > second[0]]
    hi = int(later[0]) if len(later) else len(text)
    words = lambda a, b: [w for _, _, t in tokenize(text[a:b]) for w in _WORD.findall(t.lower())]  # noqa: E731
    statuses = (context_status(text, head[0], head[1], bounds=bounds), context_status(text, tail[0], tail[1], bounds=bounds))
    return PairText(words(lo, first[0]), words(first[1], second[0]), words(second[1], hi), head[0] <= tail[0], statuses)


class TriggerLexicon:
    """Stems that name one relation in several *different* training phrasings (``fit`` and ``hits``
    take the stems of :meth:`PairText.stems`).

    A stem counts for a relation once per distinct masked sentence it occurs in (so a phrasing
    repeated a hundred times counts once); it is a trigger of the relation when it occurs in at
    least ``min_phrasings`` of them and in that relation's phrasings at least ``min_share`` of the
    time. Words that belong to one writing style (every sentence of one family starts the same way)
    spread over all relations and are not triggers.

    >>> lex = TriggerLexicon(min_phrasings=2).fit([["x", "inhibit"], ["y", "inhibit"], ["x", "activ"]],
    ...                                            ["inhibitor", "inhibitor", "activator"])
    >>> lex.hits(["it", "inhibit"])
    ['inhibitor']
    """

    def __init__(self, *, min_phrasings: int = 2, min_share: float = 0.6) -> None:
        self.min_phrasings = min_phrasings
        self.min_share = min_share

    def fit(self, sentences: Iterable[Sequence[str]], labels: Iterable[str]) -> TriggerLexicon:
        phrasings = {(tuple(s), label) for s, label in zip(sentences, labels)}
        counts: dict[str, Counter] = defaultdict(Counter)
        for words, label in phrasings:
            for w in set(words):
                counts[w][label] += 1
        self.triggers_ = {}
        for w, by_label in counts.items():
            label, n = by_label.most_common(1)[0]
            if label != "none" and n >= self.min_phrasings and n / sum(by_label.values()) >= self.min_share:
                self.triggers_[w] = label
        return self

    def hits(self, words: Iterable[str]) -> list[str]:
        return sorted({self.triggers_[w] for w in words if w in self.triggers_})


def _bucket(n: int) -> str:
    return str(n) if n < 4 else "4-7" if n < 8 else "8+"


def pair_features(p: PairText, types: tuple[str, str], lexicon: TriggerLexicon | None = None, *,
                  positional: bool = False) -> dict[str, float]:
    """Sparse named features of one candidate pair (``types``: head and tail entity types).

    >>> p = pair_text("Gefitinib did not inhibit EGFR.", (0, 9, "drug"), (26, 30, "gene"))
    >>> f = pair_features(p, ("drug", "gene"), positional=True)
    >>> f["pair=drug-gene"], f["s:neg_inhibit"], f["s:not"], f["tail_status=negative"], f["b:neg_inhibit"], f["order=head_first"]
    (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    """
    f: dict[str, float] = {f"pair={types[0]}-{types[1]}": 1.0, f"head_status={p.statuses[0]}": 1.0,
                           f"tail_status={p.statuses[1]}": 1.0}
    left, between, right = p.stems()
    if positional:
        f[f"order={'head_first' if p.head_first else 'tail_first'}"] = f[f"distance={_bucket(len(p.between))}"] = 1.0
        for w in between:
            f["b:" + w] = 1.0
        for a, b in zip(between, between[1:]):
            f[f"bb:{a}_{b}"] = 1.0
        for w in left[-WINDOW:]:
            f["l:" + w] = 1.0
        for w in right[:WINDOW]:
            f["r:" + w] = 1.0
    for w in left + between + right:
        f["s:" + w] = 1.0
    if lexicon is not None:
        for label in lexicon.hits(left + between + right):
            f["trigger=" + label] = 1.0
        for label in lexicon.hits(between):
            f["trigger_between=" + label] = 1.0
    return f
