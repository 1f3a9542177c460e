"""Readers for published relation corpora: ChemProt, PubTator (BC5CDR, BioRED) and DDI XML.

None ships offline; users with the files get the task's layout: one row per document with
``document_id``, ``text``, ``entities`` (``(start, end, type, id)``) and ``relations``. ChemProt and
DDI relations are mention-level ``(head_start, head_end, tail_start, tail_end, relation)`` (the
task's target); PubTator relations are document-level ``(id_1, id_2, relation)`` as published.

ChemProt groups map to the task's labels: CPR:3 activator, CPR:4 inhibitor, CPR:5 agonist,
CPR:6 antagonist, CPR:9 substrate (others are not evaluated by ChemProt and are dropped); CHEMICAL
entities are ``drug``, GENE-Y / GENE-N are ``gene``.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from genotx.errors import InputError

__all__ = ["read_chemprot", "read_pubtator", "read_ddi_xml", "CHEMPROT_GROUPS"]

CHEMPROT_GROUPS = {"CPR:3": "activator", "CPR:4": "inhibitor", "CPR:5": "agonist", "CPR:6": "antagonist", "CPR:9": "substrate"}
_CHEMPROT_TYPES = {"CHEMICAL": "drug", "GENE-Y": "gene", "GENE-N": "gene"}


def _tsv(path: Path) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    except OSError as err:
        raise InputError(str(path), f"cannot be read ({err})", fix="check the path") from None


def read_chemprot(abstracts: str | Path, entities: str | Path, relations: str | Path) -> pd.DataFrame:
    """ChemProt (BioCreative VI) ``*_abstracts.tsv``, ``*_entities.tsv`` and ``*_gold_standard.tsv``
    (or ``*_relations.tsv``) files. Entity offsets are checked against the title and abstract joined
    by a tab (the published layout); a space or a newline join is accepted when every entity fits it.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.tsv").write_text("1\\tGefitinib and EGFR\\tGefitinib inhibits EGFR.\\n")
    >>> _ = (d / "e.tsv").write_text("1\\tT1\\tCHEMICAL\\t19\\t28\\tGefitinib\\n1\\tT2\\tGENE-Y\\t38\\t42\\tEGFR\\n")
    >>> _ = (d / "g.tsv").write_text("1\\tCPR:4\\tArg1:T1\\tArg2:T2\\n")
    >>> read_chemprot(d / "a.tsv", d / "e.tsv", d / "g.tsv").relations[0]
    [(19, 28, 38, 42, 'inhibitor')]
    """
    docs = {}
    for number, row in enumerate(_tsv(Path(abstracts)), 1):
        if len(row) < 3:
            raise InputError(str(abstracts), "expected PMID<TAB>title<TAB>abstract", line=number, fix="give the ChemProt abstracts file")
        docs[row[0]] = (row[1], row[2])
    ents: dict[str, dict[str, tuple]] = {}
    for number, row in enumerate(_tsv(Path(entities)), 1):
        if len(row) < 6 or not row[3].isdigit() or not row[4].isdigit():
            raise InputError(str(entities), "expected PMID<TAB>T#<TAB>TYPE<TAB>start<TAB>end<TAB>text", line=number,
                             fix="give the ChemProt entities file")
        ents.setdefault(row[0], {})[row[1]] = (int(row[3]), int(row[4]), _CHEMPROT_TYPES.get(row[2], row[2].lower()), row[5], number)
    rels: dict[str, list] = {}
    for number, row in enumerate(_tsv(Path(relations)), 1):
        args = [c.split(":", 1)[1] for c in row if c.startswith(("Arg1:", "Arg2:"))]
        if len(args) != 2:
            raise InputError(str(relations), "expected PMID<TAB>CPR:n ... Arg1:T#<TAB>Arg2:T#", line=number,
                             fix="give the ChemProt gold-standard or relations file")
        group = next((c for c in row if c.startswith("CPR:")), "")
        evaluated = len(row) < 4 or "N" not in row[2:3]  # the *_relations.tsv column 3 says Y/N (evaluated)
        if group in CHEMPROT_GROUPS and evaluated:
            rels.setdefault(row[0], []).append((args[0], args[1], CHEMPROT_GROUPS[group]))
    rows = []
    for pmid, (title, abstract) in docs.items():
        found = ents.get(pmid, {})
        text = next((title + sep + abstract for sep in ("\t", " ", "\n")
                     if all((title + sep + abstract)[s:e] == t for s, e, _, t, _ in found.values())), None)
        if text is None:
            s, e, _, t, number = next(v for v in found.values() if (title + "\t" + abstract)[v[0]:v[1]] != v[3])
            raise InputError(str(entities), f"entity {t!r} is not at {s}-{e} of PMID {pmid}", line=number,
                             fix="check that the entities file belongs to the abstracts file")
        relations_ = [(found[a][0], found[a][1], found[b][0], found[b][1], label) for a, b, label in rels.get(pmid, [])
                      if a in found and b in found]
        rows.append({"document_id": pmid, "text": text, "entities": sorted(v[:4] for v in found.values()),
                     "relations": sorted(relations_)})
    return pd.DataFrame(rows, columns=["document_id", "text", "entities", "relations"])


_PUBTATOR_TEXT = re.compile(r"^(\d+)\|([ta])\|(.*)$")


def read_pubtator(path: str | Path) -> pd.DataFrame:
    """PubTator files (BC5CDR, BioRED): ``PMID|t|title``, ``PMID|a|abstract``, mention lines
    ``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>id`` and relation lines ``PMID<TAB>type<TAB>id1<TAB>id2[...]``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "cdr.txt"
    >>> _ = p.write_text("1|t|Lithium toxicity\\n1|a|Tremor after lithium.\\n1\\t0\\t7\\tLithium\\tChemical\\tD008094\\n"
    ...                  "1\\t30\\t37\\tlithium\\tChemical\\tD008094\\n1\\t17\\t23\\tTremor\\tDisease\\tD014202\\n1\\tCID\\tD008094\\tD014202\\n\\n")
    >>> row = read_pubtator(p).iloc[0]
    >>> row.text[30:37], row.relations
    ('lithium', [('D008094', 'D014202', 'CID')])
    """
    path = Path(path)
    rows, current = [], None

    def close():
        if current is not None:
            rows.append({"document_id": current["id"], "text": current["title"] + " " + current["abstract"],
                         "entities": sorted(current["entities"]), "relations": current["relations"]})

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"cannot be read as UTF-8 text ({err})", fix="give a PubTator text file") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if m := _PUBTATOR_TEXT.match(line):
            if current is None or current["id"] != m.group(1):
                close()
                current = {"id": m.group(1), "title": "", "abstract": "", "entities": [], "relations": []}
            current["title" if m.group(2) == "t" else "abstract"] = m.group(3)
            continue
        fields = line.split("\t")
        if current is None or fields[0] != current["id"]:
            raise InputError(str(path), f"annotation for PMID {fields[0]} outside its document", line=number,
                             fix="each document's |t| and |a| lines come before its annotations")
        if len(fields) >= 6 and fields[1].isdigit() and fields[2].isdigit():
            start, end = int(fields[1]), int(fields[2])
            text = current["title"] + " " + current["abstract"]
            if text[start:end] != fields[3]:
                raise InputError(str(path), f"mention {fields[3]!r} is not at {start}-{end}", line=number,
                                 fix="offsets count characters of 'title abstract' joined by one space")
            current["entities"].append((start, end, fields[4], fields[5]))
        elif len(fields) >= 4:
            current["relations"].append((fields[2], fields[3], fields[1]))
        else:
            raise InputError(str(path), f"unreadable line {line[:60]!r}", line=number, fix="see the PubTator format")
    close()
    return pd.DataFrame(rows, columns=["document_id", "text", "entities", "relations"])


def read_ddi_xml(path: str | Path) -> pd.DataFrame:
    """A DDI corpus XML file: one row per sentence, drug mentions (``charOffset`` ends are inclusive) and
    the pairs marked ``ddi="true"`` with their type (mechanism, effect, advise, int).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "ddi.xml"
    >>> _ = p.write_text('''<document id="D1"><sentence id="D1.s0" text="Aspirin increases warfarin effects.">
    ... <entity id="D1.s0.e0" charOffset="0-6" type="drug" text="Aspirin"/><entity id="D1.s0.e1" charOffset="18-25" type="drug" text="warfarin"/>
    ... <pair id="D1.s0.p0" e1="D1.s0.e0" e2="D1.s0.e1" ddi="true" type="effect"/></sentence></document>''')
    >>> read_ddi_xml(p).relations[0]
    [(0, 7, 18, 26, 'effect')]
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise InputError(str(path), f"not readable DDI XML ({err})", fix="give a DDI corpus XML file") from None
    rows = []
    for sentence in root.iter("sentence"):
        text = sentence.get("text", "")
        entities = {}
        for e in sentence.findall("entity"):
            first = e.get("charOffset", "").split(";")[0]
            a, _, b = first.partition("-")
            entities[e.get("id")] = (int(a), int(b) + 1, e.get("type", "drug"), e.get("text", ""))
        relations = [(*entities[p.get("e1")][:2], *entities[p.get("e2")][:2], p.get("type") or "int")
                     for p in sentence.findall("pair") if p.get("ddi") == "true" and p.get("e1") in entities and p.get("e2") in entities]
        rows.append({"document_id": sentence.get("id", ""), "text": text, "entities": sorted(entities.values()),
                     "relations": sorted(relations)})
    return pd.DataFrame(rows, columns=["document_id", "text", "entities", "relations"])
