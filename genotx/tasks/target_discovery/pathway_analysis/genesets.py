"""Gene set collections as weighted networks: ``source`` (set / pathway / TF), ``target`` (gene
symbol), ``weight`` (1 for plain gene sets; a regulon's mode of regulation +1/-1; PROGENy weights).

=============  ===========================================================================  =========
collection     what                                                                          kind
=============  ===========================================================================  =========
``collectri``  CollecTRI TF regulons (OmniPath, signed)                                       tf
``dorothea``   DoRothEA TF regulons (OmniPath, signed; all confidence levels)                 tf
``go``         GO biological process: Entrez genes' annotations propagated to ancestors       go
               (org.Hs.eg.db, evidence != ND), named by GO.db
``kegg``       KEGG pathways of org.Hs.eg.db (2011 links, ids like ``hsa05220``, no names)    kegg
``progeny``    PROGENy footprints, each pathway's top 100 genes (ties kept; human or mouse)   progeny
=============  ===========================================================================  =========

OmniPath writes some regulators and targets as UniProt ids and AP-1 / NF-kB as ``COMPLEX:``
members; they are mapped to symbols here (org.Hs.eg.db), complexes of only AP-1 (FOS/JUN/ATF
family) or only NF-kB (NFKB1/2, REL, RELA/B) members become ``AP1`` / ``NFKB`` as decoupler names
them, other complexes the ``_``-joined member symbols.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from genotx.bio.footprints import PROGENY_TOP, top_genes
from genotx.data.source import source_files
from genotx.errors import InputError, UnknownNameError

__all__ = ["COLLECTIONS", "KIND", "ORGANISMS", "network", "set_names", "normalise_regulons"]

COLLECTIONS = ("collectri", "dorothea", "go", "kegg", "progeny")
KIND = {"collectri": "tf", "dorothea": "tf", "go": "go", "kegg": "kegg", "progeny": "progeny"}
ORGANISMS = ("human", "mouse")
_AP1 = {"FOS", "FOSB", "FOSL1", "FOSL2", "JUN", "JUNB", "JUND", "ATF2", "ATF3", "ATF4", "ATF7", "BATF", "BATF2", "BATF3"}
_NFKB = {"NFKB1", "NFKB2", "REL", "RELA", "RELB"}


def _symbol(name: str, uniprot: dict[str, str]) -> str | None:
    return uniprot.get(name, name) if name else None


def _complex(name: str, uniprot: dict[str, str]) -> str:
    members = {uniprot.get(m, m) for m in name.removeprefix("COMPLEX:").split("_")}
    if members <= _AP1:
        return "AP1"
    if members <= _NFKB:
        return "NFKB"
    return "_".join(sorted(members))


def normalise_regulons(edges: pd.DataFrame, uniprot: dict[str, str]) -> pd.DataFrame:
    """Regulon edges on gene symbols (UniProt ids mapped, AP-1 / NF-kB complexes named), one edge per pair.

    Examples
    --------
    >>> e = pd.DataFrame({"source": ["COMPLEX:P05412_P01100", "COMPLEX:FOS_JUN", "P04637"],
    ...                   "target": ["MMP1", "MMP1", "Q00987"], "mor": [1, 1, -1]})
    >>> normalise_regulons(e, {"P05412": "JUN", "P01100": "FOS", "P04637": "TP53", "Q00987": "MDM2"}).values.tolist()
    [['AP1', 'MMP1', 1.0], ['TP53', 'MDM2', -1.0]]
    """
    source = [(_complex(s, uniprot) if s.startswith("COMPLEX:") else _symbol(s, uniprot)) for s in edges["source"]]
    target = [_symbol(t, uniprot) for t in edges["target"]]
    out = pd.DataFrame({"source": source, "target": target, "weight": edges["mor"].to_numpy(np.float64)})
    return out.dropna().drop_duplicates(["source", "target"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def _ids() -> dict[str, pd.DataFrame]:
    files = source_files("org_hs_eg_ids")
    return {name: pd.read_parquet(files[name]) for name in ("symbols", "uniprot", "kegg", "ensembl")}


def entrez_symbols() -> pd.Series:
    """Entrez gene id -> current symbol (org.Hs.eg.db)."""
    symbols = _ids()["symbols"]
    return pd.Series(symbols["symbol"].to_numpy(), index=symbols["gene_id"].to_numpy())


def ensembl_symbols() -> pd.Series:
    """Ensembl gene id -> symbol (ids mapped to several Entrez genes dropped)."""
    ens = _ids()["ensembl"].merge(_ids()["symbols"], on="gene_id")
    ens = ens.drop_duplicates("ensembl_id", keep=False)
    return pd.Series(ens["symbol"].to_numpy(), index=ens["ensembl_id"].to_numpy())


def _regulons(flag: str) -> pd.DataFrame:
    raw = pd.read_parquet(source_files("omnipath_regulons")["regulons"])
    uni = _ids()["uniprot"].merge(_ids()["symbols"], on="gene_id").drop_duplicates("uniprot_id", keep=False)
    return normalise_regulons(raw[raw[flag]], dict(zip(uni["uniprot_id"], uni["symbol"])))


def _go() -> pd.DataFrame:
    links = pd.read_parquet(source_files("org_hs_eg_go")["gene_go"])
    links = links[links["aspect"] == "BP"]
    symbols = entrez_symbols()
    out = pd.DataFrame({"source": links["go_id"].to_numpy(), "target": symbols.reindex(links["gene_id"].to_numpy()).to_numpy()})
    return out.dropna().drop_duplicates().assign(weight=1.0).reset_index(drop=True)


def _kegg() -> pd.DataFrame:
    kegg = _ids()["kegg"]
    symbols = entrez_symbols()
    out = pd.DataFrame({"source": "hsa" + kegg["path_id"].astype(str), "target": symbols.reindex(kegg["gene_id"].to_numpy()).to_numpy()})
    return out.dropna().drop_duplicates().assign(weight=1.0).reset_index(drop=True)


def _progeny(organism: str) -> pd.DataFrame:
    from genotx.data.sources.cross_species import progeny_tables

    model = progeny_tables(source_files("progeny_models"))[f"model_{organism}"]
    top = top_genes(model, PROGENY_TOP)
    return pd.DataFrame({"source": top["pathway"].to_numpy(), "target": top["gene"].to_numpy(),
                         "weight": top["weight"].to_numpy(np.float64)})


@lru_cache(maxsize=8)
def network(collection: str, organism: str = "human") -> pd.DataFrame:
    """The collection's edges: ``source``, ``target`` (gene symbol), ``weight`` (cached per process)."""
    if collection not in COLLECTIONS:
        raise UnknownNameError("collection", collection, COLLECTIONS)
    if organism not in ORGANISMS:
        raise UnknownNameError("organism", organism, ORGANISMS)
    if organism != "human" and collection != "progeny":
        raise InputError(f"collection {collection!r}", f"has human genes only (organism={organism!r})",
                         fix="use organism=human, or the progeny collection (it has a mouse model)")
    if collection == "progeny":
        return _progeny(organism)
    return {"collectri": lambda: _regulons("collectri"), "dorothea": lambda: _regulons("dorothea"),
            "go": _go, "kegg": _kegg}[collection]()


@lru_cache(maxsize=8)
def set_names(collection: str) -> dict[str, str]:
    """Readable names of a collection's sets (GO term names; the id itself elsewhere)."""
    if collection != "go":
        return {}
    terms = pd.read_parquet(source_files("go_db_terms")["terms"])
    return dict(zip(terms["go_id"], terms["term"]))
