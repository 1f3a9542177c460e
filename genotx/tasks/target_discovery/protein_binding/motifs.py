"""Motifs read from a fitted protein_binding model, compared with known ones.

Sort-seq: the important windows (in-silico saturation mutagenesis, :mod:`genotx.evaluate.attribution`)
named by the known lac site they overlap, and the match of the model's effect matrix with Kinney's
2010 CRP energy matrix. ChIP: a de-novo matrix per factor (gradient attribution) matched with its
JASPAR 2024 profiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.data.formats.motif import read_jaspar, read_matrix_table
from genotx.data.source import source_files
from genotx.evaluate.attribution import counts_to_logodds, motifs_from_model

__all__ = ["LAC_SITES", "CHIP_REFERENCES", "crp_reference", "jaspar_references", "sortseq_motifs", "chip_motifs"]

#: known sites of the lac promoter in the 75-nt frame (0-based, stop exclusive)
LAC_SITES = {"CRP": (6, 22), "RNAP -35": (39, 45), "RNAP -10": (63, 69)}
#: JASPAR 2024 references for the ChIP factors: factor -> profile base ids
CHIP_REFERENCES = {"Oct4": ("MA1115", "MA0142"), "MafK": ("MA0496",)}


def crp_reference() -> np.ndarray:
    """Kinney 2010 CRP matrix as binding preference ``(26, 4)``: minus the energy (kcal/mol)."""
    return -read_matrix_table(source_files("kinney2010_crp")["energy"])


def jaspar_references() -> dict[str, tuple[str, np.ndarray]]:
    """{profile id: (factor, log-odds matrix)} of the JASPAR 2024 profiles for the ChIP factors."""
    path = source_files("jaspar2024")["sqlite"]
    out = {}
    for factor, ids in CHIP_REFERENCES.items():
        for base_id in ids:
            counts, name = read_jaspar(path, base_id)
            out[f"{base_id} {name}"] = (factor, counts_to_logodds(counts))
    return out


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def sortseq_motifs(model, sequences, *, n_sequences: int = 1000, random_state: int = 0) -> dict:
    """Important windows of a fitted sort-seq model, named by the known lac site they overlap, and
    the match of its effect matrix to the Kinney 2010 CRP matrix."""
    reference = crp_reference()
    report = motifs_from_model(model, list(sequences), references={"CRP (Kinney 2010)": reference},
                               n_sequences=n_sequences, random_state=random_state)
    sites = []
    for site in sorted(report.sites, key=lambda s: s.start):
        known = max(LAC_SITES, key=lambda k: _overlap((site.start, site.stop), LAC_SITES[k]))
        overlap = _overlap((site.start, site.stop), LAC_SITES[known])
        sites.append({"start": site.start, "stop": site.stop, "score": round(site.score, 4), "preferred": site.preferred,
                      "known_site": known if overlap else None, "overlap_nt": overlap})
    match = report.matches["CRP (Kinney 2010)"]
    crp_stop = match.offset + len(reference)
    return {
        "method": report.method,
        "n_sequences": report.n_sequences,
        "positions": "0-based, stop exclusive",
        "known_sites": {k: list(v) for k, v in LAC_SITES.items()},
        "motifs": sites,
        "recovered_known_sites": sorted({s["known_site"] for s in sites if s["known_site"]}),
        "crp_similarity": round(match.r, 4),
        "crp_p_value": match.p_value,
        "crp_match": {"start": match.offset, "stop": crp_stop, "strand": match.strand,
                      "overlap_with_known_crp_nt": _overlap((match.offset, crp_stop), LAC_SITES["CRP"])},
        "importance": np.round(report.importance, 4).tolist(),
    }


def chip_motifs(model, inputs: pd.DataFrame, *, labels: np.ndarray, width: int = 12, n_sequences: int = 2000, random_state: int = 0) -> dict:
    """De-novo motifs of a fitted Oct4-vs-MafK classifier, each matched with its factor's JASPAR
    profiles: Oct4 from what raises the Oct4 score in Oct4 peaks, MafK from what lowers it in MafK
    peaks (gradient attribution, best ``width``-long window of the top half of the peaks)."""
    references = jaspar_references()
    out = {"method": "gradient", "width": width, "motifs": []}
    for factor, label, sign in (("Oct4", 1, 1.0), ("MafK", 0, -1.0)):
        seqs = inputs["sequence"].to_numpy()[np.asarray(labels) == label]
        refs = {name: m for name, (f, m) in references.items() if f == factor}
        report = motifs_from_model(model, list(seqs), references=refs, aligned=False, method="gradient", width=width,
                                   sign=sign, top_fraction=0.5, n_sequences=n_sequences, random_state=random_state)
        counts = report.seqlets["de_novo"]
        consensus = "".join(np.array(list("ACGT"))[counts.argmax(axis=1)])
        matches = {name: {"r": round(m.r, 4), "offset": m.offset, "strand": m.strand, "n_positions": m.n_positions, "p_value": m.p_value}
                   for name, m in report.matches.items()}
        out["motifs"].append({"factor": factor, "n_sequences": report.n_sequences, "consensus": consensus, "jaspar": matches,
                              "counts": counts.astype(int).tolist()})
    return out
