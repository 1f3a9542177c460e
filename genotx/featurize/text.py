"""Text featurization tasks share: matching keys, a longest-match phrase dictionary, BIO decoding,
tokens and sentences, ConText-style assertion status, and phenotype (HPO) mentions of a note.

Used by the post-market text tasks (clinical notes, literature) and by rare_disease (a note -> its
HPO terms). Written here rather than taken from spaCy because the ConText-style pipelines that would
carry them (medspaCy) do not install beside the pinned numpy; these are the few lines the tasks need.

ConText: the cue lists follow NegEx / ConText (Chapman et al. 2001; Harkema et al. 2009): a
negation, uncertainty or historical cue before the mention (within :data:`PRE_WINDOW` tokens of its
sentence) or after it (within :data:`POST_WINDOW` tokens), and an experiencer cue (a relative, a
family-history section) anywhere in the sentence or in the section heading. They were written once
from that literature and common clinical shorthand, not tuned on any test notes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genotx.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["WORD", "mention_key", "PhraseDictionary", "bio_spans", "tokenize", "sentence_bounds", "section_heading",
           "context_status", "context_window", "STATUS_ORDER", "phenotype_mentions", "read_notes", "MAX_NOTE_BYTES"]

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


# ---- tokens, sentences and ConText assertion status ------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\-\[])|\n\s*|\s\|\s")
_HEADING = re.compile(r"^[ \t]*-?[ \t]*([A-Za-z][A-Za-z /&-]{2,40}):", re.M)

PRE_WINDOW, POST_WINDOW = 8, 6
#: priority when several cues apply: a relative's result is never the patient's, doubt beats a
#: negation word inside it ("cannot be excluded"), a negation beats a past result
STATUS_ORDER = ("family", "uncertain", "negative", "historical", "positive")

_FAMILY = re.compile(r"\b(mother|father|sister|brother|aunt|uncle|grandmother|grandfather|cousin|daughter|son|sibling|niece|"
                     r"nephew|relative|family history|family hx|fhx|familial|family member|maternal|paternal|kindred|cascade)\b", re.I)
_UNCERTAIN = re.compile(r"\b(possible|possibly|probable|probably|suspected|suspect|suspicious for|concern for|cannot be excluded|"
                        r"can ?not rule out|can't rule out|r/o|rule out|equivocal|indeterminate|borderline|uncertain|unclear|vus|"
                        r"undetermined|questionable|may|might|pending|not confirmed|doubtful|debatable|possibility|suggest(s|ed)?|"
                        r"unknown|awaiting)\b|\(\?\)", re.I)
_NEGATIVE_PRE = re.compile(r"\b(no|not|negative for|neg for|without|w/o|absence of|free of|ruled out|excluded|did not|does not|"
                           r"could not|lacking|unremarkable for|no evidence of|none|denies)\b", re.I)
_NEGATIVE_POST = re.compile(r"\b(not detected|not identified|not found|not present|not seen|negative|neg|absent|wild[- ]?type|wt|"
                            r"was not|were not|not observed|none detected|is lacking|ruled out|excluded)\b|\(-\)", re.I)
_HISTORICAL = re.compile(r"\b(previously|previous|prior|history of|hx of|h/o|remote|earlier|past|at diagnosis|initial diagnosis|"
                         r"original|years ago|old specimen|formerly)\b", re.I)


def tokenize(text: str) -> list[tuple[int, int, str]]:
    """Word and punctuation tokens with their character offsets.

    >>> [t[2] for t in tokenize("EGFR p.L858R (VAF 12%).")]
    ['EGFR', 'p', '.', 'L858R', '(', 'VAF', '12', '%', ')', '.']
    """
    return [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def sentence_bounds(text: str) -> np.ndarray:
    """Start offsets of sentences (a line break, sentence-final punctuation before a capital, ' | ').

    >>> sentence_bounds("No EGFR mutation. KRAS G12C detected.\\nPlan: x").tolist()
    [0, 18, 38]
    """
    return np.array([0] + [m.end() for m in _SENTENCE_END.finditer(text)], dtype=np.int64)


def _sentence(text: str, start: int, end: int, bounds: np.ndarray | None = None) -> tuple[int, int]:
    bounds = sentence_bounds(text) if bounds is None else bounds
    i = int(np.searchsorted(bounds, start, side="right")) - 1
    j = int(np.searchsorted(bounds, end - 1 if end > start else end, side="right"))
    stop = int(bounds[j]) if j < len(bounds) else len(text)
    return int(bounds[max(i, 0)]), stop


def section_heading(text: str, start: int) -> str:
    """The last ``HEADING:`` at a line start before ``start`` ('' if none).

    >>> section_heading("FAMILY HISTORY: mother with BRCA1 mutation", 30)
    'FAMILY HISTORY'
    """
    heading = ""
    for m in _HEADING.finditer(text, 0, start):
        heading = m.group(1).strip()
    return heading


def context_window(text: str, start: int, end: int, *, bounds: np.ndarray | None = None) -> tuple[str, str, str]:
    """The sentence text before the mention (last :data:`PRE_WINDOW` tokens), after it (first
    :data:`POST_WINDOW` tokens) and the section heading."""
    s0, s1 = _sentence(text, start, end, bounds)
    before = tokenize(text[s0:start])[-PRE_WINDOW:]
    after = tokenize(text[end:s1])[:POST_WINDOW]
    pre = " ".join(text[s0 + before[0][0]:start].split()) if before else ""
    post = " ".join(text[end:end + after[-1][1]].split()) if after else ""
    return pre, post, section_heading(text, start)


def context_status(text: str, start: int, end: int, *, bounds: np.ndarray | None = None) -> str:
    """positive / negative / uncertain / historical / family for the mention at ``text[start:end]``.

    Examples
    --------
    >>> t = "No EGFR mutation was found. KRAS G12C cannot be excluded. Her mother carries a BRCA1 mutation."
    >>> [context_status(t, t.index(g), t.index(g) + 4) for g in ("EGFR", "KRAS", "BRCA1")]
    ['negative', 'uncertain', 'family']
    """
    before, after, heading = context_window(text, start, end, bounds=bounds)
    s0, s1 = _sentence(text, start, end, bounds)
    sentence = text[s0:s1]
    found = set()
    if _FAMILY.search(sentence) or "FAMILY" in heading.upper():
        found.add("family")
    if _UNCERTAIN.search(before) or _UNCERTAIN.search(after):
        found.add("uncertain")
    if _NEGATIVE_PRE.search(before) or _NEGATIVE_POST.search(after):
        found.add("negative")
    if _HISTORICAL.search(before) or _HISTORICAL.search(after):
        found.add("historical")
    return next((s for s in STATUS_ORDER if s in found), "positive")


def phenotype_mentions(text: str, dictionary: PhraseDictionary) -> list[tuple[int, int, str, str]]:
    """``(start, end, term id, status)`` of every phrase of ``dictionary`` in ``text`` (longest match),
    with its ConText status (positive / negative / uncertain / historical / family).

    Examples
    --------
    >>> d = PhraseDictionary({"HP:0001250": ["Seizure"], "HP:0001263": ["Global developmental delay"]})
    >>> note = "Global developmental delay. No seizures. Her mother has seizures."
    >>> phenotype_mentions(note, d)
    [(0, 26, 'HP:0001263', 'positive'), (31, 39, 'HP:0001250', 'negative'), (56, 64, 'HP:0001250', 'family')]
    """
    bounds = sentence_bounds(text)
    return [(s, e, term, context_status(text, s, e, bounds=bounds)) for s, e, term in dictionary.find(text)]


# ---- notes from files --------------------------------------------------------------------------

#: the largest note file read (a larger file is refused: split it into one note per file)
MAX_NOTE_BYTES = 5_000_000


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if len(raw) > MAX_NOTE_BYTES:
        raise InputError(str(path), f"is {len(raw):,} bytes; notes over {MAX_NOTE_BYTES:,} bytes are refused",
                         fix="split the file into one note per file")
    if b"\x00" in raw[:4096]:
        raise InputError(str(path), "looks like a binary file, not text", fix="give plain-text notes (.txt)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(str(path), f"is not UTF-8 text (byte {err.start})", line=line,
                         fix="save the note as UTF-8 plain text") from None


def read_notes(path: str | Path) -> pd.DataFrame:
    """A plain-text note (UTF-8), or a folder of them (``*.txt``, one note per file): one row per
    note with ``document_id`` (the file name without ``.txt``) and ``text``. A note over
    :data:`MAX_NOTE_BYTES`, a binary or non-UTF-8 file, an empty folder or only empty notes raise
    :class:`~genotx.errors.InputError` naming the file (and line)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "not found", fix="give a .txt note or a folder of .txt notes")
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    if not files:
        raise InputError(str(path), "the folder holds no .txt files", fix="put one note per .txt file in it")
    rows = [{"document_id": f.stem, "text": _read_text(f)} for f in files]
    empty = [r["document_id"] for r in rows if not r["text"].strip()]
    if len(empty) == len(rows):
        raise InputError(str(files[0]), "is empty", line=1, fix="give a note with text in it")
    return pd.DataFrame(rows)
