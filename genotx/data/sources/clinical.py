"""Clinical-study data: lipid -> coronary heart disease summary statistics, a breast-cancer cohort."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from genotx.data.cache import atomic_path
from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

#: The eight numeric vectors of the lipid -> CHD example (28 variants each), as named upstream.
LIPID_VECTORS: tuple[str, ...] = ("ldlc", "ldlcse", "hdlc", "hdlcse", "trig", "trigse", "chdlodds", "chdloddsse")


def _literal_vectors(text: str, names: tuple[str, ...], *, where: str) -> dict[str, list[float]]:
    """Numbers of ``name = np.array([...])`` assignments, read with ``ast`` (no code is executed).

    Examples
    --------
    >>> _literal_vectors("a = np.array([1.5, -2, 0.0])\\nb = 3", ("a",), where="x.py")
    {'a': [1.5, -2.0, 0.0]}
    """
    found: dict[str, list[float]] = {}
    for node in ast.parse(text).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        value = node.value
        if name in names and isinstance(value, ast.Call) and len(value.args) == 1:
            numbers = ast.literal_eval(value.args[0])  # a list literal of numbers; anything else raises
            found[name] = [float(v) for v in numbers]
    missing = [n for n in names if n not in found]
    if missing:
        raise InputError(where, f"vectors {missing} not found", fix="check the source declaration's package version")
    return found


def _convert_lipids(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """Read the 8 vectors' numbers from the GPL module's text into a CSV; drop the module file."""
    module = Path(files.pop("module"))
    vectors = _literal_vectors(module.read_text(encoding="utf-8"), LIPID_VECTORS, where=str(module))
    lengths = {len(v) for v in vectors.values()}
    if lengths != {28}:
        raise InputError(str(module), f"expected 28 variants per vector, got lengths {sorted(lengths)}", fix="check the package version")
    frame = pd.DataFrame(vectors)
    frame.insert(0, "variant", [f"lipid_v{i + 1:02d}" for i in range(len(frame))])
    path = folder / "lipids_chd.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    module.unlink()  # only the numbers stay in the cache, never the GPL code
    return {**files, "summary": path}


LIPIDS_CHD = declare(
    Source(
        id="twosamplemr_lipids_chd",
        title="Lipid (LDL-c, HDL-c, triglycerides) -> coronary heart disease log-odds summary statistics, 28 variants",
        kind="real",
        licence="GPL-3.0 (pytwosamplemr) / GPL-2|3 (R MendelianRandomization); only the numbers are read, at fetch time",
        citation="Waterworth et al. (2010) Arterioscler Thromb Vasc Biol 30:2264; as bundled with "
        "MendelianRandomization (Yavorska & Burgess 2017, Int J Epidemiol 46:1734)",
        origin="R package MendelianRandomization, objects ldlc/ldlcse/hdlc/hdlcse/trig/trigse/chdlodds/chdloddsse",
        package=PackageFile(
            registry="pypi",
            name="pytwosamplemr",
            version="0.1.0",
            sha256="431ea3574354fbd03099c5776cf1129d933bf9fbce7c360409c48168e9e68e81",
        ),
        members={"module": "pytwosamplemr/datasets.py"},
        convert=_convert_lipids,
        notes="Variants carry no rsIDs upstream; they are named lipid_v01..lipid_v28 in the package's order. "
        "Associations are per allele, already harmonised to the same effect allele.",
    )
)

BREAST_CANCER = declare(
    Source(
        id="sksurv_breast_cancer",
        title="Breast cancer GSE7390: 198 patients, 76 genes + clinical variables, distant metastasis-free survival",
        kind="real",
        licence="GPL-3.0 (scikit-survival); data from GEO GSE7390 (public)",
        citation="Desmedt et al. (2007) Clin Cancer Res 13:3207-3214, doi:10.1158/1078-0432.CCR-06-2765",
        origin="https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE7390 (as bundled in scikit-survival)",
        package=PackageFile(
            registry="pypi",
            name="scikit-survival",
            version="0.28.0",
            sha256="d5816b07570ad8edf849502ea59abdd1391d74aaa6f9215224c38c0887fcb1d5",
        ),
        members={"arff": "sksurv/datasets/data/breast_cancer_GSE7390-metastasis.arff"},
        notes="The wheel is the cp311 manylinux x86_64 build. The ARFF is a plain data file; it is read with "
        "scipy.io.arff (genotx.data.formats.arff).",
    )
)
