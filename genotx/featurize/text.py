"""Text featurization two tasks share: matching keys, a longest-match phrase dictionary, BIO decoding.

Used by the post-market text tasks (clinical notes, literature). Written here rather than taken from
spaCy because the ConText-style pipelines that would carry them (medspaCy) do not install beside the
pinned numpy; these are the few lines the tasks need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["WORD", "mention_key", "PhraseDictionary", "bio_spans"]

#: a word: a run of lower-case letters or digits (text is lower-cased first)
WORD = re.compile(r"[a-z0-9]+")


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def mention_key(text: str) -> str:
    """A matching key: lower-case words, a plural 's' dropped.

    >>> mention_key("Generalized tonic-clonic Seizures")
    'generalized tonic clonic seizure'
    """
    return " ".join(_singular(w) for w in WORD.findall(text.lower()))


class PhraseDictionary:
    """Longest-match dictionary of phrases -> a term id over word tokens (keys of :func:`mention_key`).

    Examples
    --------
    >>> d = PhraseDictionary({"HP:0001250": ["Seizure", "Seizures"], "HP:0002069": ["Generalized tonic-clonic seizure"]})
    >>> t = "He had generalized tonic-clonic seizures and one seizure."
    >>> [(t[s:e], i) for s, e, i in d.find(t)]
    [('generalized tonic-clonic seizures', 'HP:0002069'), ('seizure', 'HP:0001250')]
    """

    def __init__(self, terms: Mapping[str, Iterable[str]] | None = None, *, min_length: int = 3, max_words: int = 8) -> None:
        self.phrases: dict[str, str] = {}
        self.min_length = min_length
        for term, names in (terms or {}).items():
            for name in names:
                key = mention_key(name)
                if len(key) >= min_length and key not in self.phrases:
                    self.phrases[key] = term
        self.max_words = max_words

    @classmethod
    def from_keys(cls, phrases: Mapping[str, str], *, min_length: int = 3, max_words: int = 8) -> PhraseDictionary:
        """A dictionary from ready-made keys (``mention_key`` strings) -> ids."""
        made = cls(min_length=min_length, max_words=max_words)
        made.add(phrases)
        return made

    def add(self, mentions: Mapping[str, str]) -> None:
        """Add (or override with) mention keys -> ids."""
        self.phrases.update({k: v for k, v in mentions.items() if len(k) >= self.min_length})

    def lookup(self, text: str) -> str | None:
        return self.phrases.get(mention_key(text))

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, id) of the longest phrases found, left to right."""
        words = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text.lower())]
        keys = [_singular(w) for _, _, w in words]
        out, i = [], 0
        while i < len(words):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                term = self.phrases.get(" ".join(keys[i:i + n]))
                if term is not None:
                    out.append((words[i][0], words[i + n - 1][1], term))
                    i += n
                    break
            else:
                i += 1
        return out


def bio_spans(tokens: Sequence[tuple[int, int, str]], tags: Sequence[str], *, orphan_inside_starts: bool = False) -> list[tuple]:
    """Spans from BIO tags over (start, end, text) tokens: ``B-X``/``I-X`` give ``(start, end, X)``,
    unlabelled ``B``/``I`` give ``(start, end)``. An ``I`` with no open span starts one when
    ``orphan_inside_starts`` (lenient decoding), else it is dropped like ``O``.

    >>> toks = [(0, 4, "EGFR"), (5, 9, "exon"), (10, 12, "19"), (13, 16, "del")]
    >>> bio_spans(toks, ["B-GENE", "B-VAR", "I-VAR", "O"])
    [(0, 4, 'GENE'), (5, 12, 'VAR')]
    >>> bio_spans(toks, ["O", "I", "I", "B"], orphan_inside_starts=True)
    [(5, 12), (13, 16)]
    """
    spans, current = [], None
    for (s, e, _), tag in zip(tokens, tags):
        kind, _, label = tag.partition("-")
        if kind == "B" or (kind == "I" and current is None and orphan_inside_starts):
            if current:
                spans.append(tuple(current))
            current = [s, e, label] if label else [s, e]
        elif kind == "I" and current is not None:
            current[1] = e
        else:
            if current:
                spans.append(tuple(current))
            current = None
    if current:
        spans.append(tuple(current))
    return spans
