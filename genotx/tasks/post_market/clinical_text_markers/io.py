"""Readers for annotated notes in published formats: brat standoff folders and BioC XML.

Both return one row per document: ``document_id``, ``text`` and ``annotations`` (a list of
``(start, end, type, normalised_id, status)``), which :func:`dataset_from_documents` turns into a
:class:`~genotx.data.dataset.Dataset` the task's protocol scores (``genotx.run(task, dataset=...)``).

* brat: ``name.txt`` + ``name.ann``; text-bound lines ``T1<TAB>Type start end[;start end]<TAB>text``
  (a discontinuous span becomes its covering range), normalisations ``N1<TAB>Reference T1 DB:ID``
  and attributes ``A1<TAB>Status T1 Negated`` (or a flag ``A1<TAB>Negation T1``) for the status.
* BioC XML: ``collection/document/(id, passage/(offset, text, annotation/(infon, location, text)))``;
  offsets are document offsets; infons ``type``, ``identifier`` and ``status`` (or ``assertion``)
  are read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from genotx.data.dataset import Dataset
from genotx.errors import InputError
from genotx.evaluate.protocols import documents_array

__all__ = ["read_brat_folder", "read_bioc_xml", "dataset_from_documents"]

_T_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
_FLAG_STATUS = {"negation": "negative", "negated": "negative", "uncertain": "uncertain", "uncertainty": "uncertain",
                "historical": "historical", "family": "family", "hypothetical": "uncertain"}


def read_brat_folder(folder: str | Path) -> pd.DataFrame:
    """Documents of a brat standoff folder (every ``*.txt`` with its ``*.ann``).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "n1.txt").write_text("No EGFR mutation.")
    >>> _ = (d / "n1.ann").write_text("T1\\tmutation 3 16\\tEGFR mutation\\nA1\\tNegation T1\\nN1\\tReference T1 HGNC:EGFR\\n")
    >>> read_brat_folder(d).annotations[0]
    [(3, 16, 'mutation', 'HGNC:EGFR', 'negative')]
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(str(folder), "is not a folder", fix="give a brat folder of .txt + .ann files")
    rows = []
    for txt in sorted(folder.glob("*.txt")):
        ann = txt.with_suffix(".ann")
        if not ann.exists():
            raise InputError(str(ann), "missing", fix=f"every .txt needs its .ann (brat standoff) next to it: {txt.name}")
        text = txt.read_text(encoding="utf-8")
        spans: dict[str, list] = {}
        for number, line in enumerate(ann.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("T"):
                m = _T_LINE.match(line)
                if m is None:
                    raise InputError(str(ann), f"unreadable text-bound annotation {line!r}", line=number,
                                     fix="write 'T1<TAB>Type start end<TAB>text'")
                offsets = [int(x) for x in re.split(r"[ ;]", m.group(3))]
                start, end = min(offsets[::2]), max(offsets[1::2])
                if not 0 <= start < end <= len(text):
                    raise InputError(str(ann), f"offsets {start}-{end} fall outside the text ({len(text)} characters)",
                                     line=number, fix="check the .ann belongs to this .txt")
                spans[m.group(1)] = [start, end, m.group(2), "", ""]
            elif line.startswith("N"):
                parts = line.split("\t")
                fields = parts[1].split() if len(parts) > 1 else []
                if len(fields) >= 3 and fields[1] in spans:
                    spans[fields[1]][3] = fields[2]
            elif line.startswith(("A", "M")):
                parts = line.split("\t")
                fields = parts[1].split() if len(parts) > 1 else []
                if len(fields) >= 2 and fields[1] in spans:
                    value = fields[2] if len(fields) > 2 else fields[0]
                    spans[fields[1]][4] = _FLAG_STATUS.get(value.lower(), value.lower())
        annotations = sorted(tuple(v[:4]) + (v[4] or "positive",) for v in spans.values())
        rows.append({"document_id": txt.stem, "text": text, "annotations": annotations})
    if not rows:
        raise InputError(str(folder), "holds no .txt files", fix="a brat folder has name.txt + name.ann pairs")
    return pd.DataFrame(rows)


def read_bioc_xml(path: str | Path) -> pd.DataFrame:
    """Documents of a BioC XML collection (passages placed at their offsets).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.xml"
    >>> _ = p.write_text('''<collection><document><id>d1</id><passage><offset>0</offset><text>Seizures.</text>
    ... <annotation id="1"><infon key="type">phenotype</infon><infon key="identifier">HP:0001250</infon>
    ... <location offset="0" length="8"/><text>Seizures</text></annotation></passage></document></collection>''')
    >>> read_bioc_xml(p).annotations[0]
    [(0, 8, 'phenotype', 'HP:0001250', '')]
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise InputError(str(path), f"not readable BioC XML ({err})", fix="give a BioC collection XML file") from None
    rows = []
    for doc in root.iter("document"):
        doc_id = (doc.findtext("id") or "").strip()
        text = ""
        annotations = []
        for passage in doc.findall("passage"):
            offset = int(passage.findtext("offset") or 0)
            body = passage.findtext("text") or ""
            text = text.ljust(offset) + body if offset >= len(text) else text + " " + body
            for ann in passage.findall("annotation"):
                infons = {i.get("key"): (i.text or "") for i in ann.findall("infon")}
                locations = ann.findall("location")
                if not locations:
                    continue
                starts = [int(loc.get("offset")) for loc in locations]
                ends = [int(loc.get("offset")) + int(loc.get("length")) for loc in locations]
                status = infons.get("status") or infons.get("assertion") or ""
                annotations.append((min(starts), max(ends), infons.get("type", ""), infons.get("identifier", ""), status))
        rows.append({"document_id": doc_id, "text": text, "annotations": sorted(annotations)})
    if not rows:
        raise InputError(str(path), "holds no <document>", fix="give a BioC collection")
    return pd.DataFrame(rows)


def dataset_from_documents(documents: pd.DataFrame, *, name: str = "clinical_text_markers", data_kind: str = "real",
                           part: pd.Series | None = None) -> Dataset:
    """A Dataset of user documents for ``genotx.run(task, dataset=...)``: each document is its own
    family (held out by document), or ``part`` gives a train/test partition."""
    groups = pd.DataFrame({"document": documents["document_id"].astype(str), "family": documents["document_id"].astype(str),
                           "part": part.to_numpy() if part is not None else ""})
    return Dataset(name, documents[["document_id", "text"]].reset_index(drop=True), documents_array(documents["annotations"]),
                   groups, meta={"sources": (), "data_kind": data_kind})
