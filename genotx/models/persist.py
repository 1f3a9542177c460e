"""Fitted models on disk: saved without pickling where possible, and never loaded unless this user's genotx wrote them.

A model file could be swapped by anyone who can write the cache folder (a shared ``GENOTX_HOME``, a
copied cache, a planted file), and unpickling a swapped file runs its code. So:

* :func:`save_model` writes the estimator with **skops** (``skops.io.dump``) when every type it holds
  is a genotx, scikit-learn, LightGBM, scikit-survival, NumPy or SciPy type (:data:`TRUSTED_ROOTS`);
  torch networks inside genotx estimators are stored as ``torch.save(state_dict)`` bytes and read back
  with ``torch.load(weights_only=True)`` (:class:`genotx.models.nets.WeightsState`). An estimator
  skops cannot store (one holding pandas objects, or a task's own torch module) is written with
  joblib instead;
* either way a signature is written beside it: an HMAC-SHA256 of the file's name and bytes under a
  secret key kept OUTSIDE the cache (:func:`model_key`, ``~/.config/genotx/model.key``, mode 0600).
  A file whose signature does not verify (a flipped byte, a truncation, a planted or copied file, a
  signature copied from another model) is never opened: :func:`load_model` returns ``None`` and the
  caller retrains;
* a skops file is loaded with ``trusted=`` limited to the types skops reports that fall under
  :data:`TRUSTED_ROOTS`; any other type refuses the file, even when its signature verifies.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import tempfile
from pathlib import Path

from genotx.data.cache import atomic_path, sha256_file

__all__ = ["save_model", "load_model", "model_key", "TRUSTED_ROOTS", "SUFFIXES"]

log = logging.getLogger(__name__)

#: module roots whose types a skops model file may name (anything else refuses the file)
TRUSTED_ROOTS = ("genotx", "sklearn", "lightgbm", "sksurv", "numpy", "scipy")
#: single types outside those roots that fitted estimators hold (parameters, ordered state dicts)
TRUSTED_TYPES = ("functools.partial", "collections.OrderedDict", "builtins.slice")
SUFFIXES = (".skops", ".joblib")
_SIGNATURE = ".sig"


def _key_file() -> Path:
    configured = os.environ.get("GENOTX_MODEL_KEY")
    if configured:
        return Path(configured).expanduser()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "genotx" / "model.key"


@functools.lru_cache(maxsize=4)
def _key_at(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".model.key.", dir=path.parent)  # mode 0600
        try:
            os.write(fd, secrets.token_bytes(32))
            os.close(fd)
            try:  # a link, not a rename: a key another process made meanwhile is kept, never replaced
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        return path.read_bytes()
    except OSError as error:  # e.g. a read-only home: models are then reused within this process only
        log.warning("cannot keep a model key at %s (%s); fitted models will be retrained in each new process", path, error)
        return secrets.token_bytes(32)


def model_key() -> bytes:
    """This user's secret key for model signatures (``$GENOTX_MODEL_KEY`` names another key file),
    created on first use (32 random bytes, readable by the user only)."""
    return _key_at(_key_file())


def _signature(path: Path) -> str:
    digest = sha256_file(path)  # the whole file, every time: a flipped byte with size and mtime kept changes it
    message = b"genotx-model-v1\0" + path.name.encode() + b"\0" + digest.encode()
    return hmac.new(model_key(), message, hashlib.sha256).hexdigest()


def _trusted(name: str) -> bool:
    return name in TRUSTED_TYPES or name.split(".", 1)[0] in TRUSTED_ROOTS


def save_model(estimator, stem: str | os.PathLike) -> Path | None:
    """Write ``estimator`` as ``<stem>.skops`` (or ``<stem>.joblib`` when skops cannot hold it) plus its
    signature; an older file of the other format is removed. Returns the model file's path, or ``None``
    when neither can store it (a lambda inside): it is then not cached, and is fitted again next time.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.linear_model import LinearRegression
    >>> stem = pathlib.Path(tempfile.mkdtemp()) / "line"
    >>> save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0]), stem).name
    'line.skops'
    >>> load_model(stem).coef_.round(3).tolist()
    [2.0]
    """
    import skops.io

    stem = Path(stem)
    path = stem.with_name(stem.name + ".skops")
    try:
        blob = skops.io.dumps(estimator)
        untrusted = [t for t in skops.io.get_untrusted_types(data=blob) if not _trusted(t)]
    except Exception as error:  # noqa: BLE001 - any type skops cannot store: fall back to a signed joblib file
        blob, untrusted = None, [f"{type(error).__name__}: {error}"]
    if blob is None or untrusted:
        import joblib

        log.info("model %s is stored with joblib (skops: %s); loaded only after its signature verifies", stem.name, untrusted[:3])
        path = stem.with_name(stem.name + ".joblib")
        try:
            with atomic_path(path) as tmp:
                joblib.dump(estimator, tmp)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            log.warning("model %s cannot be cached (%s); it will be fitted again next time", stem.name, error)
            return None
    else:
        with atomic_path(path) as tmp:
            tmp.write_bytes(blob)
    with atomic_path(path.with_name(path.name + _SIGNATURE)) as tmp:
        tmp.write_text(_signature(path) + "\n")
    for other in SUFFIXES:
        stale = stem.with_name(stem.name + other)
        if stale != path:
            stale.unlink(missing_ok=True)
            stale.with_name(stale.name + _SIGNATURE).unlink(missing_ok=True)
    return path


def load_model(stem: str | os.PathLike):
    """The estimator saved at ``stem`` by :func:`save_model`, or ``None`` when there is none or it
    cannot be trusted (no signature, a signature that does not verify, an untrusted skops type)."""
    stem = Path(stem)
    for suffix in SUFFIXES:
        path = stem.with_name(stem.name + suffix)
        if not path.exists():
            continue
        signature = path.with_name(path.name + _SIGNATURE)
        try:
            recorded = signature.read_text().strip()
        except OSError:
            log.warning("model %s has no signature; it is not opened and will be retrained", path)
            continue
        if not hmac.compare_digest(recorded, _signature(path)):
            log.warning("model %s does not match its signature (damaged, or not written by this user's genotx); "
                        "it is not opened and will be retrained", path)
            continue
        try:
            return _read(path)
        except Exception as error:  # noqa: BLE001 - an unreadable entry is retrained, never trusted
            log.warning("model %s cannot be read (%s: %s); it will be retrained", path, type(error).__name__, error)
    return None


def _read(path: Path):
    if path.suffix == ".joblib":
        import joblib

        return joblib.load(path)  # signed by this user's key just above: written by genotx, not swapped
    import skops.io

    types = skops.io.get_untrusted_types(file=path)
    foreign = [t for t in types if not _trusted(t)]
    if foreign:
        raise ValueError(f"it names types outside genotx's trusted libraries: {foreign[:5]}")
    return skops.io.load(path, trusted=types)
