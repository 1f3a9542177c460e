"""genotx.seq.codes and fasta_stream: exact arrays, errors, out= buffers, streaming."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from genotx.errors import InputError
from genotx.featurize import fasta_stream as fs
from genotx.seq.codes import (
    ALPHABETS,
    encode_indices,
    gc_fraction,
    kmer_counts,
    one_hot,
    positional_kmers,
)

ACGTA = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]


def _naive_one_hot(seqs, alphabet="ACGT"):
    """Reference: a per-character loop, obviously right."""
    nucleic = alphabet in (ALPHABETS["dna"], ALPHABETS["rna"])
    out = np.zeros((len(seqs), len(seqs[0]) if seqs else 0, len(alphabet)), dtype=np.uint8)
    for i, seq in enumerate(seqs):
        for j, char in enumerate(seq.upper()):
            if nucleic and char in "TU":
                char = alphabet[3]
            if char in alphabet:
                out[i, j, alphabet.index(char)] = 1
    return out


# -- one_hot: exact arrays ------------------------------------------------------------------------


def test_one_hot_acgta():
    assert one_hot(["ACGTA"]).tolist() == [ACGTA]
    assert one_hot(["ACGTA"]).dtype == np.uint8


def test_one_hot_n_is_all_zero_column():
    x = one_hot(["ACGNNTA"])[0]
    assert x.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]


def test_one_hot_lower_case_and_u_equals_t():
    assert one_hot(["acgta"]).tolist() == [ACGTA]
    assert one_hot(["ACGUA"]).tolist() == [ACGTA]
    assert one_hot(["ACGTA"], alphabet="ACGU").tolist() == [ACGTA]
    assert one_hot(["acgua", "ACGTA"], alphabet=ALPHABETS["rna"]).tolist() == [ACGTA, ACGTA]


def test_one_hot_protein_alphabet_and_x():
    protein = ALPHABETS["protein"]
    x = one_hot(["MKX", "wyA"], alphabet=protein)
    assert x.shape == (2, 3, 20)
    assert x[0, 0].argmax() == protein.index("M") and x[0, 1].argmax() == protein.index("K")
    assert x[0, 2].sum() == 0  # X is blank
    assert x[1].argmax(axis=1).tolist() == [protein.index("W"), protein.index("Y"), 0]
    with pytest.raises(InputError, match=r"record 0: character 'B' at position 2"):
        one_hot(["AB"], alphabet=protein)
    with pytest.raises(InputError, match="character 'U' at position 2"):
        one_hot(["AU"], alphabet=protein)


@pytest.mark.parametrize("letters", ["ACGT", "acgt", "ACGTacgtNn", "ACGTN", "ACGTNacgtnUu"])
def test_one_hot_matches_naive_on_random_input(letters):
    """Every kernel stage (raw, folded + N count, byte table) over several 64 Ki-base blocks."""
    rng = np.random.default_rng(0)
    chars = np.array(list(letters))
    seqs = ["".join(row) for row in chars[rng.integers(0, len(chars), (300, 517))]]
    seqs[150] = "ACGT" * 129 + "A"  # a clean block between dirty ones
    assert np.array_equal(one_hot(seqs), _naive_one_hot(seqs))
    assert np.array_equal(one_hot(np.array(seqs).astype("S"), dtype=np.float32), _naive_one_hot(seqs))


def test_one_hot_protein_matches_naive():
    rng = np.random.default_rng(1)
    protein = ALPHABETS["protein"]
    pletters = np.array(list(protein + protein.lower() + "X"))
    pseqs = ["".join(row) for row in pletters[rng.integers(0, len(pletters), (50, 333))]]
    assert np.array_equal(one_hot(pseqs, alphabet=protein), _naive_one_hot(pseqs, protein))


@pytest.mark.parametrize("kind", ["list", "tuple", "series", "U", "S", "object", "bytes"])
def test_one_hot_input_kinds(kind):
    seqs = ["ACGTA", "acgnt"]
    data = {
        "list": seqs,
        "tuple": tuple(seqs),
        "series": pd.Series(seqs),
        "U": np.array(seqs),
        "S": np.array([s.encode() for s in seqs]),
        "object": np.array(seqs, dtype=object),
        "bytes": [s.encode() for s in seqs],
    }[kind]
    assert np.array_equal(one_hot(data), _naive_one_hot(seqs))


def test_one_hot_empty_and_dtypes():
    assert one_hot([]).shape == (0, 0, 4)
    x = one_hot(["ACGN"], dtype=np.float32)
    assert x.dtype == np.float32 and x.tolist() == _naive_one_hot(["ACGN"]).astype(np.float32).tolist()
    assert one_hot(["ACGN"], dtype=bool).dtype == bool


# -- errors ---------------------------------------------------------------------------------------


def test_unknown_character_names_record_and_position():
    with pytest.raises(InputError, match=r"guides: record 2: character 'Z' at position 4 is not in alphabet ACGT"):
        one_hot(["ACGT", "ACGT", "ACGZ"], name="guides")
    with pytest.raises(InputError, match=r"record 1: character '-' at position 1"):
        encode_indices(["ACGT", "-CGT"])
    with pytest.raises(InputError, match=r"record 0: character ' ' at position 3"):
        gc_fraction(["AC GT"])
    with pytest.raises(InputError, match=r"record 1: character 'E' at position 2"):
        kmer_counts(["ACGT", "AEG"], k=2)


@pytest.mark.parametrize("background", ["ACGT", "acgN"])
def test_bad_character_far_into_a_big_input_is_located(background):
    seqs = [background * 50] * 3000
    seqs[2345] = seqs[2345][:177] + "*" + seqs[2345][178:]
    with pytest.raises(InputError, match=r"record 2345: character '\*' at position 178"):
        one_hot(seqs)
    with pytest.raises(InputError, match=r"record 2345: character '\*' at position 178"):
        one_hot(np.array(seqs).astype("S"))


def test_other_input_errors():
    with pytest.raises(InputError, match="record 1 has length 3, record 0 has 4"):
        one_hot(["ACGT", "ACG"])
    with pytest.raises(InputError, match="one string"):
        one_hot("ACGT")
    with pytest.raises(InputError, match="non-ASCII character 'é' at position 2"):
        one_hot(["ACGT", "AéGT"])
    with pytest.raises(InputError, match="record 1 is int"):
        one_hot(["ACGT", 5])
    with pytest.raises(InputError, match="dtype"):
        one_hot(np.zeros((2, 3)))
    with pytest.raises(InputError, match="alphabet"):
        one_hot(["AC"], alphabet="AAC")
    with pytest.raises(InputError, match="alphabet"):
        one_hot(["AC"], alphabet="AC T")


def test_alphabet_with_symbols():
    x = one_hot(["AC-G", "ac-x"], alphabet="AC-G")
    assert x[0].argmax(axis=1).tolist() == [0, 1, 2, 3] and x[1, 3].sum() == 0  # x: blank
    with pytest.raises(InputError, match="character '`' at position 2"):
        one_hot(["@`"], alphabet="@ACG")  # '`' folds onto '@' but is not in the alphabet
    assert isinstance(InputError("x", "y"), ValueError)


# -- out= buffers ---------------------------------------------------------------------------------


def test_out_buffer_is_written_and_returned():
    seqs = ["ACGTA", "NNNNN", "acgta"]
    out = np.full((3, 5, 4), 7, dtype=np.uint8)
    result = one_hot(seqs, out=out)
    assert result is out
    assert np.array_equal(out, _naive_one_hot(seqs))  # every byte rewritten, stale 7s gone
    again = one_hot(["TTTTT"] * 3, out=out)  # reuse
    assert again is out and out[:, :, 3].all() and out[:, :, :3].sum() == 0


def test_out_buffer_float_and_checks():
    out = np.full((1, 4, 4), -1.0, dtype=np.float32)
    assert one_hot(["ACGN"], out=out)[0].tolist() == _naive_one_hot(["ACGN"])[0].astype(np.float32).tolist()
    with pytest.raises(InputError, match="shape"):
        one_hot(["ACGT"], out=np.empty((1, 4, 5), np.uint8))
    with pytest.raises(InputError, match="C-contiguous"):
        one_hot(["ACGT"], out=np.empty((1, 4, 8), np.uint8)[:, :, ::2])


# -- k-mers and GC --------------------------------------------------------------------------------


def _naive_kmers(seq, k, alphabet="ACGT"):
    counts = np.zeros(len(alphabet) ** k)
    seq = seq.upper().replace("U", "T")
    for t in range(len(seq) - k + 1):
        word = seq[t : t + k]
        if all(c in alphabet for c in word):
            counts[sum(alphabet.index(c) * len(alphabet) ** (k - 1 - j) for j, c in enumerate(word))] += 1
    return counts


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_kmer_counts_variable_length_match_naive(k):
    rng = np.random.default_rng(k)
    letters = np.array(list("ACGTNacgu"))
    seqs = ["".join(letters[rng.integers(0, len(letters), rng.integers(0, 40))]) for _ in range(200)]
    got = kmer_counts(seqs, k=k, normalize=False)
    assert np.array_equal(got, np.array([_naive_kmers(s, k) for s in seqs], dtype=np.float32))
    freq = kmer_counts(seqs, k=k)
    nonzero = got.sum(axis=1) > 0
    assert np.allclose(freq[nonzero].sum(axis=1), 1) and (freq[~nonzero] == 0).all()


def test_kmer_counts_equal_length_and_positional():
    seqs = ["ACGTAC", "NNACGT", "TTTTTT"]
    assert np.array_equal(kmer_counts(seqs, k=2, normalize=False), np.array([_naive_kmers(s, 2) for s in seqs], dtype=np.float32))
    pos = positional_kmers(seqs, k=2).reshape(3, 5, 16)
    assert pos.sum(axis=(1, 2)).tolist() == [5, 3, 5]
    assert pos[1, :, :].sum(axis=1).tolist() == [0, 0, 1, 1, 1]  # windows with N are zeros
    assert np.array_equal(pos.sum(axis=1), kmer_counts(seqs, k=2, normalize=False))


def test_gc_fraction_any_length():
    assert gc_fraction(["GGCA", "ATNN", "", "gcnt"]).tolist() == pytest.approx([0.75, 0.0, 0.0, 2 / 3])
    assert encode_indices(["ACGTUN", "acgtun"]).tolist() == [[0, 1, 2, 3, 3, 4]] * 2


# -- FASTA streaming ------------------------------------------------------------------------------


def _write_fasta(path, records, *, width=None, newline="\n", description=True):
    lines = []
    for name, seq in records:
        lines.append(f">{name}" + (f" some description {name}" if description else ""))
        if width:
            lines.extend(seq[i : i + width] for i in range(0, len(seq), width))
        else:
            lines.append(seq)
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def _records(n, length, seed=0, letters="ACGTNacgt"):
    rng = np.random.default_rng(seed)
    chars = np.array(list(letters))
    return [(f"seq{i}", "".join(chars[rng.integers(0, len(chars), length)])) for i in range(n)]


@pytest.mark.parametrize("width", [None, 7, 60])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_fasta_one_hot_equals_in_memory(tmp_path, width, newline):
    records = _records(300, 101)
    path = _write_fasta(tmp_path / "x.fa", records, width=width, newline=newline)
    names, x = fs.fasta_one_hot(path)
    assert names == [name for name, _ in records]
    assert np.array_equal(x, one_hot([seq for _, seq in records]))


@pytest.mark.parametrize("chunk_bytes", [1, 5, 64, 333, 4096])
def test_fasta_records_spanning_chunks(tmp_path, chunk_bytes):
    records = _records(57, 150, seed=1)
    path = _write_fasta(tmp_path / "x.fa", records, width=41)
    expected = one_hot([seq for _, seq in records])
    names, x = fs.fasta_one_hot(path, chunk_bytes=chunk_bytes)
    assert names == [name for name, _ in records] and np.array_equal(x, expected)
    batches = list(fs.iter_fasta_one_hot(path, chunk_bytes=chunk_bytes))
    assert np.array_equal(np.concatenate([b for _, b in batches]), expected)
    assert sum(len(n) for n, _ in batches) == 57
    firsts = [b.first for b in fs.iter_fasta(path, chunk_bytes=chunk_bytes)]
    assert firsts == sorted(firsts) and firsts[0] == 0


def test_fasta_out_buffer_gz_blank_lines_and_no_final_newline(tmp_path):
    text = "\n>a desc\nACGT\n\n>b\nNNCG\n>c\ntTuU"
    path = tmp_path / "x.fa.gz"
    path.write_bytes(gzip.compress(text.encode()))
    out = np.zeros((3, 4, 4), dtype=np.uint8)
    names, x = fs.fasta_one_hot(path, out=out)
    assert x is out and names == ["a", "b", "c"]
    assert np.array_equal(x, one_hot(["ACGT", "NNCG", "TTTT"]))


def test_fasta_errors_name_record_line_and_position(tmp_path):
    path = _write_fasta(tmp_path / "x.fa", [("s0", "ACGT" * 5), ("s1", "ACGTACGTACGTACGTACGZ")], width=8, description=False)
    with pytest.raises(InputError, match=r"x.fa, line 8: record 1 \('s1'\): character 'Z' at position 20"):
        fs.fasta_one_hot(path)
    with pytest.raises(InputError, match=r"line 8: record 1 \('s1'\): character 'Z' at position 20"):
        fs.fasta_kmer_counts(path, k=2)
    ragged = _write_fasta(tmp_path / "r.fa", [("s0", "ACGT"), ("s1", "ACG")])
    with pytest.raises(InputError, match=r"line 3: record 1 \('s1'\) has length 3, record 0 has 4"):
        fs.fasta_one_hot(ragged)
    (tmp_path / "bad.fa").write_text("ACGT\n>s\nACGT\n")
    with pytest.raises(InputError, match="line 1: sequence data before the first '>' header"):
        fs.fasta_one_hot(tmp_path / "bad.fa")
    with pytest.raises(InputError, match="no such file"):
        fs.fasta_one_hot(tmp_path / "missing.fa")


def test_fasta_kmer_counts_ragged_and_protein(tmp_path):
    records = [("a", "ACGTTGCA"), ("b", ""), ("c", "NNACG"), ("d", "A" * 100)]
    path = _write_fasta(tmp_path / "x.fa", records, width=6)
    names, counts = fs.fasta_kmer_counts(path, k=3, normalize=False, chunk_bytes=16)
    assert names == ["a", "b", "c", "d"]
    assert np.array_equal(counts, kmer_counts([s for _, s in records], k=3, normalize=False))
    protein = ALPHABETS["protein"]
    prot = _write_fasta(tmp_path / "p.fa", [("p1", "MKWVXA"), ("p2", "acdefg")])
    names, x = fs.fasta_one_hot(prot, alphabet=protein)
    assert np.array_equal(x, one_hot(["MKWVXA", "acdefg"], alphabet=protein))
    assert fs.count_fasta_records(prot) == 2


def test_csv_streaming(tmp_path):
    seqs = ["ACGT", "NNAA", "ttgc", "ACGU", "GGGG"]
    path = tmp_path / "x.csv"
    pd.DataFrame({"id": range(5), "sequence": seqs}).to_csv(path, index=False)
    parts = list(fs.iter_csv_one_hot(path, chunk_rows=2))
    assert [first for first, _ in parts] == [0, 2, 4]
    assert np.array_equal(np.concatenate([x for _, x in parts]), one_hot(seqs))
    pd.DataFrame({"sequence": ["ACGT", "ACGT", "ACXT"]}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"x.csv, line 4: row 2: character 'X' at position 3"):
        list(fs.iter_csv_one_hot(path, chunk_rows=2))
    with pytest.raises(InputError, match="no column 'seq'"):
        list(fs.iter_csv_one_hot(path, column="seq"))


def test_fasta_streaming_memory_is_bounded(tmp_path):
    """A file much larger than the chunk streams with peak memory near the chunk, not the file."""
    import subprocess
    import sys

    records = _records(20_000, 500, seed=3, letters="ACGT")
    path = _write_fasta(tmp_path / "big.fa", records)  # ~10 MB
    code = (  # VmHWM is this process's own peak RSS (ru_maxrss can include the parent's, inherited at fork)
        "import re, sys; from genotx.featurize import fasta_stream as fs\n"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "base = hwm()\n"
        "n = sum(len(x) for _, x in fs.iter_fasta_one_hot(sys.argv[1], chunk_bytes=1 << 20))\n"
        "print(n, hwm() - base)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    n, grown_kib = map(int, done.stdout.split())
    assert n == 20_000
    assert grown_kib < 40 * 1024, grown_kib  # the full one-hot would be 40 MB; a batch is ~4 MB
