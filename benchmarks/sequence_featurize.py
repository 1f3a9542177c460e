"""Benchmark: one-hot encoding of n x L DNA sequences, genotx against installed peers.

Run: ``python benchmarks/sequence_featurize.py`` (1,000,000 x 200 bp; ``--n`` scales it down).

Prints one table: method, input, wall seconds, CPU seconds, MB/s (input bases per second, wall) and
how many times slower than genotx on the same kind of input. Each row is the best of ``--repeats``
runs. Peers that are not installed are skipped and said so. Per-sequence peers (a Python loop per
record) are timed on ``--peer-n`` records and scaled linearly to n, and are marked ``scaled``
(``--peer-n 0`` times them on all n). On a shared machine the wall time drifts with the load, so
CPU time is shown too (the load average is printed).

Also measured: the floors (a new uint8 array of the output size; writing an existing buffer), FASTA
file -> array with parsing, and peak RSS of streaming a FASTA in chunks in a subprocess
(``--big-gib 3`` writes a FASTA larger than the 2 GiB budget first; it takes a few minutes).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np

from genotx.featurize.fasta_stream import fasta_one_hot
from genotx.seq.codes import one_hot


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds over ``repeats`` calls (the result is dropped each time)."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        cpu = min(cpu, time.process_time() - c)
        wall = min(wall, time.perf_counter() - w)
        del result
    return wall, cpu


def make_data(n: int, length: int, seed: int = 0) -> tuple[bytes, list[str]]:
    rng = np.random.default_rng(seed)
    raw = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, n * length, dtype=np.uint8)].tobytes()
    text = raw.decode("ascii")
    return raw, [text[i * length : (i + 1) * length] for i in range(n)]


def load_kipoiseq():
    """kipoiseq's ``one_hot_dna``; its package __init__ needs ``kipoi``, so load the module alone if needed."""
    try:
        from kipoiseq.transforms.functional import one_hot_dna

        return one_hot_dna
    except ImportError:
        spec = importlib.util.find_spec("kipoiseq")
        if spec is None or spec.origin is None:
            raise
    root = os.path.dirname(spec.origin)
    for name in [m for m in sys.modules if m == "kipoiseq" or m.startswith("kipoiseq.")]:
        del sys.modules[name]
    for name, path in (("kipoiseq", root), ("kipoiseq.transforms", os.path.join(root, "transforms"))):
        module = types.ModuleType(name)
        module.__path__ = [path]
        sys.modules[name] = module
    dataclasses = importlib.import_module("kipoiseq.dataclasses")
    sys.modules["kipoiseq"].Variant, sys.modules["kipoiseq"].Interval = dataclasses.Variant, dataclasses.Interval
    return importlib.import_module("kipoiseq.transforms.functional").one_hot_dna


def peak_rss_streaming(path: Path, chunk_bytes: int) -> tuple[int, float, int]:
    """Records, seconds and peak RSS (MiB) of streaming ``path`` through iter_fasta_one_hot in a fresh process."""
    code = (  # VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, inherited at fork)
        "import re, sys, time\n"
        "from genotx.featurize.fasta_stream import iter_fasta_one_hot\n"
        "t = time.perf_counter(); n = 0\n"
        "for names, x in iter_fasta_one_hot(sys.argv[1], chunk_bytes=int(sys.argv[2])):\n"
        "    n += len(x)\n"
        "hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "print(n, time.perf_counter() - t, hwm // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path), str(chunk_bytes)], capture_output=True, text=True, check=True)
    n, seconds, rss = done.stdout.split()
    return int(n), float(seconds), int(rss)


def write_fasta(path: Path, raw: bytes, n: int, length: int, *, copies: int = 1) -> None:
    """Single-line records ``>seq<i>``; ``copies`` > 1 repeats the data to make a big file."""
    with open(path, "wb") as handle:
        step = 100_000
        for copy in range(copies):
            for start in range(0, n, step):
                stop = min(start + step, n)
                rows = np.frombuffer(raw, dtype=np.uint8, count=(stop - start) * length, offset=start * length).reshape(-1, length)
                handle.write(b"".join(b">seq%d\n%s\n" % (copy * n + i, rows[i - start].tobytes()) for i in range(start, stop)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="sequences (default 1,000,000)")
    parser.add_argument("--length", type=int, default=200, help="bases per sequence (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per fast method; the best is kept")
    parser.add_argument("--peer-n", type=int, default=200_000, help="records for per-sequence peers, scaled to n (0: all)")
    parser.add_argument("--big-gib", type=float, default=0.0, help="also stream a FASTA of this many GiB (> 2 for the budget check)")
    parser.add_argument("--no-fasta", action="store_true", help="skip the FASTA rows")
    args = parser.parse_args()
    n, length = args.n, args.length
    megabytes = n * length / 1e6
    print(f"# one-hot {n:,} x {length} bp ({megabytes:.0f} MB of bases -> {4 * megabytes:.0f} MB uint8); numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    raw, seqs = make_data(n, length)
    fixed = np.frombuffer(raw, dtype=f"S{length}")  # numpy bytes array: the pre-encoded input
    joined = raw.decode("ascii")  # one str, what tangermeme's batch path takes
    expected = one_hot(seqs[:1000])
    rows: list[tuple[str, str, float, float, str]] = []  # method, input, wall, cpu, note
    skipped: list[str] = []

    def add(method: str, kind: str, fn: Callable[[], object], *, repeats: int = args.repeats, scale: int = 1, note: str = "") -> None:
        wall, cpu = timed(fn, repeats)
        rows.append((method, kind, wall * scale, cpu * scale, note))
        print(f"  {method:<44} {kind:<9} {wall * scale:8.3f} s", flush=True)

    one_hot(seqs[:1000])  # warm up imports and caches
    add("genotx one_hot", "list", lambda: one_hot(seqs))
    add("genotx one_hot", "bytes", lambda: one_hot(fixed))
    buffer = np.empty((n, length, 4), dtype=np.uint8)
    buffer.fill(0)
    add("genotx one_hot(out=buffer)", "list", lambda: one_hot(seqs, out=buffer))
    add("genotx one_hot(out=buffer)", "bytes", lambda: one_hot(fixed, out=buffer))
    add("floor: new uint8 array (np.ones)", "-", lambda: np.ones((n, length, 4), dtype=np.uint8))
    add("floor: write a buffer (fill)", "-", lambda: buffer.fill(1))
    rng = np.random.default_rng(1)  # soft-masked (mixed case) with 1% N: the folded stage
    dirty = np.frombuffer(b"ACGTacgt" * 12 + b"N", np.uint8)[rng.integers(0, 97, n * length, dtype=np.uint8)].tobytes()
    dirty_fixed = np.frombuffer(dirty, dtype=f"S{length}")
    add("genotx one_hot, mixed case + 1% N", "bytes", lambda: one_hot(dirty_fixed))
    rna = np.frombuffer(bytes(raw).replace(b"T", b"U"), dtype=f"S{length}")  # U for a DNA alphabet: byte table
    add("genotx one_hot, RNA letters, DNA alphabet", "bytes", lambda: one_hot(rna))

    def naive(items: list[str]) -> np.ndarray:
        table = np.full(256, 4, dtype=np.uint8)
        table[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)
        eye = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), np.uint8)])
        return eye[table[np.frombuffer("".join(items).encode("ascii"), dtype=np.uint8)]].reshape(len(items), length, 4)

    assert np.array_equal(naive(seqs[:1000]), expected)
    add("numpy baseline eye[lut]", "list", lambda: naive(seqs), repeats=1)

    peer_n = n if args.peer_n <= 0 else min(args.peer_n, n)
    peer_scale = n / peer_n
    peer_note = "" if peer_n == n else f"scaled from {peer_n:,}"
    try:
        from tangermeme.utils import one_hot_encode

        assert np.array_equal(one_hot_encode(seqs[0]).numpy().T, expected[0])
        add("tangermeme one_hot_encode per sequence", "list", lambda: [one_hot_encode(s) for s in seqs[:peer_n]], repeats=1, scale=peer_scale, note=peer_note)
        one_hot_encode(joined[: 1 << 20])  # compile its numba kernels before timing
        batch = one_hot_encode(joined).numpy().T.reshape(n, length, 4)
        assert np.array_equal(batch[:1000], expected)
        del batch
        add("tangermeme one_hot_encode(joined str)", "one str", lambda: one_hot_encode(joined), note="(4, n*L) int8 view")
    except ImportError:
        skipped.append("tangermeme (pip install tangermeme)")
    try:
        import seqpro as sp

        assert np.array_equal(sp.ohe(seqs[:1000], sp.DNA), expected)
        add("seqpro ohe", "list", lambda: sp.ohe(seqs, sp.DNA), repeats=1)
        add("seqpro ohe", "bytes", lambda: sp.ohe(fixed, sp.DNA), repeats=1)
    except ImportError:
        skipped.append("seqpro (pip install seqpro)")
    try:
        one_hot_dna = load_kipoiseq()
        assert np.array_equal(one_hot_dna(seqs[0]).astype(np.uint8), expected[0])
        add("kipoiseq one_hot_dna per sequence", "list", lambda: [one_hot_dna(s) for s in seqs[:peer_n]], repeats=1, scale=peer_scale,
            note=("float32; " + peer_note).strip("; "))
    except ImportError as err:
        skipped.append(f"kipoiseq ({err})")
    if importlib.util.find_spec("grelu") is None:
        skipped.append("gReLU (not installed: its dependencies would replace the pinned torch)")

    fasta_rows = []
    if not args.no_fasta:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "seqs.fa"
            write_fasta(path, raw, n, length)
            size = path.stat().st_size
            names, x = fasta_one_hot(path)
            assert len(names) == n and np.array_equal(x[:1000], expected)
            del x, names
            add("genotx fasta_one_hot (read+parse+encode)", "FASTA", lambda: fasta_one_hot(path))
            add("genotx fasta_one_hot(out=buffer)", "FASTA", lambda: fasta_one_hot(path, out=buffer))
            records, seconds, rss = peak_rss_streaming(path, 8 << 20)
            fasta_rows.append(f"streaming {size / 2**20:.0f} MiB FASTA ({records:,} records, 8 MiB chunks, iter_fasta_one_hot): "
                              f"{seconds:.2f} s, peak RSS {rss} MiB in a fresh process (the full array alone is {4 * megabytes / 1.048576:.0f} MiB)")
            if args.big_gib > 0:
                copies = max(1, int(np.ceil(args.big_gib * 2**30 / size)))
                big = Path(folder) / "big.fa"
                write_fasta(big, raw, n, length, copies=copies)
                records, seconds, rss = peak_rss_streaming(big, 8 << 20)
                fasta_rows.append(f"streaming {big.stat().st_size / 2**30:.2f} GiB FASTA ({records:,} records): {seconds:.1f} s, peak RSS {rss} MiB "
                                  f"({'under' if rss < 2048 else 'OVER'} the 2 GiB budget)")

    reference = {kind: (wall, cpu) for method, kind, wall, cpu, _ in rows if method == "genotx one_hot"}
    reference["one str"] = reference["FASTA"] = reference["bytes"]
    print(f"\n{'method':<44} {'input':<9} {'wall s':>8} {'cpu s':>8} {'MB/s cpu':>9} {'MB/s wall':>9} {'x cpu':>7} {'x wall':>7}  note")
    for method, kind, wall, cpu, note in rows:
        ratio_cpu, ratio_wall = (f"{cpu / reference[kind][1]:.2f}", f"{wall / reference[kind][0]:.2f}") if kind in reference else ("-", "-")
        print(f"{method:<44} {kind:<9} {wall:8.3f} {cpu:8.3f} {megabytes / cpu:9.0f} {megabytes / wall:9.0f} {ratio_cpu:>7} {ratio_wall:>7}  {note}")
    print("\n'x cpu' / 'x wall' = time / genotx one_hot on the same kind of input (list rows vs genotx list; bytes, one str and")
    print("FASTA rows vs genotx bytes): above 1 is slower than genotx. MB/s counts input bases (1 byte each) per second.")
    print("inputs: list = Python list of str; bytes = numpy S-array (zero-copy); one str = all sequences joined into one str.")
    for line in fasta_rows:
        print(line)
    for line in skipped:
        print(f"skipped: {line}")


if __name__ == "__main__":
    main()
