"""crispr_off_target: the real CFD table parsed at fetch time against hand-worked scores, the pair
encoding, the seeded simulator, the genome scan (planted sites found on both strands and both PAMs,
identical to a plain reference scan), user files and the published site tables (tiny inputs,
offline); end to end on the default data (slow): each learned model beats the mismatch-count floor on
the cold-guide split, and ``genotx predict`` scores pairs and scans a genome."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest

from genotx.data.source import use_local
from genotx.data.sources.off_target import _convert_cfd, dict_literals
from genotx.errors import InputError
from genotx.simulate.off_target import simulate_off_target_sites
from genotx.tasks.registry import get_task
from genotx.tasks.therapeutics import crispr_off_target as cot
from genotx.tasks.therapeutics.crispr_off_target.features import (
    encode_pairs,
    mismatch_types,
    pair_features,
    product_design,
)
from genotx.tasks.therapeutics.crispr_off_target.io import format_predictions, read_input, read_site_table
from genotx.tasks.therapeutics.crispr_off_target.models import CFDScore, MismatchCount, ProductModel, cfd_scores
from genotx.tasks.therapeutics.crispr_off_target.protocol import off_target_metrics
from genotx.tasks.therapeutics.crispr_off_target.scan import reference_scan, scan_genome, scan_sequence
from genotx.tasks.therapeutics.crispr_off_target.tables import cfd_table

EMX1 = "GAGTCCGAGCAGAAGAAGAA"


def _codes(seq: str) -> np.ndarray:
    from genotx.tasks.therapeutics.crispr_off_target.scan import _TABLE

    return _TABLE[np.frombuffer(seq.encode(), np.uint8)]


def _revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _pairs(guides, sites) -> pd.DataFrame:
    return pd.DataFrame({"guide": guides, "site": sites})


# ------------------------------------------------------------------------------------------------
# the real CFD table, parsed with ast at fetch time


def test_cfd_table_parsed_at_fetch_time_reproduces_hand_worked_scores():
    table = cfd_table()  # source cfd_doench2016: beditor 1.1.9's dict literals, read with ast at fetch time
    scorer = CFDScore().fit(None)
    pairs = _pairs(
        [
            "ATTCAATCCTATGCTGACTTGGG",  # Doench's CFD script example: one mismatch at position 14
            EMX1 + "NGG",
            EMX1 + "NGG",
            EMX1 + "NGG",
        ],
        [
            "ATTCAATCCTATGATGACTTGGG",  # C -> A at 14: rC:dT,14 = 0.35; PAM GG = 1
            "CAGTCCGAGCAGAAGAAGAGTAG",  # G -> C at 1: rG:dG,1 = 0.714285714; A -> G at 20: rA:dC,20 = 0.764705882; AG = 0.259259259
            "GAGTCCGAGCAGAAGCAGAAAGG",  # A -> C at 16: rA:dG,16 = 0 (purine-purine at 16 kills cleavage)
            EMX1 + "CGG",  # perfect spacer, PAM GG: 1
        ],
    )
    expected = [0.35, 0.714285714 * 0.764705882 * 0.259259259, 0.0, 1.0]
    assert scorer.predict(pairs) == pytest.approx(expected, abs=1e-8)
    assert table.mismatch.shape == (20, 4, 4) and table.pam[2, 2] == 1.0  # pam[G, G]
    assert 0.14161 < expected[1] < 0.14162


def test_dict_literals_are_read_without_running_the_module(tmp_path):
    module = tmp_path / "get_scores.py"
    module.write_text(
        "raise SystemExit('never run')\n"
        "def calc_cfd(wt, sg, pam):\n"
        "    mm_scores = {" + ", ".join(f"'r{r}:d{d},{p}': {0.5 if p == 3 else 1.0}" for p in range(1, 21)
                                       for r in "ACGU" for d in "ACGT" if {"A": "T", "C": "G", "G": "C", "U": "A"}[r] != d) + "}\n"
        "    pam_scores = {" + ", ".join(f"'{a}{b}': {1.0 if a + b == 'GG' else 0.1}" for a in "ACGT" for b in "ACGT") + "}\n"
        "    return 0\n"
    )
    files = _convert_cfd({"module": module}, tmp_path)
    assert not module.exists()  # only the numbers stay in the cache
    mismatch = pd.read_csv(files["mismatch"])
    assert len(mismatch) == 240 and mismatch.loc[mismatch["position"] == 3, "factor"].eq(0.5).all()
    with pytest.raises(InputError, match="not found"):
        dict_literals("x = 1", ("mm_scores",), where="m.py")


# ------------------------------------------------------------------------------------------------
# the pair encoding


def test_encode_pairs_reads_mismatches_pam_and_both_bulges():
    c = encode_pairs(
        [EMX1 + "NGG", EMX1 + "NGG", EMX1[:10] + "-" + EMX1[10:] + "NGG"],
        ["C" + EMX1[1:] + "TAG", EMX1[:5] + "-" + EMX1[6:] + "TGG", EMX1[:10] + "T" + EMX1[10:] + "AGG"],
    )
    mm = mismatch_types(c)
    assert (mm[0] >= 0).tolist() == [True] + [False] * 19 and c.pam[0].tolist() == [3, 0, 2]
    assert c.rna_bulge.tolist() == [-1, 5, -1] and c.dna_bulge.tolist() == [-1, -1, 10]
    assert (mm[1:] < 0).all()  # a bulge alone is no mismatch
    assert pair_features(_pairs([EMX1 + "NGG"], [EMX1 + "AGG"])).shape == (1, 398)
    design = product_design(_pairs([EMX1 + "NGG"], ["C" + EMX1[1:] + "TAG"]))
    assert design.sum() == 2  # one (position, type) indicator and one PAM indicator


@pytest.mark.parametrize("guide, site, problem", [
    (EMX1 + "NGG", EMX1 + "AG", "not an alignment"),
    (EMX1 + "NGG", EMX1[:5] + "-" + EMX1[6:9] + "-" + EMX1[10:] + "AGGG", "not an alignment"),
    ("-" + EMX1 + "NGG", "A" + EMX1 + "AGG", "DNA bulge before the first"),
])
def test_encode_pairs_refuses_what_it_cannot_represent(guide, site, problem):
    with pytest.raises(InputError, match=problem):
        encode_pairs([guide], [site])


def test_mismatch_count_and_cfd_bulge_extension():
    pairs = _pairs([EMX1 + "NGG", EMX1 + "NGG"], ["CC" + EMX1[2:] + "AGG", EMX1[:5] + "-" + EMX1[6:] + "AGG"])
    assert MismatchCount().fit(pairs).predict(pairs).tolist() == [0.25, 0.5]
    table = cfd_table()
    off = ~np.eye(4, dtype=bool)
    bulge = cfd_scores(encode_pairs(pairs["guide"][1:], pairs["site"][1:]), table)[0]
    assert bulge == pytest.approx(table.mismatch[5][off].mean())


# ------------------------------------------------------------------------------------------------
# the simulator


def _toy_tables():
    rng = np.random.default_rng(3)
    mismatch = np.where(np.eye(4, dtype=bool)[None], 1.0, rng.uniform(0.1, 0.9, size=(20, 4, 4)))
    return mismatch, np.array([[0.3, 0.05, 1.0, 0.2], [0.2, 0.05, 1.0, 0.1]]), np.full((20, 20), 0.7)


def test_simulator_is_seeded_and_plants_what_it_says():
    mismatch, pam, pairs = _toy_tables()
    guides = [EMX1, "GACGCATAAAGATGAGACGC", "ACGTACGTACGTACGTACGT"]
    a = simulate_off_target_sites(guides, mismatch=mismatch, pam=pam, pairs=pairs, sites_per_guide=60, random_state=5)
    b = simulate_off_target_sites(guides, mismatch=mismatch, pam=pam, pairs=pairs, sites_per_guide=60, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 3 * 61 and a["activity"].between(0, 1).all() and a["expected"].between(0, 1).all()
    codes = encode_pairs(a["guide"], a["site"])
    assert ((mismatch_types(codes) >= 0).sum(axis=1) == a["n_mismatches"]).all()
    plain = a["kind"].isin(["mismatch", "on_target", "pam_only"]).to_numpy()
    assert (a.loc[plain, "site"].str.slice(0, 20).to_numpy() != a.loc[plain, "spacer"].to_numpy()).sum() > 0
    assert (a.loc[a["kind"] == "on_target", "expected"] == 1.0).all()
    assert a.loc[a["kind"] == "mismatch", "n_mismatches"].between(1, 6).all()
    assert (a.loc[a["kind"] == "pam_only", "pam"].str.slice(1) != "GG").all()
    # one mismatch, NGG: expected = M1 factor x the guide's propensity (no pair term, no PAM factor)
    one = a[(a["kind"] == "mismatch") & (a["n_mismatches"] == 1) & (a["pam"].str.slice(1) == "GG")].iloc[0]
    c = encode_pairs([one["guide"]], [one["site"]])
    i = int(np.flatnonzero(mismatch_types(c)[0] >= 0)[0])
    assert one["expected"] == pytest.approx(min(1.0, mismatch[i, c.guide[0, i], c.site[0, i]] * one["propensity"]))


def test_off_target_metrics_threshold_the_activity():
    m = off_target_metrics(("auroc", "aupr", "spearman"), np.array([0.0, 0.09, 0.1, 0.5]), np.array([0.4, 0.3, 0.2, 0.1]))
    assert m["auroc"] == 0.0 and m["spearman"] == pytest.approx(-1.0)
    assert math.isnan(off_target_metrics(("auroc",), np.array([1.0, 0.9]), np.array([0.1, 0.2]))["auroc"])


def test_product_model_recovers_the_planted_factors():
    mismatch, pam, pairs = _toy_tables()
    rng = np.random.default_rng(0)
    guides = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(150)]
    sites = simulate_off_target_sites(guides, mismatch=mismatch, pam=pam, pairs=np.ones((20, 20)), sites_per_guide=40,
                                      noise=0.1, background=0.0, random_state=0)
    model = ProductModel(alpha=0.1).fit(sites[["guide", "site"]], sites["expected"])
    truth = np.array([mismatch[i][~np.eye(4, dtype=bool)] for i in range(20)])  # (20, 12) in type order
    r = np.corrcoef(np.log(truth).ravel(), np.log(model.factors_).ravel())[0, 1]
    assert r > 0.9


# ------------------------------------------------------------------------------------------------
# the genome scan


def _plant(rng, length: int, guides: list[str], *, bulges: bool):
    """A random genome with planted sites: (guide, mismatches 0-4) x strand x PAM (NGG, NAG), and bulges."""
    genome = list("".join(rng.choice(list("ACGT"), length)))
    planted, at = [], 50
    for gid, guide in enumerate(guides):
        for mismatches in range(5):
            for strand in "+-":
                for pam in ("TGG", "CAG"):
                    spacer = list(guide)
                    for i in rng.choice(20, size=mismatches, replace=False):
                        spacer[i] = rng.choice([b for b in "ACGT" if b != guide[i]])
                    site = "".join(spacer) + pam
                    genome[at: at + 23] = list(site if strand == "+" else _revcomp(site))
                    planted.append((gid, at, strand, mismatches, "none"))
                    at += 60
        if bulges:
            for kind, site in (("rna", guide[:8] + guide[9:] + "AGG"), ("dna", guide[:12] + "T" + guide[12:] + "TGG")):
                for strand in "+-":
                    genome[at: at + len(site)] = list(site if strand == "+" else _revcomp(site))
                    planted.append((gid, at, strand, 0, kind))
                    at += 60
    assert at < length
    return "".join(genome), planted


@pytest.mark.parametrize("bulges", [False, True])
def test_scan_finds_every_planted_site_on_both_strands_and_pams(tmp_path, bulges):
    rng = np.random.default_rng(7)
    guides = [EMX1, "GACGCATAAAGATGAGACGC", "TTGCAATGCAGTCAGGTACC"]
    genome, planted = _plant(rng, 60_000, guides, bulges=bulges)
    path = tmp_path / "genome.fa"
    # two contigs, wrapped lines, soft-masked lower case: as genomes come
    text = f">chrA desc\n" + "\n".join(genome[i: i + 70] for i in range(0, 30_000, 70))
    text += "\n>chrB\n" + "\n".join(genome[30_000 + i: 30_000 + i + 70].lower() for i in range(0, 30_000, 70)) + "\n"
    path.write_text(text)
    hits = scan_genome(guides, path, max_mismatches=4, bulges=bulges, block=5_000)
    # a site is its guide, contig, strand and PAM: the end on the plus strand, the start on the minus strand
    found = {(g, c, st, e if st == "+" else s): m + (b != "none")
             for g, c, s, e, st, m, b in zip(hits["guide_id"], hits["chrom"], hits["start"], hits["end"], hits["strand"],
                                             hits["mismatches"], hits["bulge"])}
    for gid, at, strand, mismatches, kind in planted:
        chrom, start = ("chrA", at) if at < 30_000 else ("chrB", at - 30_000)
        width = 22 if kind == "rna" else 24 if kind == "dna" else 23
        key = (gid, chrom, strand, start + width if strand == "+" else start)
        assert key in found, f"planted site {key} ({mismatches} mismatches, {kind} bulge) not found"
        assert found[key] <= mismatches + (kind != "none")  # this alignment, or one with fewer edits
    seq = {"chrA": genome[:30_000], "chrB": genome[30_000:]}
    for row in hits.itertuples():  # every reported site is what the genome holds there
        window = seq[row.chrom][row.start: row.end]
        assert row.site_sequence == (window if row.strand == "+" else _revcomp(window))
        assert row.site_sequence[-2:] in ("GG", "AG")


def test_fast_scan_equals_the_plain_reference_scan():
    rng = np.random.default_rng(11)
    guides = [EMX1, "GACGCATAAAGATGAGACGC"]
    genome, _ = _plant(rng, 1_600, guides[:1], bulges=True)
    genome = genome[:700] + "NNNRY" + genome[705:]  # N and IUPAC letters never match
    for bulges, k in ((False, 6), (True, 3)):
        fast = scan_sequence(_codes(genome), guides, max_mismatches=k, bulges=bulges, block=300)
        slow = reference_scan(guides, [("seq", genome)], max_mismatches=k, bulges=bulges)
        order = ["guide_id", "start", "strand", "bulge", "bulge_index"]
        pd.testing.assert_frame_equal(fast.sort_values(order, ignore_index=True).astype(str),
                                      slow.sort_values(order, ignore_index=True).astype(str))
        assert len(fast) >= 20


def test_scan_reads_gzip_and_names_the_line_of_a_bad_letter(tmp_path):
    path = tmp_path / "g.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(">c1\nTT" + EMX1 + "AGGTT\n")
    hits = scan_genome([EMX1], path, max_mismatches=0)
    assert hits[["chrom", "start", "end", "strand"]].values.tolist() == [["c1", 2, 25, "+"]]
    bad = tmp_path / "bad.fa"
    bad.write_text(">c1\nACGT\nAC7T\n")
    with pytest.raises(InputError, match="line 3"):
        scan_genome([EMX1], bad)
    twice = tmp_path / "twice.fa"
    twice.write_text(">c1 first\nACGT\n>c2\nACGT\n>c1 again\nACGT\n")
    with pytest.raises(InputError, match=r"line 5: record name 'c1' is used twice \(first at line 1\)"):
        scan_genome([EMX1], twice)
    with pytest.raises(InputError, match="20-nt"):
        scan_sequence(_codes("ACGT" * 10), ["ACGT"])


# ------------------------------------------------------------------------------------------------
# user files and the predict output


def test_read_input_pairs_and_guides_with_lines_in_errors(tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"id,guide,site\na,{EMX1},{EMX1}AGG\nb,{EMX1}TGG,{EMX1[:5]}-{EMX1[6:]}AGG\n")
    frame = read_input(pairs)
    assert frame["guide"].tolist() == [EMX1 + "NGG", EMX1 + "NGG"] and frame["id"].tolist() == ["a", "b"]
    guides = tmp_path / "guides.fa"
    guides.write_text(f">g1\n{EMX1}\n>g2\n{EMX1}AGG\n")
    frame = read_input(guides)
    assert frame["guide"].tolist() == [EMX1, EMX1] and (frame["site"] == "").all()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"guide,site\n{EMX1},{EMX1}AGG\n{EMX1},{EMX1}AG\n")
    with pytest.raises(InputError, match="line 3"):
        read_input(bad)
    bad.write_text(f"guide\n{EMX1}\nACGTX\n")
    with pytest.raises(InputError, match="line 3"):
        read_input(bad)


def test_format_predictions_scores_pairs_and_scans_a_genome(tmp_path):
    genome = tmp_path / "genome.fa"
    genome.write_text(">c1\n" + "A" * 30 + EMX1 + "TGG" + "A" * 30 + _revcomp("C" + EMX1[1:] + "CAG") + "A" * 30 + "\n")
    guides = read_input(_write(tmp_path / "g.csv", f"id,guide\nEMX1,{EMX1}\n"))
    model = MismatchCount().fit(None)
    out = format_predictions(guides, model, reference=genome, max_mismatches=2)
    assert out[["start", "strand", "mismatches", "prediction"]].values.tolist() == [[30, "+", 0, 1.0], [83, "-", 1, 0.5]]
    assert out["cfd"].iloc[0] == 1.0 and out["id"].eq("EMX1").all()
    with pytest.raises(InputError, match="--reference"):
        format_predictions(guides, model)
    pairs = read_input(_write(tmp_path / "p.csv", f"guide,site\n{EMX1},{EMX1}AGG\n"))
    assert format_predictions(pairs, model)[["mismatches", "prediction", "cfd"]].values.tolist() == [[0, 1.0, 1.0]]
    with pytest.raises(InputError, match="site"):
        format_predictions(pairs, model, reference=genome)


def _write(path, text):
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------------
# published site tables (files written here in each pipeline's format)

_GUIDESEQ_HEADER = ("#BED_Chromosome\tBED_Min.Position\tBED_Max.Position\tBED_Name\tFilename\tWindowIndex\tWindowChromosome\t"
                    "Position\tWindowSequence\t+.mi\t-.mi\tbi.sum.mi\tbi.geometric_mean.mi\t+.total\t-.total\ttotal.sum\t"
                    "total.geometric_mean\tprimer1.mi\tprimer2.mi\tprimer.geometric_mean\tposition.stdev\tBED_Site_Name\t"
                    "BED_Score\tBED_Site_Chromosome\tSite_SubstitutionsOnly.Sequence\tSite_SubstitutionsOnly.NumSubstitutions\t"
                    "Site_SubstitutionsOnly.Strand\tSite_SubstitutionsOnly.Start\tSite_SubstitutionsOnly.End\t"
                    "Site_GapsAllowed.Sequence\tSite_GapsAllowed.Length\tSite_GapsAllowed.Score\tSite_GapsAllowed.Substitutions\t"
                    "Site_GapsAllowed.Insertions\tSite_GapsAllowed.Deletions\tSite_GapsAllowed.Strand\tSite_GapsAllowed.Start\t"
                    "Site_GapsAllowed.End\tCell\tTargetsite\tTargetSequence\tRealignedTargetSequence")


def _guideseq_row(chrom, reads, site, gapped="", realigned="none"):
    fields = {"WindowChromosome": chrom, "bi.sum.mi": str(reads), "Site_SubstitutionsOnly.Sequence": site,
              "Site_SubstitutionsOnly.Strand": "+", "Site_SubstitutionsOnly.Start": "100", "Site_GapsAllowed.Sequence": gapped,
              "TargetSequence": EMX1 + "NGG", "RealignedTargetSequence": realigned, "Targetsite": "EMX1"}
    return "\t".join(fields.get(c, "x") for c in _GUIDESEQ_HEADER.split("\t"))


def test_guideseq_circleseq_changeseq_tables_load_as_real_sources(tmp_path):
    guideseq = tmp_path / "guideseq.txt"
    guideseq.write_text("\n".join([
        _GUIDESEQ_HEADER,
        _guideseq_row("chr2", 1000, EMX1 + "TGG"),
        _guideseq_row("chr5", 250, "GAGTTAGAGCAGAAAAAAAATGG"),
        _guideseq_row("chr1", 40, "", "AAGT-AGAGCAGAAGAAGAAGCG", EMX1 + "NGG"),  # an RNA bulge only
        _guideseq_row("chr9", 7, ""),  # no site found in the window: skipped
    ]) + "\n")
    # CIRCLE-seq / CHANGE-seq pipelines (tsailabSJ), older and newer column names
    circle = tmp_path / "circleseq.txt"
    circle.write_text("Chromosome\tStart\tEnd\tName\tReadCount\tStrand\tSite_SubstitutionsOnly.Sequence\t"
                      "Site_GapsAllowed.Sequence\tTargetSequence\tRealignedTargetSequence\n"
                      f"2\t10000\t10023\tx\t206\t+\t{EMX1}AGG\t\t{EMX1}NGG\tnone\n"
                      f"4\t10000\t10023\tx\t56\t+\tCACTCCAAGTAGAAGAAGAAAAG\t\t{EMX1}NGG\tnone\n")
    change = tmp_path / "changeseq.txt"
    change.write_text("#Chromosome\tStart\tEnd\tGenomic Coordinate\tNuclease_Read_Count\tStrand\tControl_Read_Count\t"
                      "Site_Sequence\tSite_Substitution_Number\tSite_Sequence_Gaps_Allowed\tTarget_Sequence\t"
                      "Realigned_Target_Sequence\n"
                      f"chr1\t5\t28\tchr1:5-28\t300\t-\t0\t{EMX1}GGG\t0\t\t{EMX1}NGG\tnone\n"
                      f"chr3\t5\t28\tchr3:5-28\t30\t+\t0\tGAGTCCGAGCAGAAGAAGAAGAG\t0\t\t{EMX1}NGG\tnone\n")
    table = read_site_table(guideseq, assay="GUIDE-seq")
    assert table["reads"].tolist() == [1000, 250, 40] and table["line"].tolist() == [2, 3, 4]
    assert table["activity"].tolist() == [1.0, 0.25, 0.04] and table["site"].iloc[2] == "AAGT-AGAGCAGAAGAAGAAGCG"
    for source, path in (("guideseq_sites", guideseq), ("circleseq_sites", circle), ("changeseq_sites", change)):
        use_local(source, {"sites": path})
        try:
            data = get_task("crispr_off_target").load(source=source)
        finally:
            use_local(source, {})
        assert data.meta["data_kind"] == "real" and data.target.max() == 1.0 and (data.groups["guide"] == EMX1).all()
        assert len(CFDScore().fit(None).predict(data.inputs)) == len(data)
    broken = tmp_path / "broken.txt"
    broken.write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="read-count"):
        read_site_table(broken, assay="GUIDE-seq")


# ------------------------------------------------------------------------------------------------
# end to end on the default data (slow)


@pytest.mark.slow
def test_each_learned_model_beats_the_mismatch_count_floor_on_cold_guides():
    import genotx

    task = get_task("crispr_off_target")
    data = task.load()
    assert data.meta["data_kind"] == "semi-synthetic" and len(data) == cot.N_GUIDES * (cot.SITES_PER_GUIDE + 1)
    for fold in task.folds(data, "cold_guide", random_state=0):  # no spacer on both sides
        assert not set(data.groups["guide"].iloc[fold.train]) & set(data.groups["guide"].iloc[fold.test])
    floor, _ = genotx.run(task, model="mismatch_count", dataset=data)
    cfd, _ = genotx.run(task, model="cfd", dataset=data)
    assert cfd.metrics["auroc"] > 0.8  # the real table is a sound, independent reference
    for model in ("lgbm", "product"):
        record, outcome = genotx.run(task, model=model, dataset=data)
        for metric in ("auroc", "aupr", "spearman"):
            assert record.metrics[metric] > floor.metrics[metric] + 0.02, (model, metric, record.metrics, floor.metrics)
        assert record.metrics["auroc"] <= outcome.details["noise_ceiling"]["auroc"] + 0.01


@pytest.mark.slow
def test_genotx_predict_scores_pairs_and_scans_a_genome(tmp_path):
    from genotx.engine.predict import predict_file

    rng = np.random.default_rng(1)
    genome, planted = _plant(rng, 20_000, [EMX1], bulges=False)
    (tmp_path / "genome.fa").write_text(">chr1\n" + genome + "\n")
    (tmp_path / "guides.csv").write_text(f"id,guide\nEMX1,{EMX1}\n")
    out = predict_file("crispr_off_target", tmp_path / "guides.csv", tmp_path / "sites.csv", model="product",
                       reference=tmp_path / "genome.fa", max_mismatches="4")
    sites = pd.read_csv(out)
    assert {(s, st) for s, st in zip(sites["start"], sites["strand"])} >= {(at, strand) for _, at, strand, _, _ in planted}
    assert sites["prediction"].iloc[0] == sites["prediction"].max() and sites["prediction"].between(0, 1).all()
    perfect = sites[sites["mismatches"] == 0]
    assert (perfect["prediction"].to_numpy()[:, None] >= sites.loc[sites["mismatches"] >= 3, "prediction"].to_numpy()[None]).all()
    (tmp_path / "pairs.csv").write_text(f"guide,site\n{EMX1},{EMX1}TGG\n{EMX1},GAGTTAGAGCAGAAAAAAAATGG\n")
    scored = pd.read_csv(predict_file("crispr_off_target", tmp_path / "pairs.csv", tmp_path / "scored.csv", model="product"))
    assert scored["prediction"].iloc[0] > scored["prediction"].iloc[1] and scored["cfd"].iloc[0] == 1.0
    with pytest.raises(InputError, match="max_mismatches"):
        predict_file("crispr_off_target", tmp_path / "guides.csv", tmp_path / "x.csv", reference=tmp_path / "genome.fa",
                     max_mismatches="9")
