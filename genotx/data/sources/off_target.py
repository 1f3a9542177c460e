"""CRISPR off-target activity: the real CFD and MOFF mismatch tables, and validated site tables.

* ``cfd_doench2016``: the Doench et al. (2016) Cutting Frequency Determination tables (activity of
  each single mismatch type at each of the 20 spacer positions, 240 values, and of each PAM
  dinucleotide, 16 values), as dict literals inside ``beditor==1.1.9``. The package is GPL-3: the
  numbers are read with :mod:`ast` at fetch time (no code is imported or executed) into two CSVs,
  and the module file is deleted from the cache.
* ``moff_matrices``: MOFF's single-mismatch (246 values: 20 positions x 12 types, plus PAM
  mismatches) and pairwise-position (380) factors from ``MOFF==1.2.4`` (GPL-3), read as JSON at fetch
  time into two CSVs; the JSON files are deleted.
* ``guideseq_sites``, ``circleseq_sites``, ``changeseq_sites``: validated off-target site tables in
  the published pipelines' output formats. No registry package ships one, so each is a source a user
  points at a local file (``use_local`` or ``GENOTX_SOURCE_<ID>``); the task's loader reads them.

Converted CSV layouts (positions are 1-based from the guide's 5' end, PAM-distal = 1, PAM-proximal =
20, as in the CFD table; ``rna`` is the guide base as RNA (U for T), ``dna`` the complement of the
site's protospacer base, the two tables' own convention):

``cfd_mismatch.csv``: position, rna, dna, factor (240 rows); ``cfd_pam.csv``: pam (the PAM's 2nd and
3rd bases), factor (16 rows); ``moff_single.csv``: position, rna, dna, factor (240 rows, converted
from MOFF's PAM-counted positions: MOFF position p = 21 - position) plus ``pam2``/``pam3`` rows for
the PAM's 2nd/3rd base (MOFF p-1 / p-2); ``moff_pairs.csv``: position_a, position_b, factor (190
unordered pairs, same orientation).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = ["CFD_DOENCH2016", "MOFF_MATRICES", "GUIDESEQ_SITES", "CIRCLESEQ_SITES", "CHANGESEQ_SITES", "dict_literals"]


def dict_literals(text: str, names: tuple[str, ...], *, where: str) -> dict[str, dict]:
    """Values of ``name = {...}`` assignments anywhere in a module's text, read with ``ast`` (never run).

    Examples
    --------
    >>> dict_literals("def f():\\n    a = {'x,1': 0.5}\\n    return a", ("a",), where="m.py")
    {'a': {'x,1': 0.5}}
    """
    found: dict[str, dict] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in names and isinstance(node.value, ast.Dict):
                found[name] = ast.literal_eval(node.value)  # a dict literal of numbers; anything else raises
    missing = [n for n in names if n not in found]
    if missing:
        raise InputError(where, f"dict literals {missing} not found", fix="check the source declaration's package version")
    return found


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


_CFD_KEY = re.compile(r"r([ACGU]):d([ACGT]),(\d+)")


def _convert_cfd(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The CFD numbers from beditor's module text into two CSVs; the GPL module is deleted."""
    module = Path(files.pop("module"))
    where = str(module)
    tables = dict_literals(module.read_text(encoding="utf-8"), ("mm_scores", "pam_scores"), where=where)
    rows = []
    for key, value in tables["mm_scores"].items():
        match = _CFD_KEY.fullmatch(key)
        if match is None:
            raise InputError(where, f"unexpected CFD mismatch key {key!r}", fix="check the package version")
        rows.append({"position": int(match.group(3)), "rna": match.group(1), "dna": match.group(2), "factor": float(value)})
    mismatch = pd.DataFrame(rows).sort_values(["position", "rna", "dna"], ignore_index=True)
    pam = pd.DataFrame({"pam": list(tables["pam_scores"]), "factor": [float(v) for v in tables["pam_scores"].values()]})
    if len(mismatch) != 240 or sorted(mismatch["position"].unique()) != list(range(1, 21)) or len(pam) != 16:
        raise InputError(where, f"expected 240 mismatch and 16 PAM values, got {len(mismatch)} and {len(pam)}",
                         fix="check the package version")
    out = {"mismatch": _write_csv(mismatch, folder / "cfd_mismatch.csv"), "pam": _write_csv(pam.sort_values("pam"), folder / "cfd_pam.csv")}
    module.unlink()  # only the numbers stay in the cache, never the GPL code
    return {**files, **out}


_MOFF_KEY = re.compile(r"p(-?\d+)r([ACGU])d([ACGT])")


def _convert_moff(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """MOFF's two JSON matrices into CSVs in the CFD orientation; the JSON files are deleted."""
    single_path, pairs_path = Path(files.pop("single")), Path(files.pop("pairs"))
    single, pairs = json.loads(single_path.read_text()), json.loads(pairs_path.read_text())
    rows = []
    for key, value in single.items():
        match = _MOFF_KEY.fullmatch(key)
        if match is None:
            raise InputError(str(single_path), f"unexpected MOFF key {key!r}", fix="check the package version")
        p = int(match.group(1))
        # MOFF counts spacer positions from the PAM (1 = PAM-proximal); -1 and -2 are the PAM's G's
        position = {-1: "pam2", -2: "pam3"}[p] if p < 0 else str(21 - p)
        rows.append({"position": position, "rna": match.group(2), "dna": match.group(3), "factor": float(value)})
    table = pd.DataFrame(rows)
    pair_rows = {}
    for key, value in pairs.items():
        a, b = sorted(int(x) for x in key.split("&"))
        pair_rows[(21 - b, 21 - a)] = float(value)  # symmetric upstream: both orders carry one value
    pair_table = pd.DataFrame([{"position_a": a, "position_b": b, "factor": v} for (a, b), v in sorted(pair_rows.items())])
    if len(table) != 246 or len(pair_table) != 190:
        raise InputError(str(single_path), f"expected 246 single and 190 pair factors, got {len(table)} and {len(pair_table)}",
                         fix="check the package version")
    out = {"single": _write_csv(table, folder / "moff_single.csv"), "pairs": _write_csv(pair_table, folder / "moff_pairs.csv")}
    single_path.unlink()
    pairs_path.unlink()
    return {**files, **out}


CFD_DOENCH2016 = declare(
    Source(
        id="cfd_doench2016",
        title="CFD single-mismatch (20 positions x 12 types) and PAM (16) activity tables, Doench 2016",
        kind="real",
        licence="GPL-3.0 (beditor); only the numbers are read, at fetch time; data from Doench et al. 2016",
        citation="Doench et al. (2016) Nat Biotechnol 34:184-191, doi:10.1038/nbt.3437 (as embedded in beditor, "
        "Dandage et al. 2019 Genetics 212:377)",
        origin="Doench 2016 Supplementary Table 19 (CFD), embedded in beditor 1.1.9 beditor/lib/get_scores.py",
        package=PackageFile(
            registry="pypi",
            name="beditor",
            version="1.1.9",
            sha256="d9a7abc7ca4e098df4990ae60b741801af04b093ae9314d49221f1f1e68e27cb",
        ),
        members={"module": "beditor/lib/get_scores.py"},
        convert=_convert_cfd,
        notes="Keys 'rX:dY,p': guide RNA base X, complement Y of the protospacer base, position p from the guide's "
        "5' end; PAM keys are the PAM's 2nd and 3rd bases (GG = 1). beditor 2.0.1 dropped the tables.",
    )
)

MOFF_MATRICES = declare(
    Source(
        id="moff_matrices",
        title="MOFF single-mismatch (246) and pairwise-position (380) off-target factors",
        kind="real",
        licence="GPL-3.0 (MOFF); only the numbers are read, at fetch time",
        citation="Shen et al. (2022) MOFF: modular prediction of CRISPR off-target effects, "
        "doi:10.1101/2022.01.26.477844; MOFF 1.2.4 (Wei He, Wei Li lab)",
        origin="https://github.com/MDhewei/MOFF (MOFF/StaticFiles)",
        package=PackageFile(
            registry="pypi",
            name="MOFF",
            version="1.2.4",
            sha256="d16db8b282a74843d922c04e1878a0e08aaccff8191e811c13dc4d1ab9da3b89",
        ),
        members={"single": "MOFF/StaticFiles/M1_matrix_dic_D9", "pairs": "MOFF/StaticFiles/M2_matrix_smooth_MLE"},
        convert=_convert_moff,
        notes="MOFF counts positions from the PAM; the CSVs use the CFD orientation (position = 21 - MOFF position). "
        "pam2/pam3 rows are MOFF's p-1/p-2 PAM mismatches (read here as the PAM's 2nd and 3rd base). The guide-"
        "intrinsic GOP model (a Keras file) is not used.",
    )
)


def _site_source(id_: str, assay: str, citation: str, origin: str, columns: str) -> Source:
    return declare(
        Source(
            id=id_,
            title=f"{assay} validated off-target sites (your local file, the pipeline's published output format)",
            kind="real",
            licence="your file's own licence (published supplementary tables are under their journals' terms)",
            citation=citation,
            origin=origin,
            package=None,
            members={"sites": f"{id_}.txt"},
            notes=f"Ships in no registry package: point it at a file with use_local({id_!r}, {{'sites': path}}) or "
            f"GENOTX_SOURCE_{id_.upper()}=<folder holding {id_}.txt>. Columns read: {columns}.",
        )
    )


GUIDESEQ_SITES = _site_source(
    "guideseq_sites", "GUIDE-seq",
    "Tsai et al. (2015) Nat Biotechnol 33:187-197, doi:10.1038/nbt.3117",
    "https://github.com/tsailabSJ/guideseq (identified/<sample>_identifiedOfftargets.txt)",
    "bi.sum.mi (reads), Site_SubstitutionsOnly.* / Site_GapsAllowed.*, TargetSequence, RealignedTargetSequence",
)
CIRCLESEQ_SITES = _site_source(
    "circleseq_sites", "CIRCLE-seq",
    "Tsai et al. (2017) Nat Methods 14:607-614, doi:10.1038/nmeth.4278",
    "https://github.com/tsailabSJ/circleseq (identified/<sample>_identified_matched.txt)",
    "Nuclease_Read_Count or ReadCount, Site_Sequence / Site_SubstitutionsOnly.Sequence, Target_Sequence / TargetSequence",
)
CHANGESEQ_SITES = _site_source(
    "changeseq_sites", "CHANGE-seq",
    "Lazzarotto et al. (2020) Nat Biotechnol 38:1317-1327, doi:10.1038/s41587-020-0555-7",
    "https://github.com/tsailabSJ/changeseq (identified/<sample>_identified_matched.txt)",
    "Nuclease_Read_Count or ReadCount, Site_Sequence / Site_SubstitutionsOnly.Sequence, Target_Sequence / TargetSequence",
)
