"""Files in and out: a user's guides or guide-site pairs, genome-scan output, and validated site tables.

``genotx predict crispr_off_target`` (the engine's one predict path) reads the user's file with
:func:`read_input`, fits (once, cached) the task's model and calls :func:`format_predictions`:

* a CSV (or TSV, or FASTA) of **guide-site pairs** (columns ``guide``, ``site``) -> each pair scored;
* a CSV/FASTA of **guides** only plus ``--reference genome.fa`` -> every site of each guide in the
  genome with up to ``max_mismatches`` mismatches (both strands, NGG and NAG; ``-o bulges=yes`` adds
  1-nt bulges), each scored.

:func:`read_site_table` reads the published output of the GUIDE-seq, CIRCLE-seq and CHANGE-seq
pipelines (tab-separated; the column names of each format are listed in :data:`SITE_COLUMNS`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.data.formats.table import check_values, read_table
from genotx.errors import InputError
from genotx.tasks.therapeutics.crispr_off_target.features import encode_pairs, mismatch_types
from genotx.tasks.therapeutics.crispr_off_target.models import cfd_scores
from genotx.tasks.therapeutics.crispr_off_target.scan import aligned_sites, scan_genome
from genotx.tasks.therapeutics.crispr_off_target.tables import cfd_table
from genotx.tasks.spec import PredictOption

__all__ = ["PREDICT_OPTIONS", "read_input", "format_predictions", "read_site_table", "SITE_COLUMNS", "pairs_from_strings"]

log = logging.getLogger(__name__)

PREDICT_OPTIONS = {
    "reference": PredictOption(Path, help="genome FASTA (.fa/.fa.gz): scan it for every site of each guide in the file"),
    "max_mismatches": PredictOption(int, low=0, high=6, help="most spacer mismatches of a scanned site (default 4)"),
    "bulges": ("no", "yes"),
}

_GUIDE_ALIASES = ("sgRNA", "sgrna", "crRNA", "spacer", "sequence", "target_sequence", "TargetSequence")
_SITE_ALIASES = ("DNA", "off_target", "offtarget_sequence", "target_site", "site_sequence")


def pairs_from_strings(guides: pd.Series, sites: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Guides of 20 nt (or 20 + a 3-nt PAM) and sites -> the aligned strings the models read.

    A guide without gaps becomes its 20-nt spacer + ``NGG`` (the guide's PAM is nominal); an aligned
    guide with a ``-`` (a DNA bulge) passes unchanged, as do sites.

    >>> g, s = pairs_from_strings(pd.Series(["ACGTACGTACGTACGTACGT"]), pd.Series(["acgtacgtacgtacgtacgtagg"]))
    >>> g[0], s[0]
    ('ACGTACGTACGTACGTACGTNGG', 'ACGTACGTACGTACGTACGTAGG')
    """
    guides = guides.astype(str).str.strip().str.upper()
    sites = sites.astype(str).str.strip().str.upper()
    plain = ~guides.str.contains("-", regex=False)
    return guides.where(~plain, guides.str.slice(0, 20) + "NGG"), sites


def read_input(path: str | Path) -> pd.DataFrame:
    """A CSV/TSV of guide-site pairs (columns ``guide``: 20-nt spacer, optionally + PAM; ``site``: 20 nt
    + PAM as in the genome, guide strand; aligned strings with one ``-`` for a 1-nt bulge) or of
    guides only (``guide``; FASTA works too) to scan a genome given with ``--reference``; optional ``id``.

    Returns columns ``id``, ``guide``, ``site`` (empty when only guides were given).
    """
    frame = read_table(path, required=("guide",), optional=("site", "id"),
                       aliases={"guide": _GUIDE_ALIASES, "site": _SITE_ALIASES, "id": ("name", "guide_id")})
    where = str(path)
    frame["guide"] = frame["guide"].astype(str).str.strip().str.upper()
    if "id" not in frame:
        frame["id"] = [f"guide{i + 1}" for i in range(len(frame))]
    if "site" not in frame:
        check_values(frame, "guide", lambda s: s.str.fullmatch(r"[ACGTU]{20}([ACGTN]{3})?").fillna(False), path=where,
                     problem="is not a 20-nt spacer (optionally followed by its 3-nt PAM)", fix="give the 20-nt spacer, 5' -> 3'")
        frame["guide"] = frame["guide"].str.replace("U", "T").str.slice(0, 20)
        frame["site"] = ""
        return frame[["id", "guide", "site"]].reset_index(drop=True)
    frame["site"] = frame["site"].astype(str).str.strip().str.upper()
    check_values(frame, "guide", lambda s: s.str.fullmatch(r"[ACGTU]{20}([ACGTN]{3})?|[ACGTU-]{20,21}[ACGTN]{3}").fillna(False),
                 path=where, problem="is not a 20-nt spacer (+ PAM), or an aligned guide with one '-'",
                 fix="give the 20-nt spacer, 5' -> 3' (an aligned guide: 20 nt + '-' + NGG)")
    check_values(frame, "site", lambda s: s.str.fullmatch(r"[ACGTN-]{22,24}").fillna(False), path=where,
                 problem="is not a 23-nt site (20-nt protospacer + PAM, guide strand)",
                 fix="give the genomic protospacer and its PAM as 23 letters of A/C/G/T/N ('-' marks a bulge)")
    frame["guide"] = frame["guide"].str.replace("U", "T")
    frame["guide"], frame["site"] = pairs_from_strings(frame["guide"], frame["site"])
    gapped = frame["guide"].str.contains("-", regex=False) | frame["site"].str.contains("-", regex=False)
    gapped |= frame["site"].str.len() != 23
    for row in np.flatnonzero(gapped.to_numpy()):  # check each alignment; an error names its line
        try:
            encode_pairs(frame["guide"].iloc[row: row + 1], frame["site"].iloc[row: row + 1], where=where)
        except InputError as err:
            raise InputError(where, err.problem.replace("row 0: ", ""), line=int(row) + 2, fix=err.fix) from None
    return frame[["id", "guide", "site"]].reset_index(drop=True)


def _score(pairs: pd.DataFrame, estimator) -> tuple[np.ndarray, np.ndarray]:
    prediction = np.asarray(estimator.predict(pairs[["guide", "site"]]), dtype=float)
    cfd = cfd_scores(encode_pairs(pairs["guide"], pairs["site"]), cfd_table())
    return prediction, cfd


def format_predictions(frame: pd.DataFrame, estimator, *, reference: Path | None = None, max_mismatches: int = 4,
                       bulges: str = "no") -> pd.DataFrame:
    """Scored pairs: the input columns + ``mismatches``, ``prediction`` (the model's cleavage likelihood
    relative to the on-target site, 0-1) and ``cfd`` (the real CFD table); with ``--reference``: one
    row per genomic site (``id``, ``guide``, ``chrom``, ``start``, ``end`` (0-based, plus strand),
    ``strand``, ``site_sequence``, ``mismatches``, ``bulge``, ``bulge_position`` (1 = PAM-distal),
    aligned ``guide_aligned``/``site_aligned``, ``prediction``, ``cfd``), best first within each guide.
    """
    scan = (frame["site"] == "").all()
    if reference is None:
        if scan:
            raise InputError("--reference", "the file holds guides only and no genome was given",
                             fix="add --reference genome.fa to scan it, or give guide-site pairs (a 'site' column)")
        codes = encode_pairs(frame["guide"], frame["site"])
        prediction, cfd = _score(frame, estimator)
        return frame.assign(mismatches=(mismatch_types(codes) >= 0).sum(axis=1), prediction=prediction, cfd=cfd)
    if not scan:
        raise InputError("--reference", "the file has a 'site' column and a genome was given too",
                         fix="give guides only to scan the genome, or drop --reference to score the pairs")
    hits = scan_genome(frame["guide"].tolist(), reference, max_mismatches=max_mismatches, bulges=bulges == "yes")
    columns = ["id", "guide", "chrom", "start", "end", "strand", "site_sequence", "mismatches", "bulge", "bulge_position",
               "guide_aligned", "site_aligned", "prediction", "cfd"]
    if hits.empty:
        return pd.DataFrame(columns=columns)
    pairs = aligned_sites(hits, frame["guide"].tolist())
    prediction, cfd = _score(pairs, estimator)
    gid = hits["guide_id"].to_numpy(int)
    out = hits.assign(
        id=frame["id"].to_numpy()[gid], guide=frame["guide"].to_numpy()[gid],
        bulge_position=np.where(hits["bulge_index"] >= 0, hits["bulge_index"] + 1, 0),
        guide_aligned=pairs["guide"].to_numpy(), site_aligned=pairs["site"].to_numpy(), prediction=prediction, cfd=cfd,
    )
    out = out.sort_values(["guide_id", "prediction"], ascending=[True, False], kind="stable")
    return out[columns].reset_index(drop=True)


# ---- validated site tables (GUIDE-seq, CIRCLE-seq, CHANGE-seq pipelines) ------------------------------

#: accepted column names, first found wins: read count, guide (20 nt + PAM), mismatch-only site,
#: gapped site and the guide realigned to it, chromosome, start, strand
SITE_COLUMNS: dict[str, tuple[str, ...]] = {
    "reads": ("bi.sum.mi", "Nuclease_Read_Count", "ReadCount", "reads", "Reads"),
    "target": ("TargetSequence", "Target_Sequence", "Target Sequence", "target"),
    "site": ("Site_SubstitutionsOnly.Sequence", "Site_Sequence", "Off-Target Sequence", "offtarget_sequence"),
    "gapped_site": ("Site_GapsAllowed.Sequence", "Site_Sequence_Gaps_Allowed"),
    "gapped_target": ("RealignedTargetSequence", "Realigned_Target_Sequence"),
    "chrom": ("WindowChromosome", "#Chromosome", "Chromosome", "#BED_Chromosome", "chrom"),
    "start": ("Site_SubstitutionsOnly.Start", "Start", "chromStart"),
    "strand": ("Site_SubstitutionsOnly.Strand", "Strand", "strand"),
}


def _column(table: pd.DataFrame, key: str) -> pd.Series | None:
    for name in SITE_COLUMNS[key]:
        if name in table.columns:
            return table[name].astype(str).str.strip().replace({"nan": "", "none": "", "None": ""})
    return None


def read_site_table(path: str | Path, *, assay: str) -> pd.DataFrame:
    """One validated site per row: ``guide``/``site`` (aligned pair), ``spacer``, ``reads``, ``chrom``,
    ``start``, ``strand``, ``activity`` (reads / the guide's largest read count) and ``line``.

    Rows without an identified site (no alignment found by the pipeline) and alignments this task
    cannot represent (more than one bulge, a guide that is not 20 nt + PAM) are skipped and counted in
    a logged warning; a table with no usable row is an error.
    """
    where = str(path)
    if not Path(path).is_file():
        raise InputError(where, "no such file", fix=f"point the {assay} source at the pipeline's identified-sites table")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(where, f"cannot read it as a tab-separated table ({err})", fix="give the pipeline's .txt output") from None
    table.columns = [c.strip() for c in table.columns]
    reads, target = _column(table, "reads"), _column(table, "target")
    if reads is None or target is None:
        raise InputError(where, f"no read-count or target-sequence column (found {list(table.columns)[:12]}...)", line=1,
                         fix=f"a {assay} table has one of {SITE_COLUMNS['reads']} and one of {SITE_COLUMNS['target']}")
    counts = pd.to_numeric(reads, errors="coerce")
    bad = counts.isna() | (counts < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(where, f"read count {reads.iloc[row]!r} is not a non-negative number", line=row + 2, fix="check the column")
    empty = pd.Series([""] * len(table), index=table.index)
    site, gapped, realigned = (_column(table, k) if _column(table, k) is not None else empty for k in ("site", "gapped_site", "gapped_target"))
    guides, sites, keep = [], [], []
    for row in range(len(table)):
        spacer = target.iloc[row].upper()[:20]
        candidates = []
        if len(site.iloc[row]) == 23:
            candidates.append((spacer + "NGG", site.iloc[row].upper()))
        if gapped.iloc[row] and realigned.iloc[row]:
            candidates.append((realigned.iloc[row].upper()[:-3] + "NGG", gapped.iloc[row].upper()))
        for guide, s in candidates:
            try:
                encode_pairs([guide], [s], where=where)
            except InputError:
                continue
            guides.append(guide)
            sites.append(s)
            keep.append(row)
            break
    if len(keep) < len(table):
        skipped = sorted(set(range(len(table))) - set(keep))
        log.warning("%s: %d of %d rows skipped (no site, or an alignment with more than one bulge), first on line %d",
                    where, len(skipped), len(table), skipped[0] + 2)
    if not keep:
        raise InputError(where, "no row holds a usable site (a 20-nt + PAM alignment with at most one 1-nt bulge)",
                         fix=f"give the {assay} pipeline's identified-sites table with its site and target columns")
    keep = np.asarray(keep)
    out = pd.DataFrame({
        "guide": guides, "site": sites, "spacer": [g.replace("-", "")[:20] for g in guides],
        "reads": counts.to_numpy(float)[keep], "line": keep + 2,
    })
    for key in ("chrom", "start", "strand"):
        column = _column(table, key)
        out[key] = column.to_numpy()[keep] if column is not None else ""
    out["activity"] = out["reads"] / out.groupby("spacer")["reads"].transform("max").replace(0, np.nan)
    out["activity"] = out["activity"].fillna(0.0)
    return out
