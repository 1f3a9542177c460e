"""The cache folder: hashing, atomic writes, safe extraction, and a content-hash array cache.

The cache lives in ``$GENOTX_HOME`` (default ``~/.cache/genotx``). Nothing is ever half-written:
every file is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath

import numpy as np

from genotx.errors import InputError

__all__ = [
    "genotx_home",
    "sha256_file",
    "sha256_bytes",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "extract_members",
    "cached_array",
    "file_lock",
]

log = logging.getLogger(__name__)


def genotx_home() -> Path:
    """The cache root: ``$GENOTX_HOME`` or ``~/.cache/genotx``, created on first use."""
    root = Path(os.environ.get("GENOTX_HOME", Path.home() / ".cache" / "genotx")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes.

    Examples
    --------
    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; cached data is meant to be shared
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


#: the largest archive member genotx extracts (the largest declared source file is ~350 MB)
MAX_MEMBER_BYTES = 2 << 30


def _safe_relative(member: str, archive: str | os.PathLike) -> PurePosixPath:
    """Refuse absolute paths and '..' so that extraction cannot escape the cache."""
    rel = PurePosixPath(member)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise InputError(
            str(archive),
            f"archive member {member!r} would be written outside the cache",
            fix="this archive is unsafe; do not use it",
        )
    return rel


def _read_deb_data_tar(archive: Path) -> tarfile.TarFile:
    """Open the ``data.tar.*`` inside a Debian ``.deb`` (an ``ar`` archive) without dpkg, as a stream:
    members are decompressed as they are read, never the whole payload at once."""
    raw = archive.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise InputError(str(archive), "not a Debian package (no ar header)", fix="re-fetch it")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        try:
            name = header[:16].decode("ascii").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise InputError(str(archive), f"damaged ar header at byte {pos}", fix="re-fetch it") from None
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                import zstandard  # optional: only zstd-compressed debs need it

                return tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)), mode="r|")
            return tarfile.open(fileobj=io.BytesIO(body), mode="r|*")
        pos += 60 + size + (size % 2)
    raise InputError(str(archive), "Debian package has no data.tar member", fix="re-fetch it")


def _member_name(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _read_limited(stream, limit: int, archive: Path, member: str) -> bytes:
    """At most ``limit`` bytes of a member: a header that understates the size cannot expand past it."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(str(archive), f"member {member!r} expands past {limit} bytes", fix="this archive is unsafe; do not use it")
    return data


def extract_members(
    archive: str | os.PathLike, members: Mapping[str, str], dest: str | os.PathLike
) -> dict[str, Path]:
    """Extract only ``members`` ({name: path inside archive}) of a wheel, sdist or .deb into ``dest``.

    Each file is written atomically as ``dest/<basename of member>``; returns {name: path}. Refused
    (:class:`~genotx.errors.InputError`, nothing written): an archive holding any absolute or ``..``
    path; a wanted member that is a symbolic or hard link, a device or a folder; a member expanding
    past :data:`MAX_MEMBER_BYTES` (whatever its header says); a damaged archive.
    """
    archive, dest = Path(archive), Path(dest)
    wanted = {_member_name(_safe_relative(m, archive).as_posix()): name for name, m in members.items()}
    found: dict[str, bytes] = {}

    def _take(member: str, kind: str | None, size: int, read: Callable[[], bytes]) -> None:
        if member.rstrip("/") not in ("", "."):  # a .deb's tar starts with its root folder "./"
            _safe_relative(member, archive)  # any entry escaping the folder makes the whole archive unsafe
        key = _member_name(member)
        if key not in wanted:
            return
        if kind is not None:
            raise InputError(str(archive), f"member {member!r} is a {kind}, not a file", fix="this archive is unsafe; do not use it")
        if size > MAX_MEMBER_BYTES:  # no decompression bomb: a declared member has a plausible size
            raise InputError(str(archive), f"member {member!r} would expand to {size} bytes", fix="this archive is unsafe; do not use it")
        found[key] = read()

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    mode = info.external_attr >> 16
                    kind = "symbolic link" if stat.S_ISLNK(mode) else "folder" if info.is_dir() else None
                    _take(info.filename, kind, info.file_size,
                          lambda info=info: _read_limited(zf.open(info), MAX_MEMBER_BYTES, archive, info.filename))
        else:
            tar = _read_deb_data_tar(archive) if archive.suffix == ".deb" else tarfile.open(archive, mode="r|*")
            with tar:
                for info in tar:
                    kind = (None if info.isfile() else "symbolic link" if info.issym() else "hard link" if info.islnk()
                            else "folder" if info.isdir() else "device or special file")
                    _take(info.name, kind, info.size,
                          lambda info=info: _read_limited(tar.extractfile(info), MAX_MEMBER_BYTES, archive, info.name))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise InputError(str(archive), f"is a damaged archive ({type(error).__name__}: {error})", fix="fetch it again") from None
    missing = set(wanted) - set(found)
    if missing:
        raise InputError(
            str(archive),
            f"members not found: {sorted(members[wanted[m]] for m in missing)}",
            fix="check the member paths declared for this source",
        )
    return {wanted[key]: atomic_write_bytes(dest / PurePosixPath(key).name, data) for key, data in found.items()}


def cached_array(key_parts: tuple, compute: Callable[[], np.ndarray], *, folder: str = "features") -> np.ndarray:
    """Return ``compute()``, cached on disk under the sha256 of ``key_parts`` (content, not names).

    ``key_parts`` should hold the inputs' content hashes and the featurizer's parameters.
    """
    key = sha256_bytes(repr(key_parts).encode())[:32]
    path = genotx_home() / folder / f"{key}.npy"
    cached = _verified_array(path)
    if cached is not None:
        return cached
    with file_lock(path.with_suffix(".lock")):  # two processes: one computes, the other reads its file
        cached = _verified_array(path)
        if cached is not None:
            return cached
        array = compute()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array, allow_pickle=False)
            digest = sha256_file(tmp)
        atomic_write_text(path.with_suffix(".sha256"), digest + "\n")
    return array


def _verified_array(path: Path) -> np.ndarray | None:
    """The cached array if its bytes match the recorded sha256 (hashed in full at every read)."""
    stamp = path.with_suffix(".sha256")
    if not path.exists():
        return None
    try:  # the recorded hash of the bytes must match: a flipped byte is recomputed, never trusted
        if stamp.read_text().strip() == sha256_file(path):
            return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        pass
    log.warning("cached array %s is damaged; recomputing it", path.name)
    return None


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """An exclusive advisory lock (``fcntl.flock``) on ``path`` for the block: processes sharing a cache
    folder take turns computing one entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with file_lock(pathlib.Path(tempfile.mkdtemp()) / "x.lock"):
    ...     pass
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
