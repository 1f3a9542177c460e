"""Tokens, sentences and ConText-style assertion status of a mention in clinical text.

The cue lists follow NegEx / ConText (Chapman et al. 2001; Harkema et al. 2009): a negation,
uncertainty or historical cue before the mention (within :data:`PRE_WINDOW` tokens of its
sentence) or after it (within :data:`POST_WINDOW` tokens), and an experiencer cue (a relative, a
family-history section) anywhere in the sentence or in the section heading. They were written once
from that literature and common clinical shorthand, not tuned on the held-out template families.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["tokenize", "sentence_bounds", "section_heading", "context_status", "context_window", "STATUS_ORDER"]

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
