"""Files in and out: AAV capsid tables (Bryant 2021, FLIP), a user's variants, and predictions with designs.

* :func:`read_bryant`: the Bryant et al. 2021 ``allseqs_20191230.csv`` layout (``sequence``: the 28
  residues of VP1 561-588 in upper case, inserted residues in lower case after their position;
  ``viral_selection``: log2 packaging selection; optional ``partition``, ``is_viable``); plain or zipped.
* :func:`read_flip`: a FLIP AAV split file (``sequence``: full VP1 with the region replaced,
  ``target``, ``set``, ``validation``); insertions are placed by :func:`.variants.from_regions`.

Both give one row per distinct variant (replicate rows averaged), rows with a non-finite score left
out (counted in the log). ``genotx predict virus_vector_design --input variants.csv`` reads a CSV
with a ``mutations`` column (``K441T S440P``, spike sequential numbering, or Wuhan-Hu-1 numbers with
``-o numbering=reference``; empty = wild type) or a ``sequence`` column (the 1,250-residue BA.1 spike)
and writes each variant's predicted fitness; ``-o designs=N`` appends N new designs within
``-o budget=B`` mutations (:func:`format_predictions`). ``-o aav=table.csv`` trains on your Bryant or
FLIP table instead (:func:`training_data`) and reads AAV2 VP1 561-588 variants.
"""

from __future__ import annotations

import functools
import logging
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.tasks.spec import HashedPath
from genotx.data.formats.table import read_table
from genotx.errors import InputError
from genotx.tasks.spec import PredictOption
from genotx.tasks.therapeutics.virus_vector_design import variants as V
from genotx.tasks.therapeutics.virus_vector_design.landscapes import AAV2_FIRST, AAV2_REGION

__all__ = ["read_bryant", "read_flip", "read_aav", "read_input", "format_predictions", "training_data",
           "PREDICT_OPTIONS", "INPUT_OPTIONS", "TRAIN_OPTIONS", "TrainingFile",
           "spike_reference", "to_reference",
           "VP1_BEFORE", "VP1_AFTER"]

log = logging.getLogger(__name__)

VP1_BEFORE, VP1_AFTER = 560, 147  # AAV2 VP1 (735 aa) residues before and after the region 561-588

TrainingFile = HashedPath  # a path option whose repr carries its sha256 (the model-cache key)


PREDICT_OPTIONS = {
    "designs": PredictOption(int, low=0, high=5000, help="also propose this many new designs (default 0)"),
    "budget": PredictOption(int, low=1, high=30, help="most mutations of a design from the wild type (default 5)"),
    "seed": PredictOption(int, low=0, help="random seed of the designs (default 0)"),
    "numbering": ("sequential", "reference"),  # spike sites: along BA.1 (1-1250) or Wuhan-Hu-1 reference numbers
    "aav": PredictOption(TrainingFile, help="your AAV2 capsid table (Bryant 2021 allseqs or a FLIP AAV split): train on "
                         "it instead, and read AAV2 VP1 561-588 variants"),
}
INPUT_OPTIONS = ("numbering", "aav")
TRAIN_OPTIONS = ("aav",)


def _read_csv(path: Path, *, required: tuple[str, ...], rows: int | None = None) -> pd.DataFrame:
    """A CSV (or its zip), all columns as text (the first ``rows`` only, if given); the header must name ``required``."""
    if not path.is_file():
        raise InputError(str(path), "file not found", fix="check the path")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=rows,
                            compression="zip" if zipfile.is_zipfile(path) else "infer")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise InputError(str(path), f"cannot parse as CSV ({err})", fix="save it as plain UTF-8 CSV") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame]
    if missing:
        raise InputError(str(path), f"missing column(s) {missing}; found {list(frame.columns)[:12]}", line=1,
                         fix=f"use the published layout with columns {list(required)}")
    return frame


def _scores(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() & ~frame[column].str.strip().str.lower().isin(("", "nan", "inf", "-inf", "na"))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(str(path), f"column {column!r} has non-numeric value {frame[column].iloc[row]!r}", line=row + 2,
                         fix="write a number (or leave it empty)")
    return values.to_numpy(dtype=float)


def _one_row_per_variant(mutations: list[str], fitness: np.ndarray, extra: dict[str, np.ndarray], path: Path) -> pd.DataFrame:
    table = pd.DataFrame({"mutations": mutations, "fitness": fitness, **extra})
    finite = np.isfinite(table["fitness"].to_numpy())
    if (~finite).any():
        log.info("%s: %d row(s) without a finite score left out", path, int((~finite).sum()))
    table = table[finite]
    if table.empty:
        raise InputError(str(path), "no row has a finite score", fix="check the score column")
    first = {c: "first" for c in extra}
    return table.groupby("mutations", sort=True).agg(fitness=("fitness", "mean"), n_rows=("fitness", "size"),
                                                     **{c: (c, f) for c, f in first.items()}).reset_index()


def read_bryant(path: str | Path) -> pd.DataFrame:
    """Bryant et al. 2021 capsid variants -> ``mutations`` (VP1 numbering), ``fitness`` (viral_selection),
    ``n_rows`` (replicate rows averaged), ``partition`` and ``is_viable`` when the file has them."""
    path = Path(path)
    frame = _read_csv(path, required=("sequence", "viral_selection"))
    mutations = []
    for row, seq in enumerate(frame["sequence"]):
        try:
            if not all(c.isalpha() or c in "*-" for c in seq.strip()):
                raise ValueError(f"{seq!r} has a character that is not a residue")
            mutations.append(V.from_case_coded(seq, AAV2_REGION, first=AAV2_FIRST))
        except ValueError as err:
            raise InputError(str(path), str(err), line=row + 2,
                             fix=f"write the 28 residues of VP1 561-588 ({AAV2_REGION}) in upper case, insertions in lower case") from None
    extra = {c: frame[c].to_numpy() for c in ("partition", "is_viable") if c in frame}
    return _one_row_per_variant(mutations, _scores(frame, "viral_selection", path), extra, path)


def read_flip(path: str | Path) -> pd.DataFrame:
    """A FLIP AAV split file -> ``mutations``, ``fitness`` (target), ``set``, ``validation``, ``n_rows``.

    Every sequence must be AAV2 VP1 outside the region (the same 560 residues before, 147 after); a
    region shorter than 28 residues (a deletion written by dropping it) cannot be placed and is left out.
    """
    path = Path(path)
    frame = _read_csv(path, required=("sequence", "target", "set"))
    seqs = frame["sequence"].str.strip().str.upper()
    short = seqs.str.len() < VP1_BEFORE + VP1_AFTER + 1
    if short.any():
        row = int(np.flatnonzero(short.to_numpy())[0])
        raise InputError(str(path), f"sequence of {len(seqs.iloc[row])} residues is not an AAV2 VP1 sequence", line=row + 2,
                         fix="give the full VP1 sequence (735 residues with the 561-588 region replaced)")
    flanks = seqs.str.slice(0, VP1_BEFORE) + "|" + seqs.str.slice(-VP1_AFTER)
    common = flanks.mode().iloc[0]
    if (flanks != common).any():
        row = int(np.flatnonzero((flanks != common).to_numpy())[0])
        raise InputError(str(path), "the sequence differs from the others outside VP1 561-588", line=row + 2,
                         fix="only the region 561-588 may vary in a FLIP AAV file")
    regions = seqs.str.slice(VP1_BEFORE, -VP1_AFTER).tolist()
    mutations = V.from_regions(regions, AAV2_REGION, first=AAV2_FIRST)
    placed = np.array([m is not None for m in mutations])
    if (~placed).any():
        log.info("%s: %d region(s) shorter than the wild type left out", path, int((~placed).sum()))
    extra = {c: frame[c].to_numpy()[placed] for c in ("set", "validation") if c in frame}
    return _one_row_per_variant([m for m in mutations if m is not None], _scores(frame, "target", path)[placed], extra, path)



def read_aav(path: str | Path) -> pd.DataFrame:
    """A Bryant 2021 table (column ``viral_selection``) or a FLIP AAV split (``target``), told apart by the header."""
    path = Path(path)
    header = _read_csv(path, required=("sequence",), rows=0).columns
    return read_bryant(path) if "viral_selection" in header else read_flip(path)


def training_data(dataset, *, aav: str | Path | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """What ``genotx predict`` trains on: the default landscape, or your AAV table (``-o aav=...``)."""
    if aav is None:
        return dataset.inputs, dataset.target
    table = read_aav(aav)
    return table[["mutations"]], table["fitness"].to_numpy(float)

# ---- genotx predict -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _spike_sites() -> tuple[str, tuple[str, ...]]:
    """The BA.1 spike the default oracle was trained on (sequential sites 1..1250) and each site's
    reference (Wuhan-Hu-1) number, read from the source's small effect table."""
    from genotx.data.source import source_files
    from genotx.tasks.therapeutics.virus_vector_design.landscapes import spike_effects, spike_wild_type

    effects = spike_effects(source_files("polyclonal_spike")["effects"])
    sites = effects.drop_duplicates("sequential_site").sort_values("sequential_site")["reference_site"].astype(str)
    return spike_wild_type(effects), tuple(sites)


def spike_reference() -> str:
    """The BA.1 spike sequence in sequential numbering (1..1250)."""
    return _spike_sites()[0]


_REFERENCE_TOKEN = re.compile(r"([A-Z*-])(\d+[a-z]?)([A-Z*-])")


def _from_reference(tokens: list[str]) -> list[str]:
    """Reference-numbered spike changes (``G446S``, ``E214aK``) -> sequential numbering."""
    wild, sites = _spike_sites()
    index = {s: k + 1 for k, s in enumerate(sites)}
    out = []
    for t in tokens:
        match = _REFERENCE_TOKEN.fullmatch(t)
        if match is None or match[2] not in index:
            raise ValueError(f"{t!r} is not a change at a reference-numbered spike site")
        out.append(f"{match[1]}{index[match[2]]}{match[3]}")
    return out


def to_reference(mutations: str) -> str:
    """A sequential-numbered spike mutation list in reference (Wuhan-Hu-1) numbering."""
    sites = _spike_sites()[1]
    return " ".join(f"{t[0]}{sites[int(t[1:-1]) - 1]}{t[-1]}" for t in mutations.split())


def _aav_tokens(text: str) -> list[str]:
    """An AAV2 region 561-588 as a Bryant string (lower case = insertions) or in upper case (insertions placed)."""
    text = text.strip()
    if any(c.islower() for c in text):
        return V.from_case_coded(text, AAV2_REGION, first=AAV2_FIRST).split()
    placed = V.from_regions([text.upper()], AAV2_REGION, first=AAV2_FIRST)[0]
    if placed is None:
        raise ValueError(f"the region has {len(text)} residues, fewer than the {len(AAV2_REGION)} of VP1 561-588")
    return placed.split()


def read_input(path: str | Path, *, numbering: str = "sequential", aav: str | Path | None = None) -> pd.DataFrame:
    """A CSV of variants, ``mutations`` or ``sequence``, optional ``id``. Returns ``id``, ``mutations`` (canonical).

    Spike (default): ``mutations`` such as ``K441T S440P`` (wild-type letter, site, new letter; empty or
    ``WT`` = the wild type) with sites numbered 1-1250 along BA.1, or Wuhan-Hu-1 reference sites such as
    ``G446S`` with ``numbering="reference"``; or ``sequence``, the 1,250-residue BA.1 spike.
    With ``aav`` (a model trained on your AAV table): AAV2 VP1 mutations such as ``D561A 588+1G``, or
    ``sequence``, the region 561-588 (Bryant's case coding or upper case with insertions)."""
    frame = read_table(path, required=(), optional=("id", "mutations", "sequence"),
                       aliases={"mutations": ("aa_substitutions", "variant", "substitutions"), "id": ("name",)})
    if "mutations" not in frame and "sequence" not in frame:
        raise InputError(str(path), f"needs a 'mutations' or a 'sequence' column; found {list(frame.columns)}", line=1,
                         fix="add a header line with 'mutations' (e.g. K441T S440P) or 'sequence'")
    if aav is not None and numbering == "reference":
        raise InputError("--option numbering", "reference numbering is for spike sites", fix="drop it: AAV2 uses VP1 numbers")
    wild, first = (AAV2_REGION, AAV2_FIRST) if aav is not None else (spike_reference(), 1)
    lines = frame.attrs.get("lines")
    out = []
    for row in range(len(frame)):
        try:
            if "mutations" in frame:
                text = str(frame["mutations"].iloc[row])
                if numbering == "reference":
                    text = " ".join(_from_reference(text.replace(",", " ").split()))
                tokens = V.parse(text)
                problem = V.check_wild_type(tokens, wild, first)
                if problem:
                    hint = "" if aav is not None or numbering == "reference" else \
                        " (sequential BA.1 numbering; -o numbering=reference reads Wuhan-Hu-1 sites)"
                    raise ValueError(problem + hint)
            elif aav is not None:
                tokens = _aav_tokens(str(frame["sequence"].iloc[row]))
            else:
                seq = str(frame["sequence"].iloc[row]).strip().upper()
                if len(seq) != len(wild):
                    raise ValueError(f"the sequence has {len(seq)} residues, the BA.1 spike {len(wild)}")
                tokens = V.from_sequences([seq], wild)[0].split()
        except ValueError as err:
            example = "D561A 588+1G" if aav is not None else "K441T"
            raise InputError(str(path), str(err), line=lines[row] if lines is not None else row + 2,
                             fix=f"write changes as wild-type letter, site, new letter (e.g. {example})") from None
        out.append(V.canonical(tokens))
    ids = frame["id"].tolist() if "id" in frame else [f"variant{i + 1}" for i in range(len(frame))]
    result = pd.DataFrame({"id": ids, "mutations": out})
    result.attrs.update(wild_type=wild, first=first, spike=aav is None)  # what format_predictions writes designs against
    return result


def format_predictions(frame: pd.DataFrame, estimator, *, designs: int = 0, budget: int | None = None,
                       seed: int = 0) -> pd.DataFrame:
    """The user's variants with ``predicted_fitness`` (the fitted generator's oracle), then ``designs``
    new variants from the generator (``kind`` = input / design; designs also get their ``sequence``).
    Spike ``mutations`` are in sequential BA.1 numbering, ``mutations_reference`` in Wuhan-Hu-1 numbering
    (AAV2: VP1 numbers in both)."""
    spike = frame.attrs.get("spike", True)
    rows = frame.assign(kind="input")
    if designs:
        made = estimator.generate(int(designs), budget=budget, random_state=int(seed)).reset_index(drop=True)
        wild, first = (spike_reference(), 1) if spike else (frame.attrs["wild_type"], frame.attrs["first"])
        made = made.assign(id=[f"design{i + 1}" for i in range(len(made))], kind="design",
                           sequence=[V.apply(m.split(), wild, first=first) for m in made["mutations"]])
        rows = pd.concat([rows, made], ignore_index=True)
    rows = rows.assign(mutations_reference=rows["mutations"].map(to_reference) if spike else rows["mutations"],
                       n_mutations=rows["mutations"].str.split().str.len(),
                       predicted_fitness=estimator.predict(rows[["mutations"]]))
    columns = ["id", "kind", "mutations", "mutations_reference", "n_mutations", "predicted_fitness"]
    return rows[columns + (["sequence"] if designs else [])]
