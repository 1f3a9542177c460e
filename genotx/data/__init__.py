"""Data layer: the cache, declared sources and validating file readers."""

from genotx.data.source import SOURCES, Source, PackageFile, declare, fetch, source_files, source_sha256, use_local

__all__ = ["SOURCES", "Source", "PackageFile", "declare", "fetch", "source_files", "source_sha256", "use_local"]
from genotx.data import sources as _sources  # noqa: E402,F401  (registers every declared source)
