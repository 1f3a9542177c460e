"""Sequence codes, the one place for them: str <-> letter indices <-> one-hot, k-mers, reverse complement."""

from genotx.seq.codes import ALPHABETS, encode_indices, gc_fraction, kmer_counts, one_hot, positional_kmers

__all__ = ["ALPHABETS", "encode_indices", "gc_fraction", "kmer_counts", "one_hot", "positional_kmers"]
