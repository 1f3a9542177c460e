"""Featurizers: raw inputs (sequences, molecules, tables) -> arrays."""

from genotx.featurize.molecule import morgan_fingerprints
from genotx.seq.codes import ALPHABETS, encode_indices, gc_fraction, kmer_counts, one_hot, positional_kmers

__all__ = ["ALPHABETS", "encode_indices", "gc_fraction", "kmer_counts", "one_hot", "positional_kmers", "morgan_fingerprints"]
