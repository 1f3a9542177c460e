"""Genotype-aware precision, recall and F1 of a call set against a truth set, per variant kind.

A call matches a true variant when sample, position, REF, ALT and genotype all agree (hap.py's
genotype match). The numbers come from the metric registry's exact-match span metrics
(``span_precision``, ``span_recall``, ``span_f1``: micro-averaged over documents): each sample is a
document and each variant a labelled span of the reference, ``(pos, end, ref, alt, genotype)``.
These are not row metrics: a true variant that never became a candidate is a false negative, and a
caller such as bcftools may call outside the candidates, so they take two call tables, not rows.

Examples
--------
>>> truth = pd.DataFrame({"pos": [1, 5, 9], "ref": ["A", "C", "GT"], "alt": ["G", "T", "G"], "genotype": [1, 2, 1]})
>>> calls = truth.assign(genotype=[1, 1, 1])
>>> s = variant_scores(calls, truth)
>>> round(s["precision"], 3), round(s["snv_recall"], 3), s["indel_f1"], s["tp"]
(0.667, 0.5, 1.0, 2.0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genotx.evaluate.metrics import evaluate

__all__ = ["KINDS", "variant_scores"]

#: metric-name prefix -> variant kind it is restricted to (None = every variant)
KINDS = {"": None, "snv_": "snv", "indel_": "indel"}


def _documents(frame: pd.DataFrame, samples: list[str]) -> list[set[tuple]]:
    """One set of ``(pos, end, ref, alt, genotype)`` per sample (the registry's span documents)."""
    docs: dict[str, set[tuple]] = {s: set() for s in samples}
    for sample, pos, ref, alt, genotype in zip(frame["sample"], frame["pos"], frame["ref"], frame["alt"], frame["genotype"]):
        docs[sample].add((int(pos), int(pos) + len(ref), ref, alt, int(genotype)))
    return [docs[s] for s in samples]


def variant_scores(calls: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """``precision``, ``recall``, ``f1`` and the counts ``n_truth``, ``n_calls``, ``tp``, overall and
    with prefix ``snv_`` / ``indel_``. Both tables need ``pos ref alt genotype`` and may have
    ``sample`` (matching is within a sample)."""
    frames = []
    for frame in (calls, truth):
        frame = frame.assign(sample="") if "sample" not in frame else frame
        frames.append(frame.assign(group=np.where(frame["ref"].str.len() == frame["alt"].str.len(), "snv", "indel")))
    calls, truth = frames
    samples = sorted(set(calls["sample"]) | set(truth["sample"]))
    out: dict[str, float] = {}
    for prefix, kind in KINDS.items():
        c = calls if kind is None else calls[calls["group"] == kind]
        t = truth if kind is None else truth[truth["group"] == kind]
        gold, said = _documents(t, samples), _documents(c, samples)
        scores = evaluate(["span_precision", "span_recall", "span_f1"], gold, said)
        out.update({f"{prefix}{part}": scores[f"span_{part}"] for part in ("f1", "precision", "recall")})
        out.update({f"{prefix}n_truth": float(sum(map(len, gold))), f"{prefix}n_calls": float(sum(map(len, said))),
                    f"{prefix}tp": float(sum(len(g & s) for g, s in zip(gold, said)))})
    return out
