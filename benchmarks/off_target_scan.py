"""Benchmark: the crispr_off_target genome scan against a straightforward reference scan, in one run.

Run: ``python benchmarks/off_target_scan.py`` (a random 20 Mb genome in two contigs, 10 guides, up to
4 mismatches, NGG and NAG, both strands); ``--bulges`` adds 1-nt RNA/DNA bulges (39 alignments per
guide); ``--fasta genome.fa`` scans your own genome instead of the random one.

**sites/s** is candidate sites examined per second: genome positions x 2 strands x guides (every
position of both strands is a candidate start for every guide; the PAM test is part of the work)
divided by the wall time. Both scans are timed on the same machine in the same run:

* ``genotx scan_genome``: the vectorised scan (``genotx.tasks.therapeutics.crispr_off_target.scan``)
  on the FASTA file, parsing included;
* ``genotx scan_sequence``: the same on codes already in memory (no parsing);
* ``reference (pure Python)``: a loop over positions, guides and alignments with an early exit
  (``reference_scan``), timed on the first ``--ref-length`` bases only (it is ~10^3-10^4x slower) and
  compared hit for hit with the vectorised scan of the same bases.

On a shared machine the wall time drifts with the load; CPU seconds (and the speed-up computed from
them) are printed too and are the steadier measure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genotx.tasks.therapeutics.crispr_off_target.scan import _TABLE, iter_contigs, reference_scan, scan_genome, scan_sequence


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def random_genome(length: int, guides: list[str], rng: np.random.Generator) -> list[tuple[str, str]]:
    """Two contigs of random bases with each guide planted (perfect, NGG) near the start of each contig."""
    contigs = []
    for name, size in (("chr1", length // 2), ("chr2", length - length // 2)):
        seq = bytearray(np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)].tobytes())
        for i, guide in enumerate(guides):
            at = 1000 + 100 * i
            seq[at: at + 23] = (guide + "TGG").encode()
        contigs.append((name, seq.decode()))
    return contigs


def write_fasta(contigs: list[tuple[str, str]], path: Path) -> None:
    with open(path, "w") as handle:
        for name, seq in contigs:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                handle.write(seq[i: i + 60] + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=float, default=20.0, help="random genome size in Mb (default 20)")
    parser.add_argument("--fasta", type=Path, default=None, help="scan this FASTA instead of a random genome")
    parser.add_argument("--guides", type=int, default=10)
    parser.add_argument("--max-mismatches", type=int, default=4)
    parser.add_argument("--bulges", action="store_true", help="also 1-nt RNA and DNA bulges")
    parser.add_argument("--ref-length", type=int, default=30_000, help="bases the pure-Python reference scans")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    guides = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(args.guides)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.fasta is None:
            contigs = random_genome(int(args.length * 1e6), guides, rng)
            path = Path(tmp) / "genome.fa"
            write_fasta(contigs, path)
        else:
            path = args.fasta
            contigs = None
        hits, wall_file, cpu_file = timed(lambda: scan_genome(guides, path, max_mismatches=args.max_mismatches, bulges=args.bulges))
        codes = [(name, c) for name, c in iter_contigs(path)]
        total = sum(len(c) for _, c in codes)
        _, wall_mem, cpu_mem = timed(lambda: [scan_sequence(c, guides, chrom=n, max_mismatches=args.max_mismatches,
                                                            bulges=args.bulges) for n, c in codes])
        # the reference on the first bases of the first contig, and the fast scan on exactly those bases
        name, first = codes[0]
        n_ref = min(args.ref_length, len(first))
        text = np.frombuffer(b"ACGTN", np.uint8)[first[:n_ref]].tobytes().decode()
        ref, wall_ref, cpu_ref = timed(lambda: reference_scan(guides, [(name, text)], max_mismatches=args.max_mismatches,
                                                              bulges=args.bulges))
        fast = scan_sequence(_TABLE[np.frombuffer(text.encode(), np.uint8)], guides, chrom=name,
                             max_mismatches=args.max_mismatches, bulges=args.bulges)
    order = ["guide_id", "start", "strand", "bulge", "bulge_index"]
    same = fast.sort_values(order, ignore_index=True).astype(str).equals(ref.sort_values(order, ignore_index=True).astype(str))

    windows = 2 * total * len(guides)
    rows = [
        ("genotx scan_genome (FASTA file)", total, wall_file, cpu_file, windows),
        ("genotx scan_sequence (in memory)", total, wall_mem, cpu_mem, windows),
        ("reference (pure Python)", n_ref, wall_ref, cpu_ref, 2 * n_ref * len(guides)),
    ]
    ref_rate, ref_cpu_rate = rows[2][4] / wall_ref, rows[2][4] / cpu_ref
    table = pd.DataFrame([{"method": m, "bases": b, "guides": len(guides), "wall s": round(w, 3), "CPU s": round(c, 3),
                           "sites/s": f"{n / w:.3g}", "sites/s (CPU)": f"{n / c:.3g}", "x reference": f"{n / w / ref_rate:.0f}",
                           "x reference (CPU)": f"{n / c / ref_cpu_rate:.0f}"}
                          for m, b, w, c, n in rows])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"genome: {'random' if args.fasta is None else args.fasta} {total:,} bases, {len(codes)} contig(s); "
          f"{len(guides)} guides, <= {args.max_mismatches} mismatches, NGG+NAG, both strands"
          f"{', 1-nt bulges' if args.bulges else ''}; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(table.to_string(index=False))
    print(f"hits in the whole genome: {len(hits):,}; reference and vectorised scans of the first {n_ref:,} bases: "
          f"{len(ref)} and {len(fast)} hits, identical: {same}")


if __name__ == "__main__":
    main()
