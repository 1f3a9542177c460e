"""Image patches at spots, and the colour/texture features of a patch.

A patch is the square of ``PATCH_SCALE`` spot diameters around a spot centre, resampled to
``PATCH_PIXELS`` x ``PATCH_PIXELS`` RGB (uint8, channels last): the same tissue area whatever the
image's resolution, so a model trained on one slide reads another's patches at its own scale. With
1.3 diameters (116 px on the default slide) the patches of two neighbouring Visium spots share no
pixel: on the hexagonal grid (100 um between centres, spot 55 um) neighbours are >= 1.35 spot
diameters apart along one axis.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["PATCH_SCALE", "PATCH_PIXELS", "cut_patches", "patch_features", "FEATURE_NAMES"]

PATCH_SCALE = 1.3
PATCH_PIXELS = 64

# Ruifrok & Johnston (2001) optical densities of haematoxylin, eosin and DAB (rows; the matrix
# scikit-image's rgb2hed inverts). scikit-image is not a dependency: the separation is one product.
_RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
_HED_FROM_RGB = np.linalg.inv(_RGB_FROM_HED / np.linalg.norm(_RGB_FROM_HED, axis=1, keepdims=True))
_GLCM_OFFSETS = ((0, 1), (1, 0), (0, 3), (3, 0))
_GLCM_LEVELS = 8
NUCLEUS_OD = 1.5  # haematoxylin optical density above which a pixel counts as nuclear (~ the darkest tenth here)


def cut_patches(image: np.ndarray, centres: np.ndarray, *, side: float, pixels: int = PATCH_PIXELS) -> np.ndarray:
    """Square patches of ``side`` image pixels centred at ``centres`` ((n, 2): x = column, y = row),
    each resampled to ``pixels`` x ``pixels`` (antialiased bilinear): uint8 ``(n, pixels, pixels, 3)``.

    Pixels beyond the image repeat its nearest edge pixel (a spot at the border keeps its size and
    its centre; the padding is the tissue or glass next to it, never black).

    Examples
    --------
    >>> image = np.zeros((10, 20, 3), np.uint8); image[:, 10:] = 200  # left half black, right half grey
    >>> p = cut_patches(image, np.array([[19.0, 0.0], [2.0, 5.0]]), side=4, pixels=4)
    >>> p.shape, int(p[0].min()), int(p[1].max())  # the corner spot is padded with its edge: still grey
    ((2, 4, 4, 3), 200, 0)
    """
    from PIL import Image

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (height, width, 3), got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    size = max(1, int(round(side)))
    out = np.empty((len(centres), pixels, pixels, 3), dtype=np.uint8)
    for i, (x, y) in enumerate(np.asarray(centres, dtype=np.float64)):
        left, top = int(round(x - size / 2)), int(round(y - size / 2))
        rows = np.clip(np.arange(top, top + size), 0, height - 1)  # clipping the indices repeats the edge
        cols = np.clip(np.arange(left, left + size), 0, width - 1)
        crop = image[rows[:, None], cols[None, :]]
        out[i] = np.asarray(Image.fromarray(crop).resize((pixels, pixels), Image.Resampling.BILINEAR))
    return out


def _glcm_stats(grey: np.ndarray) -> list[float]:
    """Grey-level co-occurrence contrast, homogeneity and energy at four offsets (Haralick 1973).

    Hand-written because scikit-image (``graycomatrix``) is not a dependency: 8 grey levels and a
    ``bincount`` per offset are all it takes.
    """
    q = np.minimum((grey * _GLCM_LEVELS).astype(np.int64), _GLCM_LEVELS - 1)
    i, j = np.indices((_GLCM_LEVELS, _GLCM_LEVELS))
    out = []
    for dy, dx in _GLCM_OFFSETS:
        a, b = q[: q.shape[0] - dy, : q.shape[1] - dx].ravel(), q[dy:, dx:].ravel()
        counts = np.bincount(a * _GLCM_LEVELS + b, minlength=_GLCM_LEVELS**2).reshape(_GLCM_LEVELS, _GLCM_LEVELS)
        P = (counts + counts.T).astype(np.float64)  # symmetric: a pair counts in both directions
        P /= P.sum()
        out += [float((P * (i - j) ** 2).sum()), float((P / (1.0 + np.abs(i - j))).sum()), float((P**2).sum())]
    return out


@lru_cache(maxsize=8192)
def _features_of(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """One patch's features, memoised by its bytes: cross-validation featurises each patch once, not
    once per fold (the fold loop refits the pipeline on the same patches)."""
    return _one(np.frombuffer(data, dtype=np.uint8).reshape(shape))


def _one(patch: np.ndarray) -> np.ndarray:
    from matplotlib.colors import rgb_to_hsv

    rgb = patch.astype(np.float64) / 255.0
    flat = rgb.reshape(-1, 3)
    hed = -np.log(np.clip(flat, 1.0 / 255.0, 1.0)) @ _HED_FROM_RGB  # optical density -> stain amounts
    nuclear = hed[:, 0].reshape(rgb.shape[:2]) > NUCLEUS_OD
    blobs, n_blobs = ndimage.label(ndimage.binary_opening(nuclear))
    sizes = np.bincount(blobs.ravel())[1:]
    hsv = rgb_to_hsv(rgb).reshape(-1, 3)
    grey = rgb.mean(axis=2)
    gradient = np.hypot(ndimage.sobel(grey, axis=0), ndimage.sobel(grey, axis=1))
    parts = [
        flat.mean(axis=0), flat.std(axis=0), np.percentile(flat, [10, 50, 90], axis=0).ravel(),
        hed.mean(axis=0), hed.std(axis=0), np.percentile(hed[:, 0], [50, 90]),
        *(np.histogram(hsv[:, c], bins=8, range=(0.0, 1.0))[0] / len(hsv) for c in range(3)),
        [gradient.mean(), gradient.std(), float((gradient > 0.3).mean())],
        [n_blobs, nuclear.mean(), sizes.mean() if n_blobs else 0.0, sizes.std() if n_blobs else 0.0],
        _glcm_stats(grey),
    ]
    return np.concatenate([np.ravel(p) for p in parts]).astype(np.float64)


FEATURE_NAMES = (
    [f"{s}_{c}" for s in ("mean", "std") for c in "rgb"] + [f"p{q}_{c}" for q in (10, 50, 90) for c in "rgb"]
    + [f"{s}_{c}" for s in ("od_mean", "od_std") for c in ("haematoxylin", "eosin", "dab")]
    + ["haematoxylin_p50", "haematoxylin_p90"]
    + [f"{c}_hist{b}" for c in ("hue", "saturation", "value") for b in range(8)]
    + ["gradient_mean", "gradient_std", "edge_fraction", "nuclei", "nuclear_fraction", "nucleus_size_mean", "nucleus_size_std"]
    + [f"glcm_{s}_d{dy}{dx}" for dy, dx in _GLCM_OFFSETS for s in ("contrast", "homogeneity", "energy")]
)


def patch_features(patches: np.ndarray) -> np.ndarray:
    """Colour and texture of each patch ``(n, h, w, 3)`` uint8: ``(n, len(FEATURE_NAMES))`` float64.

    RGB means, spreads and percentiles; haematoxylin / eosin / DAB optical densities (colour
    deconvolution); hue, saturation and value histograms; Sobel gradient statistics; nucleus-like
    blobs (haematoxylin above ``NUCLEUS_OD``: count, area fraction, size); grey-level co-occurrence
    contrast, homogeneity and energy at distances 1 and 3.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = patch_features(rng.integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8))
    >>> X.shape == (2, len(FEATURE_NAMES)), bool(np.isfinite(X).all())
    (True, True)
    """
    patches = np.asarray(patches)
    if patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"patches must be (n, height, width, 3), got shape {patches.shape}")
    if patches.dtype != np.uint8:
        patches = np.clip(np.rint(patches), 0, 255).astype(np.uint8)
    if not len(patches):
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.vstack([_features_of(np.ascontiguousarray(p).tobytes(), p.shape) for p in patches])
