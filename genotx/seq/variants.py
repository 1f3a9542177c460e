"""Variant normalisation on a reference sequence (VCF-style, as ``bcftools norm``)."""

from __future__ import annotations

__all__ = ["normalize_variant"]


def normalize_variant(pos: int, ref: str, alt: str, genome: str) -> tuple[int, str, str]:
    """Left-align and trim a VCF-style variant (0-based ``pos``), as ``bcftools norm`` does.

    Examples
    --------
    >>> normalize_variant(4, "AA", "A", "CGAAAAT")  # deleting one A of the run -> leftmost
    (1, 'GA', 'G')
    """
    changed = True
    while changed:
        changed = False
        if ref and alt and ref[-1] == alt[-1] and (len(ref) > 1 or len(alt) > 1):
            ref, alt, changed = ref[:-1], alt[:-1], True
        if (not ref or not alt) and pos > 0:
            pos -= 1
            ref, alt, changed = genome[pos] + ref, genome[pos] + alt, True
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt
