"""Interpretation of sequence models: attribution, motif extraction and motif comparison.

Works on any model that scores one-hot sequences, so every sequence task can use it.

Inputs
------
* ``model``: a ``torch.nn.Module`` taking ``float32 (n, length, alphabet)`` one-hot (channels last, as
  :func:`genotx.seq.codes.one_hot` encodes), a fitted :class:`~genotx.models.nets.TorchRegressor`
  / :class:`~genotx.models.nets.TorchClassifier`, a scikit-learn ``Pipeline`` ending in one of those or
  in any estimator whose earlier steps only one-hot encode (it then receives the flattened one-hot),
  or a plain callable ``(n, length, alphabet) array -> (n,) scores``.
* ``onehot``: ``(n, length, alphabet)`` array (uint8 or float).

The score attributed is the regression output in target units, or the log-odds of the second class
(``classes_[1]``) for a binary classifier.

Outputs
-------
* :func:`saturation_mutagenesis` -> ``float32 (n, length, alphabet)``: score change when each position
  is set to each base (0 at the observed base). Vectorised: all ``length * alphabet`` mutants of a
  batch of sequences are scored in one call.
* :func:`attribute` -> ``float32 (n, length, alphabet)`` *contributions*: how much base ``b`` at
  position ``p`` adds to the score relative to the average base, in the context of sequence ``i``.
  ``method="ism"`` is exact; ``"gradient"`` is its first-order estimate from one backward pass;
  ``"integrated_gradients"`` (Captum) averages gradients along a path from a uniform baseline.
* :func:`effect_matrix` -> ``(length, alphabet)``: contributions averaged over sequences and centred per
  position (a PWM-like map: higher = raises the score). :func:`position_importance` -> ``(length,)``.
* :func:`find_sites` -> important windows; :func:`seqlet_matrix` -> a de-novo count matrix from the
  best window of each sequence (for unaligned sequences such as ChIP-seq peaks).
* :func:`compare_motifs` -> best Pearson r between two matrices over offsets and both strands.
* :func:`motifs_from_model` does it all and returns a JSON-ready :class:`MotifReport`.
* Any fitted model of a sequence task: :func:`sequence_scorer` scores one-hot through the model's own
  ``predict`` on decoded strings; :func:`torch_view` gives a differentiable module equal to it (checked
  on a probe) when the model is a torch network on the one-hot; :func:`randomisation_cascade` gives
  its layer-wise randomised copies (a sanity check of attributions).
* :func:`find_seqlets` -> windows of high |contribution| per sequence; :func:`cluster_seqlets` ->
  :class:`SeqletMotif` (aligned seqlets: a contribution-weighted matrix and letter counts).

Positions are 0-based and ``stop`` is exclusive, as in Python slices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from genotx.errors import InputError, require_extra
from genotx.seq.codes import ALPHABETS, one_hot

__all__ = [
    "onehot_scorer",
    "saturation_mutagenesis",
    "integrated_gradients",
    "input_gradients",
    "attribute",
    "effect_matrix",
    "position_importance",
    "find_sites",
    "otsu_threshold",
    "seqlet_matrix",
    "counts_to_logodds",
    "reverse_complement_matrix",
    "compare_motifs",
    "Site",
    "MotifMatch",
    "MotifReport",
    "motifs_from_model",
    "onehot_strings",
    "sequence_scorer",
    "torch_view",
    "randomisation_cascade",
    "Seqlet",
    "find_seqlets",
    "SeqletMotif",
    "cluster_seqlets",
]

Scorer = Callable[[np.ndarray], np.ndarray]
_CHUNK = 4096  # rows per forward pass


# ----------------------------------------------------------------------------------------------
# scoring one-hot arrays with any model


@contextlib.contextmanager
def _eval_mode(network) -> Iterator[None]:
    """Put a torch module in eval mode and restore its previous mode afterwards."""
    was_training = network.training
    network.eval()
    try:
        yield
    finally:
        network.train(was_training)


def _torch_scorer(network, *, scale: float = 1.0, offset: float = 0.0, classifier: bool = False, target: int | None = None) -> Scorer:
    import torch

    def score(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        outs = []
        with _eval_mode(network), torch.no_grad():
            for i in range(0, len(x), _CHUNK):
                outs.append(network(torch.as_tensor(x[i : i + _CHUNK])).numpy())
        out = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
        return _select(out, classifier=classifier, target=target) * scale + offset

    score.network = network  # type: ignore[attr-defined]  # lets gradient methods reach the module
    score.output = lambda out: _select_torch(out, classifier=classifier, target=target) * scale  # type: ignore[attr-defined]
    return score


def _select(out: np.ndarray, *, classifier: bool, target: int | None) -> np.ndarray:
    if out.ndim == 1:
        return out
    if out.shape[1] == 1:
        return out[:, 0]
    if target is not None:
        return out[:, target] - (out.mean(axis=1) if classifier else 0.0)
    if out.shape[1] == 2:
        return out[:, 1] - out[:, 0]  # log-odds of the second class
    raise InputError("model", f"has {out.shape[1]} outputs", fix="pass target=<output index> to say which to attribute")


def _select_torch(out, *, classifier: bool, target: int | None):
    if out.ndim == 1:
        return out
    if out.shape[1] == 1:
        return out[:, 0]
    if target is not None:
        return out[:, target] - (out.mean(dim=1) if classifier else 0.0)
    return out[:, 1] - out[:, 0]


def onehot_scorer(model, *, target: int | None = None) -> Scorer:
    """A function ``(n, length, alphabet) one-hot -> (n,) scores`` for ``model`` (see module doc).

    Examples
    --------
    >>> score = onehot_scorer(lambda x: x[:, 0, 0] * 2.0)
    >>> score(np.ones((3, 5, 4))).tolist()
    [2.0, 2.0, 2.0]
    """
    from sklearn.pipeline import Pipeline

    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency
        nn = None
    if isinstance(model, Pipeline):
        model = model.steps[-1][1]
    if nn is not None and isinstance(model, nn.Module):
        return _torch_scorer(model, target=target)
    if hasattr(model, "network_"):  # a fitted genotx torch estimator
        if hasattr(model, "classes_"):
            return _torch_scorer(model.network_, classifier=True, target=target)
        return _torch_scorer(model.network_, scale=float(getattr(model, "y_std_", 1.0)), offset=float(getattr(model, "y_mean_", 0.0)))
    if hasattr(model, "predict_proba") or hasattr(model, "predict"):
        def score(x: np.ndarray) -> np.ndarray:
            flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
            expected = getattr(model, "n_features_in_", flat.shape[1])
            if expected != flat.shape[1]:
                raise InputError(
                    "model", f"{type(model).__name__} expects {expected} features but the flattened one-hot has {flat.shape[1]}",
                    fix="attribute a model that reads the one-hot sequence, or pass a callable scorer (one-hot -> scores)",
                )
            if hasattr(model, "predict_proba"):
                p = np.clip(model.predict_proba(flat), 1e-7, 1 - 1e-7)
                k = 1 if target is None else target
                return np.log(p[:, k]) - np.log1p(-p[:, k])
            return np.asarray(model.predict(flat), dtype=np.float64)

        return score
    if callable(model):
        return lambda x: np.asarray(model(np.asarray(x, dtype=np.float32)), dtype=np.float64)
    raise InputError("model", f"cannot score one-hot sequences with a {type(model).__name__}", fix="pass a torch module, a fitted genotx torch estimator, a Pipeline or a callable")


# ----------------------------------------------------------------------------------------------
# attribution


def _check_onehot(onehot) -> np.ndarray:
    x = np.asarray(onehot)
    if x.ndim != 3:
        raise InputError("onehot", f"has shape {x.shape}", fix="pass a (n, length, alphabet) one-hot array (genotx.seq.codes.one_hot)")
    return x.astype(np.float32, copy=False)


def saturation_mutagenesis(model, onehot, *, batch_size: int | None = None, target: int | None = None) -> np.ndarray:
    """In-silico saturation mutagenesis: ``effects[i, p, b] = score(x_i with base b at p) - score(x_i)``.

    ``batch_size`` sequences are mutated at once (default: about 2e7 one-hot cells per batch).

    Examples
    --------
    >>> x = one_hot(["ACGT"])
    >>> e = saturation_mutagenesis(lambda x: x[:, 1, 2] * 3.0, x)  # score = 3 if G at position 1
    >>> e[0, 1].tolist(), float(abs(e[0, 0]).sum())
    ([0.0, 0.0, 3.0, 0.0], 0.0)
    """
    x = _check_onehot(onehot)
    score = onehot_scorer(model, target=target)
    n, length, alphabet = x.shape
    n_mut = length * alphabet
    if batch_size is None:
        batch_size = max(1, int(2e7 // (n_mut * length * alphabet)))
    positions = np.repeat(np.arange(length), alphabet)
    bases = np.tile(np.arange(alphabet), length)
    rows = np.arange(n_mut)
    effects = np.empty((n, length, alphabet), dtype=np.float32)
    for start in range(0, n, batch_size):
        batch = x[start : start + batch_size]
        m = len(batch)
        mutants = np.repeat(batch[:, None], n_mut, axis=1)  # (m, L*A, L, A)
        mutants[:, rows, positions, :] = 0.0
        mutants[:, rows, positions, bases] = 1.0
        ref = score(batch)
        mut = score(mutants.reshape(m * n_mut, length, alphabet)).reshape(m, length, alphabet)
        effects[start : start + m] = mut - ref[:, None, None]
    effects[x == 1] = 0.0  # the observed base: no change by definition (removes float noise)
    return effects


def integrated_gradients(model, onehot, *, n_steps: int = 32, baseline: float = 0.25, target: int | None = None) -> np.ndarray:
    """Integrated gradients (Captum) from a uniform ``baseline`` one-hot to each sequence.

    Needs ``pip install captum==0.9.0`` and a torch model. Returns ``(n, length, alphabet)``
    attributions; their sum over bases at a position is that position's contribution.
    """
    require_extra("captum", "interpret")  # or use method='ism'
    from captum.attr import IntegratedGradients
    import torch

    score = onehot_scorer(model, target=target)
    network = getattr(score, "network", None)
    if network is None:
        raise InputError("model", "integrated gradients need a torch model", fix="use method='ism' for other models")
    x = _check_onehot(onehot)
    forward = lambda t: score.output(network(t))  # noqa: E731
    ig = IntegratedGradients(forward)
    out = []
    with _eval_mode(network):
        for start in range(0, len(x), 256):
            inputs = torch.as_tensor(x[start : start + 256])
            base = torch.full_like(inputs, baseline)
            out.append(ig.attribute(inputs, baselines=base, n_steps=n_steps, internal_batch_size=2048).detach().numpy())
    return np.concatenate(out).astype(np.float32)


def input_gradients(model, onehot, *, target: int | None = None, batch_size: int = 512) -> np.ndarray:
    """Gradient of the score with respect to the one-hot input, ``(n, length, alphabet)`` (Captum's
    ``Saliency`` with ``abs=False``: the signed gradient).

    Centred per position (as :func:`attribute` does with ``method="saliency"``) it is the first-order
    (Taylor) estimate of the saturation-mutagenesis effects, at the cost of one backward pass.
    """
    require_extra("captum", "interpret")
    from captum.attr import Saliency
    import torch

    score = onehot_scorer(model, target=target)
    network = getattr(score, "network", None)
    if network is None:
        raise InputError("model", "gradients need a torch model", fix="use method='ism' for other models")
    x = _check_onehot(onehot)
    saliency = Saliency(lambda t: score.output(network(t)))
    out = []
    with _eval_mode(network):
        for start in range(0, len(x), batch_size):
            inputs = torch.as_tensor(x[start : start + batch_size]).clone().requires_grad_(True)
            out.append(saliency.attribute(inputs, abs=False).detach().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros(x.shape, np.float32)


def attribute(model, onehot, *, method: str = "ism", target: int | None = None, **options) -> np.ndarray:
    """Per-sequence contributions ``(n, length, alphabet)``: what base ``b`` at ``p`` adds relative
    to the average base. ``method``: ``"ism"`` (exact; ``length * alphabet`` forward passes per
    sequence), ``"gradient"`` (first-order estimate of ISM from one backward pass) or
    ``"integrated_gradients"`` (Captum, from a uniform baseline: the path-averaged gradient, centred;
    its value at the observed base is IG's attribution of that position, so they sum to
    ``score(x) - score(baseline)``).

    Examples
    --------
    >>> c = attribute(lambda x: x[:, 0, 0] * 4.0, one_hot(["AC"]))
    >>> c[0, 0].tolist()
    [3.0, -1.0, -1.0, -1.0]
    """
    x = _check_onehot(onehot)
    if method == "ism":
        effects = saturation_mutagenesis(model, x, target=target, **options)
        return effects - effects.mean(axis=2, keepdims=True)
    if method in ("gradient", "saliency"):
        grads = input_gradients(model, x, target=target, **options)
        return grads - grads.mean(axis=2, keepdims=True)
    if method == "integrated_gradients":
        baseline = float(options.get("baseline", 0.25))
        attributions = integrated_gradients(model, x, target=target, **options)
        path_gradient = attributions / (x - baseline)  # IG = mean path gradient x (input - baseline)
        # centred per position: the observed base's value is IG's attribution of that position
        return path_gradient - path_gradient.mean(axis=2, keepdims=True)
    raise InputError("method", f"{method!r} is not an attribution method", fix="use 'ism', 'saliency' or 'integrated_gradients'")


def effect_matrix(contributions: np.ndarray) -> np.ndarray:
    """Mean contribution per (position, base) over sequences, centred per position ``(L, A)``.

    Examples
    --------
    >>> effect_matrix(np.array([[[3.0, -1, -1, -1]], [[1.0, 1, -1, -1]]])).tolist()
    [[2.0, 0.0, -1.0, -1.0]]
    """
    with np.errstate(invalid="ignore"), _quiet_nan():
        mean = np.nanmean(contributions, axis=0)
    mean = np.nan_to_num(mean - np.nanmean(mean, axis=1, keepdims=True), nan=0.0)
    return mean - mean.mean(axis=1, keepdims=True)


@contextlib.contextmanager
def _quiet_nan() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        yield


def observed(contributions: np.ndarray, onehot) -> np.ndarray:
    """Contribution of the observed base at each position ``(n, L)`` (0 at N)."""
    x = _check_onehot(onehot)
    return np.nan_to_num((np.nan_to_num(contributions) * x).sum(axis=2))


def position_importance(contributions: np.ndarray, onehot) -> np.ndarray:
    """Mean absolute contribution of the observed base, per position ``(L,)``.

    Examples
    --------
    >>> position_importance(np.array([[[3.0, -1, -1, -1], [0, 0, 0, 0]]]), one_hot(["AC"])).tolist()
    [3.0, 0.0]
    """
    return np.abs(observed(contributions, onehot)).mean(axis=0)


# ----------------------------------------------------------------------------------------------
# sites and motifs


@dataclass(frozen=True)
class Site:
    """An important window ``[start, stop)`` with its mean importance and the model's preferred bases."""

    start: int
    stop: int
    score: float
    preferred: str = ""


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance of ``values``.

    Examples
    --------
    >>> otsu_threshold(np.array([0.1, 0.2, 0.15, 0.9, 1.0]))
    0.55
    """
    s = np.sort(np.asarray(values, dtype=float))
    if len(s) < 2 or s[0] == s[-1]:
        return float(s[-1]) if len(s) else 0.0
    n = len(s)
    left = np.arange(1, n)
    csum = np.cumsum(s)[:-1]
    between = left * (n - left) * (csum / left - (s.sum() - csum) / (n - left)) ** 2
    i = int(np.argmax(between)) + 1
    return float((s[i - 1] + s[i]) / 2)


def find_sites(importance: np.ndarray, *, threshold: float | None = None, max_gap: int = 3, min_width: int = 4, alphabet_matrix: np.ndarray | None = None, alphabet: str = "ACGT") -> list[Site]:
    """Windows where ``importance`` exceeds ``threshold`` (gaps up to ``max_gap`` bridged, windows
    narrower than ``min_width`` dropped), best mean importance first.

    The default threshold is Otsu's (:func:`otsu_threshold`) on the log of the profile: it splits
    positions into a background and a site class without assuming how many positions are sites, and
    the log scale keeps a weak site from being lumped with the background because a strong site
    exists. ``alphabet_matrix``
    (an effect matrix) fills each site's ``preferred`` bases.

    Examples
    --------
    >>> imp = np.r_[np.zeros(10), np.ones(5), np.zeros(3), [0.9] * 4, np.zeros(10)] + 0.01
    >>> [(s.start, s.stop) for s in find_sites(imp, max_gap=1)]
    [(10, 15), (18, 22)]
    """
    imp = np.asarray(importance, dtype=float)
    if threshold is None:
        if not (imp > 0).any():
            return []
        eps = 1e-3 * imp.max()  # Otsu on the log scale: sites of different strength, one background
        threshold = float(np.exp(otsu_threshold(np.log(np.maximum(imp, 0) + eps)))) - eps
    idx = np.flatnonzero(imp > threshold)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    stops = np.r_[idx[breaks], idx[-1]] + 1
    sites = []
    for start, stop in zip(starts, stops):
        if stop - start < min_width:
            continue
        preferred = ""
        if alphabet_matrix is not None:
            preferred = "".join(np.asarray(list(alphabet))[alphabet_matrix[start:stop].argmax(axis=1)])
        sites.append(Site(int(start), int(stop), float(imp[start:stop].mean()), preferred))
    return sorted(sites, key=lambda s: -s.score)


def reverse_complement_matrix(matrix: np.ndarray) -> np.ndarray:
    """Reverse complement of a ``(length, 4)`` matrix with columns in ACGT (or ACGU) order."""
    return np.asarray(matrix)[::-1, ::-1]


def counts_to_logodds(counts: np.ndarray, *, pseudocount: float = 0.5, background: float = 0.25) -> np.ndarray:
    """log2 odds of a count (or frequency) matrix ``(length, A)`` against a flat background.

    Examples
    --------
    >>> counts_to_logodds(np.array([[3, 1, 0, 0]]), pseudocount=0).round(2).tolist()
    [[1.58, 0.0, -inf, -inf]]
    """
    counts = np.asarray(counts, dtype=float)
    freq = (counts + pseudocount) / (counts.sum(axis=1, keepdims=True) + pseudocount * counts.shape[1])
    with np.errstate(divide="ignore"):
        return np.log2(freq / background)


@dataclass(frozen=True)
class MotifMatch:
    """Best alignment of a reference on a query: Pearson ``r`` over ``n_positions`` aligned rows.

    ``offset`` is the query position where reference row 0 (of the chosen ``strand``) lands; ``p_value``
    is the fraction of position-shuffled references scoring at least ``r`` (None if not computed).
    """

    r: float
    offset: int
    strand: str
    n_positions: int
    p_value: float | None = None


def _centre(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    with _quiet_nan():
        return m - np.nanmean(m, axis=1, keepdims=True)


def _best_alignment(q: np.ndarray, refs: Sequence[tuple[str, np.ndarray]], min_overlap: int) -> tuple[float, int, str, int]:
    best = (-np.inf, 0, "+", 0)
    lq = len(q)
    for strand, ref in refs:
        lr = len(ref)
        for offset in range(min_overlap - lr, lq - min_overlap + 1):
            q0, q1 = max(offset, 0), min(offset + lr, lq)
            a, b = q[q0:q1].ravel(), ref[q0 - offset : q1 - offset].ravel()
            ok = np.isfinite(a) & np.isfinite(b)  # NaN: a masked cell (a letter never seen there)
            a, b = a[ok], b[ok]
            if len(a) < 3 or a.std() == 0 or b.std() == 0:
                continue
            r = float(np.corrcoef(a, b)[0, 1])
            if r > best[0]:
                best = (r, offset, strand, q1 - q0)
    return best


def compare_motifs(query: np.ndarray, reference: np.ndarray, *, min_overlap: int | None = None, both_strands: bool = True, n_null: int = 0, random_state: int = 0,
                   shuffle: str = "reference") -> MotifMatch:
    """Best Pearson r between per-position-centred matrices over offsets (and strands).

    Both matrices are ``(length, 4)`` with the same orientation of meaning (higher = stronger:
    negate energy matrices first). ``min_overlap`` defaults to the shorter length (the shorter
    matrix lies fully inside the longer one). With ``n_null`` > 0, the rows of the ``shuffle``
    matrix (``"reference"`` or ``"query"``) are shuffled that many times to give an empirical
    p-value. Shuffle the query when the reference is short or of low complexity (a consensus word
    such as TATAAT: its own shuffles still look like it); cells that are NaN are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(6, 4))
    >>> query = np.vstack([rng.normal(size=(10, 4)) * 0.1, ref, rng.normal(size=(5, 4)) * 0.1])
    >>> m = compare_motifs(query, reverse_complement_matrix(ref))
    >>> m.offset, m.strand, round(m.r, 3)
    (10, '-', 1.0)
    """
    q, ref = _centre(query), _centre(reference)
    if q.shape[1] != ref.shape[1]:
        raise InputError("compare_motifs", f"query has {q.shape[1]} columns, reference {ref.shape[1]}", fix="use matrices over one alphabet")
    min_overlap = min(len(q), len(ref)) if min_overlap is None else min_overlap
    strands = [("+", ref), ("-", reverse_complement_matrix(ref))] if both_strands else [("+", ref)]
    r, offset, strand, n = _best_alignment(q, strands, min_overlap)
    p_value = None
    if n_null > 0:
        rng = np.random.default_rng(random_state)
        null = []
        if shuffle not in ("reference", "query"):
            raise InputError("compare_motifs", f"shuffle={shuffle!r}", fix="use 'reference' or 'query'")
        for _ in range(n_null):
            if shuffle == "query":
                null.append(_best_alignment(q[rng.permutation(len(q))], strands, min_overlap)[0])
                continue
            shuffled = ref[rng.permutation(len(ref))]
            s = [("+", shuffled), ("-", reverse_complement_matrix(shuffled))] if both_strands else [("+", shuffled)]
            null.append(_best_alignment(q, s, min_overlap)[0])
        p_value = float((1 + np.sum(np.asarray(null) >= r)) / (1 + n_null))
    return MotifMatch(float(r), int(offset), strand, int(n), p_value)


def seqlet_matrix(contributions: np.ndarray, onehot, *, width: int, sign: float = 1.0, top_fraction: float = 1.0,
                  max_shift: int = 3, n_iter: int = 5) -> np.ndarray:
    """A de-novo count matrix ``(width, A)`` from the best window of each sequence.

    For unaligned sequences (ChIP-seq peaks): in each sequence, the window of ``width`` with the
    largest summed contribution (times ``sign``: use -1 for the negative class of a classifier) is
    taken, from the ``top_fraction`` of sequences whose best window scores highest. The windows are
    then aligned, starting from the strongest one, by ``n_iter`` rounds in which each may shift by up
    to ``max_shift`` positions and flip strand to best match the current matrix (positions beyond
    the sequence count as N).

    Examples
    --------
    >>> x = one_hot(["TTGATCATT", "AATGATCAA"])
    >>> c = np.zeros(x.shape); c[0, 2:6] = 1; c[1, 3:7] = 1
    >>> seqlet_matrix(c, x, width=4).argmax(axis=1).tolist()  # GATC
    [2, 0, 3, 1]
    """
    x = _check_onehot(onehot)
    n, length, alphabet = x.shape
    if width > length:
        raise InputError("seqlet_matrix", f"width {width} exceeds the sequence length {length}", fix="use a smaller width")
    c = observed(contributions, x) * sign
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(c, axis=1)], axis=1)
    window = csum[:, width:] - csum[:, :-width]  # (n, L - w + 1)
    starts = window.argmax(axis=1)
    strength = window.max(axis=1)
    if top_fraction < 1.0:  # keep the sequences whose best window scores highest
        keep = np.argsort(-strength)[: max(1, int(round(top_fraction * n)))]
        x, starts, strength, n = x[keep], starts[keep], strength[keep], len(keep)
    padded = np.pad(x, ((0, 0), (max_shift, max_shift), (0, 0)))
    shifts = np.arange(2 * max_shift + 1)  # shift - max_shift in original coordinates
    idx = starts[:, None, None] + shifts[None, :, None] + np.arange(width)[None, None, :]
    windows = padded[np.arange(n)[:, None, None], idx]  # (n, S, w, A)
    candidates = np.concatenate([windows, windows[:, :, ::-1, ::-1]], axis=1)  # both strands
    # ties go to the unshifted window: a tiny penalty per position of shift
    penalty = 1e-6 * np.abs(np.r_[shifts, shifts] - max_shift)
    # first put every window on the strand of the strongest one (no shift), then refine
    seed = counts_to_logodds(windows[int(np.argmax(strength)), max_shift])
    unshifted = candidates[:, [max_shift, len(shifts) + max_shift]]
    counts = unshifted[np.arange(n), np.einsum("nswa,wa->ns", unshifted, seed).argmax(axis=1)].sum(axis=0)
    for _ in range(n_iter):
        pwm = counts_to_logodds(counts)
        scores = np.einsum("nswa,wa->ns", candidates, pwm) - penalty
        best = scores.argmax(axis=1)
        counts = candidates[np.arange(n), best].sum(axis=0)
    return counts


# ----------------------------------------------------------------------------------------------
# everything at once


@dataclass
class MotifReport:
    """What :func:`motifs_from_model` found; ``to_dict()`` is JSON-serialisable."""

    method: str
    n_sequences: int
    importance: np.ndarray | None = None
    matrix: np.ndarray | None = None
    sites: list[Site] = field(default_factory=list)
    matches: dict[str, MotifMatch] = field(default_factory=dict)
    seqlets: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self, *, decimals: int = 4) -> dict:
        out: dict = {"method": self.method, "n_sequences": self.n_sequences, "positions": "0-based, stop exclusive"}
        if self.importance is not None:
            out["importance"] = np.round(self.importance, decimals).tolist()
        if self.matrix is not None:
            out["effect_matrix"] = np.round(self.matrix, decimals).tolist()
        out["sites"] = [asdict(s) | {"score": round(s.score, decimals)} for s in self.sites]
        out["matches"] = {k: asdict(m) | {"r": round(m.r, decimals)} for k, m in self.matches.items()}
        if self.seqlets:
            out["seqlet_counts"] = {k: np.asarray(v).round(decimals).tolist() for k, v in self.seqlets.items()}
        return out


def motifs_from_model(
    model,
    sequences: Sequence[str] | np.ndarray,
    *,
    references: Mapping[str, np.ndarray] | None = None,
    aligned: bool = True,
    method: str = "ism",
    n_sequences: int | None = 1000,
    width: int = 12,
    sign: float = 1.0,
    top_fraction: float = 0.5,
    n_null: int = 200,
    alphabet: str = ALPHABETS["dna"],
    site_options: Mapping | None = None,
    target: int | None = None,
    random_state: int = 0,
) -> MotifReport:
    """Attribute ``model`` over ``sequences``, find its motifs and match them to ``references``.

    ``aligned=True`` (a promoter library, every sequence in the same frame): contributions are
    averaged per position into an effect matrix; important windows are found on its importance
    profile and each reference ``(length, A)`` matrix (higher = stronger binding) is aligned on the
    whole effect matrix, giving its position. ``aligned=False`` (e.g. ChIP-seq peaks): a de-novo
    ``width``-long count matrix is built from the best window of the ``top_fraction`` best
    sequences (``sign`` -1 for motifs that lower the score; see :func:`seqlet_matrix`) and
    references are matched to its log-odds. At most ``n_sequences``
    (drawn with ``random_state``) are attributed; ``sequences`` may be strings or a one-hot array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> seqs = ["".join(s) for s in rng.choice(list("ACGT"), size=(50, 20))]
    >>> model = lambda x: x[:, 5:9].reshape(len(x), -1) @ one_hot(["TGCA"])[0].ravel().astype("float32")
    >>> report = motifs_from_model(model, seqs, references={"toy": one_hot(["TGCA"])[0] - 0.25}, n_null=0)
    >>> [(s.start, s.stop, s.preferred) for s in report.sites], report.matches["toy"].offset
    ([(5, 9, 'TGCA')], 5)
    """
    x = sequences if isinstance(sequences, np.ndarray) and sequences.ndim == 3 else one_hot(list(sequences), alphabet=alphabet, name="sequences")
    x = _check_onehot(x)
    if n_sequences is not None and len(x) > n_sequences:
        pick = np.sort(np.random.default_rng(random_state).choice(len(x), n_sequences, replace=False))
        x = x[pick]
    contributions = attribute(model, x, method=method, target=target)
    report = MotifReport(method=method, n_sequences=len(x))
    references = dict(references or {})
    if aligned:
        report.importance = position_importance(contributions, x)
        report.matrix = effect_matrix(contributions)
        report.sites = find_sites(report.importance, alphabet_matrix=report.matrix, alphabet=alphabet, **dict(site_options or {}))
        for name, ref in references.items():
            report.matches[name] = compare_motifs(report.matrix, ref, n_null=n_null, random_state=random_state)
    else:
        counts = seqlet_matrix(contributions, x, width=width, sign=sign, top_fraction=top_fraction)
        report.seqlets["de_novo"] = counts
        logodds = counts_to_logodds(counts)
        for name, ref in references.items():
            report.matches[name] = compare_motifs(logodds, ref, n_null=n_null, random_state=random_state)
    return report


# ----------------------------------------------------------------------------------------------
# any fitted sequence model: its own predict on strings, and a differentiable view when one exists


def onehot_strings(onehot, alphabet: str, *, unknown: str = "N") -> np.ndarray:
    """The strings of a one-hot array ``(n, L, A)`` over ``alphabet`` (an all-zero row -> ``unknown``).

    Examples
    --------
    >>> onehot_strings(one_hot(["ACGN"]), "ACGT").tolist()
    ['ACGN']
    """
    x = _check_onehot(onehot)
    letters = np.frombuffer((alphabet + unknown).encode(), dtype=np.uint8)
    idx = np.where(x.max(axis=2) > 0, x.argmax(axis=2), len(alphabet))
    raw = np.ascontiguousarray(letters[idx])
    return raw.view(f"S{x.shape[1]}").ravel().astype(str) if x.shape[1] else np.full(len(x), "", dtype=object)


def sequence_scorer(estimator, alphabet: str, *, column: str = "sequence", unknown: str = "N",
                    extra: Mapping[str, object] | None = None) -> Scorer:
    """``(n, L, A) one-hot -> (n,) scores`` through the estimator's own ``predict`` on a frame of strings.

    Works for any fitted model of a sequence task (a Pipeline with its featurizer, an ensemble, a
    LightGBM on k-mers): the one-hot is decoded to strings over ``alphabet`` and put in ``column``
    (``extra`` adds constant columns). A binary classifier is scored by the log-odds of its second class.

    Examples
    --------
    >>> import pandas as pd
    >>> class GCount:
    ...     def predict(self, frame): return frame["sequence"].str.count("G").to_numpy(float)
    >>> sequence_scorer(GCount(), "ACGT")(one_hot(["GGA", "ACT"])).tolist()
    [2.0, 0.0]
    """
    import pandas as pd

    def score(x: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(x), 50_000):  # bounded memory for ISM batches
            frame = pd.DataFrame({column: onehot_strings(x[start : start + 50_000], alphabet, unknown=unknown)})
            for name, value in dict(extra or {}).items():
                frame[name] = value
            if hasattr(estimator, "predict_proba") and not hasattr(estimator, "y_mean_"):
                p = np.clip(np.asarray(estimator.predict_proba(frame))[:, 1], 1e-7, 1 - 1e-7)
                out.append(np.log(p) - np.log1p(-p))
            else:
                out.append(np.asarray(estimator.predict(frame), dtype=np.float64))
        return np.concatenate(out) if out else np.zeros(0)

    return score


def _network_members(estimator) -> list[tuple]:
    """(network, input shape, scale, offset) of each torch regressor inside ``estimator`` (a Pipeline's
    last step, a VotingRegressor's members); [] when some member is not one."""
    from sklearn.ensemble import VotingRegressor
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, VotingRegressor):
        if estimator.weights is not None:
            return []
        members = [_network_members(e) for e in estimator.estimators_]
        return [m for ms in members for m in ms] if all(members) else []
    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    inner = getattr(estimator, "estimator_", None)  # thread wrappers keep the fitted model here
    if inner is not None and hasattr(inner, "network_"):
        estimator = inner
    if not hasattr(estimator, "network_") or hasattr(estimator, "classes_"):
        return []
    theta = getattr(estimator, "theta_", None)
    shape = (len(theta),) if theta is not None else tuple(getattr(estimator, "input_shape_", ()) or ())
    if not shape:
        return []
    return [(estimator.network_, shape, float(getattr(estimator, "y_std_", 1.0)), float(getattr(estimator, "y_mean_", 0.0)))]


def torch_view(estimator, probe, alphabet: str, *, column: str = "sequence", rtol: float = 1e-3):
    """A ``torch.nn.Module`` ``(n, L, A) one-hot -> (n, 1)`` score equal to ``estimator.predict`` on the
    decoded strings, or None when the model is not a torch network on the one-hot (LightGBM, k-mers).

    The view is built from the torch regressors inside the model (a Pipeline's last step, or the mean
    of a VotingRegressor's members) and accepted only if it reproduces the model's own predictions
    on ``probe`` (one-hot rows): gradients are then gradients of the model the user fitted.
    """
    import torch
    from torch import nn

    members = _network_members(estimator)
    if not members:
        return None

    class _View(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.nets = nn.ModuleList([m[0] for m in members])
            self.shapes = [m[1] for m in members]
            self.scales = [m[2] for m in members]
            self.offsets = [m[3] for m in members]

        def forward(self, x):
            outs = [net(x.reshape(len(x), *shape))[:, :1] * scale + offset
                    for net, shape, scale, offset in zip(self.nets, self.shapes, self.scales, self.offsets)]
            return torch.stack(outs).mean(dim=0)

    view = _View()
    x = _check_onehot(probe)
    try:
        mine = _torch_scorer(view)(x)
    except RuntimeError:  # shapes do not fit: not a network on this one-hot
        return None
    theirs = sequence_scorer(estimator, alphabet, column=column)(x)
    scale = max(float(np.std(theirs)), 1e-6)
    return view if np.allclose(mine, theirs, rtol=rtol, atol=rtol * scale) else None


def randomisation_cascade(network, probe=None) -> list[tuple[str, object]]:
    """Cascading model-parameter randomisation (Adebayo et al. 2018): copies of ``network`` with its
    top 1, 2, ... parameterised layers re-initialised (from the output down), as ``(layer, copy)``.

    Layers are the modules holding parameters of their own, ordered by when their forward pass
    ends on ``probe`` (an input batch; without it, the order they were registered in): the module
    that finishes last is the top one. A layer is re-initialised by its own ``reset_parameters``
    (PyTorch's default initialisation) or, without one, by normal draws with its parameters' spread;
    seeded. In an ensemble view (a ``nets`` ModuleList, see :func:`torch_view`) step k re-initialises
    the top k layers of every member. The original is not touched.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> [name for name, _ in randomisation_cascade(net)]
    ['1.2', '2.0']
    """
    import copy

    import torch
    from torch import nn

    def members(net) -> list:  # an ensemble view (torch_view of a VotingRegressor) keeps its members in ``nets``
        return list(net.nets) if isinstance(getattr(net, "nets", None), nn.ModuleList) else [net]

    def layers(member) -> list[str]:
        """Parameterised modules of ``member``, output first."""
        names = {module: name for name, module in member.named_modules() if any(True for _ in module.parameters(recurse=False))}
        order = list(names.values())
        if probe is not None:
            finished: list[str] = []
            hooks = [module.register_forward_hook(lambda m, i, o, n=name: finished.append(n)) for module, name in names.items()]
            try:
                with torch.no_grad(), _eval_mode(network):
                    network(torch.as_tensor(np.asarray(probe, dtype=np.float32)))
            finally:
                for hook in hooks:
                    hook.remove()
            order = list(dict.fromkeys(finished)) + [n for n in order if n not in finished]
        return order[::-1]

    def reset(module, seed: int) -> None:
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
            return
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for param in module.parameters(recurse=False):
                spread = float(param.std()) if param.numel() > 1 and float(param.std()) > 0 else 1.0
                param.copy_(torch.randn(param.shape, generator=generator) * spread)

    per_member = [layers(m) for m in members(network)]
    out = []
    for depth in range(1, max(map(len, per_member)) + 1):
        clone = copy.deepcopy(network)
        torch.manual_seed(depth)
        for member, names in zip(members(clone), per_member):
            modules = dict(member.named_modules())
            for k, name in enumerate(names[:depth]):  # the same depth in every member of an ensemble
                reset(modules[name], depth * 1000 + k)
        label = (per_member[0][depth - 1] or "root") if depth <= len(per_member[0]) else "all"
        out.append((f"{depth}.{label}", clone))
    return out


# ----------------------------------------------------------------------------------------------
# seqlets -> motifs (a small TF-MoDISco-like step: modisco-lite is not in the environment)


@dataclass(frozen=True)
class Seqlet:
    """A window ``[start, stop)`` of sequence ``row`` with a high summed |contribution| (``score``)."""

    row: int
    start: int
    stop: int
    score: float


def find_seqlets(contributions: np.ndarray, onehot, *, width: int = 10, max_per_sequence: int = 3,
                 threshold: float | None = None) -> list[Seqlet]:
    """Peaks of |observed-base contribution| summed over a ``width`` window, up to ``max_per_sequence``
    non-overlapping ones per sequence, strongest first.

    The default ``threshold`` is Otsu's cut on the log of all window sums (as :func:`find_sites`):
    windows split into background and signal without assuming how many seqlets there are.

    Examples
    --------
    >>> x = one_hot(["ACGTACGTACGTACGTACGT"])
    >>> c = np.zeros((1, 20, 4)); c[0, 5:9] = 1.0
    >>> [(s.start, s.stop) for s in find_seqlets(c * x, x, width=4)]
    [(5, 9)]
    """
    x = _check_onehot(onehot)
    n, length, _ = x.shape
    width = min(width, length)
    a = np.abs(observed(contributions, x))
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(a, axis=1)], axis=1)
    window = csum[:, width:] - csum[:, :-width]  # (n, L - w + 1)
    if threshold is None:
        flat = window.ravel()
        if not (flat > 0).any():
            return []
        eps = 1e-3 * flat.max()
        threshold = float(np.exp(otsu_threshold(np.log(np.maximum(flat, 0) + eps)))) - eps
    window = window.copy()
    found = []
    rows = np.arange(n)
    for _ in range(max_per_sequence):
        best = window.argmax(axis=1)
        value = window[rows, best]
        for i in np.flatnonzero(value > threshold):
            found.append(Seqlet(int(i), int(best[i]), int(best[i] + width), float(value[i])))
        lo = np.maximum(best - width + 1, 0)
        hi = np.minimum(best + width, window.shape[1])
        cols = np.arange(window.shape[1])
        window[(cols[None] >= lo[:, None]) & (cols[None] < hi[:, None])] = -np.inf
    return sorted(found, key=lambda s: -s.score)


@dataclass
class SeqletMotif:
    """One cluster of aligned seqlets: ``cwm`` (mean contribution per position and letter, the
    model's preference: higher raises the score), ``counts`` (letters of the aligned seqlets),
    ``members`` (row, start, strand) and ``score`` (summed seqlet scores)."""

    cwm: np.ndarray
    counts: np.ndarray
    members: list[tuple[int, int, str]]
    score: float

    @property
    def consensus_index(self) -> np.ndarray:
        return np.asarray(self.cwm).argmax(axis=1)


def _windows(values: np.ndarray, seqlets: Sequence[Seqlet], width: int, pad: int) -> np.ndarray:
    """(m, width + 2 pad, A) windows around each seqlet start (zero beyond the sequence)."""
    padded = np.pad(values, ((0, 0), (pad, pad), (0, 0)))
    rows = np.array([s.row for s in seqlets])
    starts = np.array([s.start for s in seqlets])
    idx = starts[:, None] + np.arange(width + 2 * pad)[None, :]
    return padded[rows[:, None], idx]


def _pearson_rows(seed: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Pearson r of a flat ``seed`` with each row of ``candidates`` (0 where either is constant)."""
    a = seed - seed.mean()
    b = candidates - candidates.mean(axis=1, keepdims=True)
    den = np.sqrt((a**2).sum() * (b**2).sum(axis=1))
    return np.where(den > 0, b @ a / np.where(den > 0, den, 1.0), 0.0)


def cluster_seqlets(seqlets: Sequence[Seqlet], contributions: np.ndarray, onehot, *, max_shift: int = 3,
                    both_strands: bool = True, min_similarity: float = 0.6, min_size: int = 5,
                    max_clusters: int = 8) -> list[SeqletMotif]:
    """Greedy seed-and-grow clustering of seqlets by their contribution patterns.

    The strongest unassigned seqlet seeds a cluster; every unassigned seqlet joins it when its
    window (shifted by up to ``max_shift`` and, with ``both_strands``, reverse-complemented)
    correlates with the seed's pattern at ``min_similarity`` or more; the seed is then replaced by the
    members' mean pattern and membership is recomputed once. Clusters smaller than ``min_size`` are
    dropped (their seqlets stay unassigned). Hand-written (a few numpy lines) because TF-MoDISco
    (modisco-lite) is not among the project's dependencies.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(40)]
    >>> seqs = [s[:10] + "TTGACA" + s[16:] for s in seqs]
    >>> x = one_hot(seqs); c = np.zeros(x.shape); c[:, 10:16] = one_hot(["TTGACA"])[0] - 0.25
    >>> motifs = cluster_seqlets(find_seqlets(c, x, width=6), c, x)
    >>> len(motifs), "".join(np.array(list("ACGT"))[motifs[0].consensus_index])
    (1, 'TTGACA')
    """
    x = _check_onehot(onehot)
    seqlets = list(seqlets)
    if not seqlets:
        return []
    width = seqlets[0].stop - seqlets[0].start
    hyp = np.nan_to_num(np.asarray(contributions, dtype=np.float64))
    win_c = _windows(hyp, seqlets, width, max_shift)  # (m, w + 2s, A)
    win_x = _windows(x.astype(np.float64), seqlets, width, max_shift)
    shifts = np.arange(2 * max_shift + 1)
    # every candidate placement: (m, S * strands, w, A)
    cand_c = np.stack([win_c[:, s : s + width] for s in shifts], axis=1)
    cand_x = np.stack([win_x[:, s : s + width] for s in shifts], axis=1)
    strands = ["+"] * len(shifts)
    if both_strands:
        cand_c = np.concatenate([cand_c, cand_c[:, :, ::-1, ::-1]], axis=1)
        cand_x = np.concatenate([cand_x, cand_x[:, :, ::-1, ::-1]], axis=1)
        strands += ["-"] * len(shifts)
    flat = cand_c.reshape(len(seqlets), len(strands), -1)
    penalty = 1e-6 * np.abs(np.r_[shifts, shifts][: len(strands)] - max_shift)  # ties: the unshifted window
    free = np.ones(len(seqlets), dtype=bool)
    scores = np.array([s.score for s in seqlets])
    motifs: list[SeqletMotif] = []
    while free.any() and len(motifs) < max_clusters:
        seed_i = int(np.flatnonzero(free)[np.argmax(scores[free])])
        pattern = cand_c[seed_i, max_shift].ravel()
        for _ in range(2):
            r = np.stack([_pearson_rows(pattern, flat[:, k]) for k in range(len(strands))], axis=1) - penalty
            best = r.argmax(axis=1)
            members = np.flatnonzero(free & (r[np.arange(len(seqlets)), best] >= min_similarity))
            members = np.union1d(members, [seed_i])
            pattern = cand_c[members, best[members]].mean(axis=0).ravel()
        free[seed_i] = False
        if len(members) < min_size:
            continue
        free[members] = False
        motifs.append(SeqletMotif(
            cwm=cand_c[members, best[members]].mean(axis=0), counts=cand_x[members, best[members]].sum(axis=0),
            members=[(seqlets[i].row, seqlets[i].start + int(shifts[best[i] % len(shifts)]) - max_shift, strands[best[i]])
                     for i in members],
            score=float(scores[members].sum())))
    return sorted(motifs, key=lambda m: -m.score)
