"""Process settings in one place (as ``scanpy.settings``): threads and the cache folder.

Importing genotx changes nothing in the process. The ``genotx`` command sets
``OMP_WAIT_POLICY=PASSIVE`` for itself before any numeric library starts (idle OpenMP threads spin
by default, which on a small shared machine made torch about 10x slower); in your own process call
:meth:`Settings.passive_threads` before importing torch, or set the variable yourself.

Examples
--------
>>> from genotx.settings import settings
>>> settings.cache_dir.name in ("genotx",) or settings.cache_dir.exists()
True
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings"]


@dataclass
class Settings:
    """``n_jobs``: worker threads estimators may use (default ``$GENOTX_N_JOBS`` or 1);
    ``cache_dir``: ``$GENOTX_HOME`` or ``~/.cache/genotx`` (data, featurized arrays, fitted models)."""

    n_jobs: int = int(os.environ.get("GENOTX_N_JOBS", "1"))

    @property
    def cache_dir(self) -> Path:
        return Path(os.environ.get("GENOTX_HOME", Path.home() / ".cache" / "genotx")).expanduser()

    @cache_dir.setter
    def cache_dir(self, path: str | os.PathLike) -> None:
        os.environ["GENOTX_HOME"] = str(Path(path).expanduser())

    @staticmethod
    def passive_threads() -> None:
        """Ask OpenMP to sleep, not spin, when idle (takes effect only before torch/BLAS start)."""
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    @staticmethod
    @contextmanager
    def limit_threads(n_threads: int = 1) -> Iterator[None]:
        """BLAS/OpenMP pools and torch's intra-op threads limited inside the block, restored after.

        Examples
        --------
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with settings.limit_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
        """
        from threadpoolctl import threadpool_limits

        try:
            import torch
        except ImportError:  # pragma: no cover - torch is a dependency
            torch = None
        before = torch.get_num_threads() if torch is not None else None
        with threadpool_limits(limits=n_threads):
            if torch is not None:
                torch.set_num_threads(n_threads)
            try:
                yield
            finally:
                if torch is not None:
                    torch.set_num_threads(before)


settings = Settings()
